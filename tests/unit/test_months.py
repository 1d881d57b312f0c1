"""Months: keys, steps, ranges, partition keys and month specs."""

from datetime import date

import pytest

from flightline.months import (
    first_day,
    month_of,
    month_range,
    months_reached,
    next_month,
    parse_month,
    parse_month_spec,
    partition_key,
    previous_month,
    shift_month,
)


def test_parse_month_rejects_bad_values():
    assert parse_month("2013-07") == (2013, 7)
    for bad in ["2013-13", "2013-1", "13-01", "2013/01", ""]:
        with pytest.raises(ValueError, match="invalid month"):
            parse_month(bad)


def test_month_range_crosses_years_and_rejects_reversed():
    assert month_range("2013-11", "2014-02") == ["2013-11", "2013-12", "2014-01", "2014-02"]
    with pytest.raises(ValueError, match="empty"):
        month_range("2013-05", "2013-04")


def test_parse_month_spec():
    assert parse_month_spec("2014-01..2014-03") == ["2014-01", "2014-02", "2014-03"]
    assert parse_month_spec("2014-05") == ["2014-05"]
    assert parse_month_spec("2014-12..2015-01,2015-01,2015-03") == [
        "2014-12",
        "2015-01",
        "2015-03",
    ]
    for bad, message in [
        ("2014-03..2014-01", "empty"),
        ("2014-13", "invalid month"),
        ("2014-01..", "not a range"),
        ("", "empty"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_month_spec(bad)


def test_shifting_crosses_years_both_ways():
    assert shift_month("2014-01", -12) == "2013-01" and shift_month("2013-12", 1) == "2014-01"
    assert previous_month("2014-01") == "2013-12" and next_month("2013-12") == "2014-01"
    assert shift_month("2013-05", -17) == "2011-12" and shift_month("2013-05", 0) == "2013-05"
    with pytest.raises(ValueError, match="invalid month"):
        shift_month("2013-1", 1)


def test_partition_keys_and_first_days_round_trip():
    assert partition_key("2013-01") == "2013-01-01" and month_of("2013-01-01") == "2013-01"
    assert first_day("2016-02") == date(2016, 2, 1)
    assert all(month_of(partition_key(m)) == m for m in month_range("2012-11", "2014-02"))
    with pytest.raises(ValueError, match="invalid month"):
        month_of("2013-13-01")


def test_months_reached_counts_the_shortest_months():
    assert [months_reached(d) for d in (0, 1, 28, 29, 35, 56, 57)] == [0, 1, 1, 2, 2, 2, 3]
