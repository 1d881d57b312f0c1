"""Month-by-month maintenance of the feature table: which months a change makes stale."""

from datetime import date

import pytest

from flightline.feature_table import (
    LOOKBACK_DAYS,
    LOOKBACK_MONTHS,
    history_start,
    month_chunks,
    months_to_rebuild,
)
from flightline.feature_vocabulary import extend_vocabulary
from flightline.features import MAX_WINDOW_DAYS
from flightline.months import first_day, shift_month

MONTHS = [f"2013-{m:02d}" for m in range(1, 13)]


def test_nothing_changed_nothing_to_rebuild() -> None:
    fingerprints = {m: f"fp{m}" for m in MONTHS}
    assert months_to_rebuild(fingerprints, dict(fingerprints)) == []


def test_everything_is_stale_without_a_build() -> None:
    assert months_to_rebuild({m: "x" for m in MONTHS}, {}) == MONTHS


def test_a_new_month_rebuilds_only_itself() -> None:
    built = {m: "x" for m in MONTHS}
    current = {**built, "2014-01": "y"}
    assert months_to_rebuild(current, built) == ["2014-01"]


def test_a_changed_month_rebuilds_itself_and_the_two_months_its_lookback_reaches() -> None:
    built = {m: "x" for m in MONTHS}
    current = {**built, "2013-05": "changed"}
    assert months_to_rebuild(current, built) == ["2013-05", "2013-06", "2013-07"]


def test_a_removed_month_makes_the_following_months_stale() -> None:
    built = {m: "x" for m in MONTHS}
    current = {m: "x" for m in MONTHS if m != "2013-11"}
    assert months_to_rebuild(current, built) == ["2013-12"]


def test_the_lookback_covers_the_longest_window_and_the_months_it_reaches() -> None:
    assert LOOKBACK_DAYS > MAX_WINDOW_DAYS + 2  # outcomes become known up to two days late
    assert history_start("2013-03") == date(2013, 1, 25)  # into January: two months back
    assert LOOKBACK_MONTHS == 2
    for month in [*MONTHS[LOOKBACK_MONTHS:], "2016-03"]:  # a leap February included
        # months_to_rebuild's months cover the lookback, and no fewer would.
        assert history_start(month) >= first_day(shift_month(month, -LOOKBACK_MONTHS))
    assert history_start("2013-03") < first_day(shift_month("2013-03", 1 - LOOKBACK_MONTHS))


def test_a_change_reaches_exactly_the_months_whose_lookback_covers_it() -> None:
    built = {m: "x" for m in MONTHS}
    current = built | {"2013-05": "y"}
    assert months_to_rebuild(current, built) == ["2013-05", "2013-06", "2013-07"]


def test_chunks_are_runs_of_consecutive_months_of_bounded_size() -> None:
    months = [*MONTHS, "2014-01", "2014-03"]
    chunks = month_chunks(months, size=5)
    assert chunks == [MONTHS[:5], MONTHS[5:10], [*MONTHS[10:], "2014-01"], ["2014-03"]]


@pytest.mark.parametrize("known", [None, {"carrier": ["UA", "AA"], "origin": [], "dest": []}])
def test_vocabulary_keeps_known_codes_and_appends_new_values_sorted(known) -> None:
    values = {"carrier": ["B6", "AA", "UA", "9E"], "origin": ["JFK"], "dest": ["LAX"]}
    vocabulary = extend_vocabulary(known, values)
    if known is None:
        assert vocabulary["carrier"] == ["9E", "AA", "B6", "UA"]
    else:
        assert vocabulary["carrier"] == ["UA", "AA", "9E", "B6"]  # UA and AA keep codes 0 and 1
    assert vocabulary["origin"] == ["JFK"] and vocabulary["dest"] == ["LAX"]
