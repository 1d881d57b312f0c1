"""The monthly partition set's plain rules: keys, which months may land, ranges over the stored
order, and the dbt date window of a run's partitions."""

import datetime as dt

import dagster as dg
import pytest

from assets.partitions import (
    add_month_partitions,
    contiguous_ranges,
    landable_months,
    month_window,
    new_partition_keys,
)
from flightline.months import month_of, partition_key


def test_keys_and_months_round_trip():
    assert partition_key("2014-03") == "2014-03-01"
    assert month_of(partition_key("2014-03")) == "2014-03"


def test_a_month_may_land_once_it_has_ended():
    mid_june = dt.datetime(2014, 6, 15, 12, tzinfo=dt.UTC).timestamp()
    assert landable_months(mid_june) == ("2013-01", "2014-05")
    first_of_january = dt.datetime(2015, 1, 1, tzinfo=dt.UTC).timestamp()
    assert landable_months(first_of_january) == ("2013-01", "2014-12")


def test_only_new_months_are_added_in_calendar_order():
    existing = ["2013-01-01", "2013-02-01"]
    assert new_partition_keys(existing, ["2013-04", "2013-02", "2013-03", "2013-04"]) == [
        "2013-03-01",
        "2013-04-01",
    ]
    assert new_partition_keys(existing, ["2013-01"]) == []


def test_the_instance_gets_each_month_once():
    with dg.instance_for_test() as instance:
        assert add_month_partitions(instance, ["2013-02", "2013-01"]) == [
            "2013-01-01",
            "2013-02-01",
        ]
        assert add_month_partitions(instance, ["2013-02", "2013-03"]) == ["2013-03-01"]
        assert instance.get_dynamic_partitions("months") == [
            "2013-01-01",
            "2013-02-01",
            "2013-03-01",
        ]


def test_ranges_follow_the_stored_order_and_cover_exactly_the_wanted_keys():
    ordered = ["2013-01-01", "2013-02-01", "2013-04-01", "2013-03-01"]  # March landed late
    assert contiguous_ranges(ordered, ordered) == [("2013-01-01", "2013-03-01")]
    assert contiguous_ranges(ordered, ["2013-01-01", "2013-02-01", "2013-03-01"]) == [
        ("2013-01-01", "2013-02-01"),
        ("2013-03-01", "2013-03-01"),
    ]
    with pytest.raises(ValueError, match="no partition for 2013-05-01"):
        contiguous_ranges(ordered, ["2013-05-01"])


def test_the_dbt_window_spans_the_first_to_the_day_after_the_last_month():
    assert month_window(["2013-03-01", "2013-01-01"]) == ("2013-01-01", "2013-04-01")
    assert month_window(["2013-12-01"]) == ("2013-12-01", "2014-01-01")
