"""Request bodies parsed without pydantic: the same flights as pydantic's, or None (pydantic's
turn) for every body that is invalid or needs normalizing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from flightline.prediction_schema import EXAMPLE_FLIGHT, PredictRequest
from flightline.serving_request import parse_plain_request

MAX_ROWS = 10


def body(*flights: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"flights": list(flights), **extra}).encode()


def pydantic_flights(data: bytes) -> list[dict[str, Any]] | None:
    class Limited(PredictRequest):
        max_rows = MAX_ROWS

    try:
        request = Limited.model_validate_json(data)
    except ValidationError:
        return None
    return [f.model_dump() for f in request.flights]


def plain_flights(data: bytes) -> list[dict[str, Any]] | None:
    parsed = parse_plain_request(data, MAX_ROWS)
    if parsed is None:
        return None
    return [
        {**f._asdict(), "weather": None if f.weather is None else f.weather._asdict()}
        for f in parsed[0]
    ]


def no_weather() -> dict[str, Any]:
    return {k: v for k, v in EXAMPLE_FLIGHT.items() if k != "weather"}


PLAIN = [
    body(EXAMPLE_FLIGHT),
    body(EXAMPLE_FLIGHT, explain=True),
    body(no_weather(), {**EXAMPLE_FLIGHT, "tailnum": None, "flight_id": "a-1"}),
    body({**EXAMPLE_FLIGHT, "distance": 1400.7, "weather": {"temp": 3, "visib": None}}),
    body({**no_weather(), "weather": {}, "distance": None}),
    body({**EXAMPLE_FLIGHT, "carrier": "9E", "scheduled_departure": "2100-12-31T23:59:59"}),
    body(*[EXAMPLE_FLIGHT] * MAX_ROWS),
]


@pytest.mark.parametrize("data", PLAIN)
def test_plain_bodies_give_pydantics_flights(data):
    got = plain_flights(data)
    assert got is not None
    assert got == pydantic_flights(data)
    explain = json.loads(data).get("explain", False)
    assert parse_plain_request(data, MAX_ROWS)[1] is explain


NOT_PLAIN = {
    # valid, but pydantic normalizes them
    "lower-case code": body({**EXAMPLE_FLIGHT, "carrier": "ua"}),
    "padded code": body({**EXAMPLE_FLIGHT, "origin": " EWR"}),
    "UTC offset": body({**EXAMPLE_FLIGHT, "scheduled_departure": "2013-01-01T10:15:00Z"}),
    "no seconds": body({**EXAMPLE_FLIGHT, "scheduled_departure": "2013-01-01T05:15"}),
    "space separator": body({**EXAMPLE_FLIGHT, "scheduled_departure": "2013-01-01 05:15:00"}),
    "float flight number": body({**EXAMPLE_FLIGHT, "flight": 1545.0}),
    "explain as a number": body(EXAMPLE_FLIGHT, explain=1),
    # invalid
    "impossible date": body({**EXAMPLE_FLIGHT, "scheduled_departure": "2013-02-30T05:15:00"}),
    "hour 24": body({**EXAMPLE_FLIGHT, "scheduled_departure": "2013-03-01T24:30:00"}),
    "year too early": body({**EXAMPLE_FLIGHT, "scheduled_departure": "1969-12-31T23:00:00"}),
    "bad airport": body({**EXAMPLE_FLIGHT, "origin": "NEWARK"}),
    "bad tail number": body({**EXAMPLE_FLIGHT, "tailnum": "N 1!"}),
    "flight as text": body({**EXAMPLE_FLIGHT, "flight": "1545"}),
    "flight as a boolean": body({**EXAMPLE_FLIGHT, "flight": True}),
    "flight number 0": body({**EXAMPLE_FLIGHT, "flight": 0}),
    "distance 0": body({**EXAMPLE_FLIGHT, "distance": 0}),
    "temperature too high": body({**EXAMPLE_FLIGHT, "weather": {"temp": 141}}),
    "weather as a boolean": body({**EXAMPLE_FLIGHT, "weather": {"temp": False}}),
    "unknown weather field": body({**EXAMPLE_FLIGHT, "weather": {"snow": 1}}),
    "unknown field": body({**EXAMPLE_FLIGHT, "gate": "A1"}),
    "missing field": body(no_weather() | {"origin": None}),
    "empty flight id": body({**EXAMPLE_FLIGHT, "flight_id": ""}),
    "no flights": body(),
    "too many flights": body(*[EXAMPLE_FLIGHT] * (MAX_ROWS + 1)),
    "unknown key": body(EXAMPLE_FLIGHT, flight=[]),
    "not an object": json.dumps([EXAMPLE_FLIGHT]).encode(),
    "not JSON": b'{"flights": [',
    "NaN": body(EXAMPLE_FLIGHT).replace(b"39.02", b"NaN"),
    "not UTF-8": body(EXAMPLE_FLIGHT).replace(b"UA", b"\xff\xfe"),
    "UTF-16": json.dumps({"flights": [EXAMPLE_FLIGHT]}).encode("utf-16"),
    "empty body": b"",
}


@pytest.mark.parametrize("data", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_other_bodies_are_left_to_pydantic(data):
    assert parse_plain_request(data, MAX_ROWS) is None


def test_the_last_of_duplicate_keys_counts_as_for_pydantic():
    data = b'{"flights": [], "flights": ' + json.dumps([EXAMPLE_FLIGHT]).encode() + b"}"
    assert plain_flights(data) == pydantic_flights(data) is not None


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**4), 10**5)
    | st.floats(-2000, 2000)
    | st.sampled_from(["UA", "ua", "EWR", "N14228", "2013-01-01T05:15:00", "", "X" * 70]),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=4,
)
CHANGE = JSON_VALUES | st.just(...)  # ...: the key is removed


def changed(original: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(original)
    for name, value in changes.items():
        if value is ...:
            out.pop(name, None)
        else:
            out[name] = value
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flight_changes=st.dictionaries(
        st.sampled_from([*EXAMPLE_FLIGHT, "flight_id"]), CHANGE, max_size=3
    ),
    weather_changes=st.dictionaries(
        st.sampled_from(["temp", "pressure", "wind"]), CHANGE, max_size=2
    ),
)
def test_whatever_the_values_a_plain_parse_equals_pydantics(flight_changes, weather_changes):
    flight = changed(EXAMPLE_FLIGHT, flight_changes)
    if "weather" not in flight_changes:
        flight["weather"] = changed(EXAMPLE_FLIGHT["weather"], weather_changes)
    data = body(flight)
    got = plain_flights(data)
    if got is not None:
        assert got == pydantic_flights(data)


FLIGHT_CHANGES = st.dictionaries(
    st.sampled_from([*EXAMPLE_FLIGHT, "flight_id"]), CHANGE, max_size=2
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(FLIGHT_CHANGES, min_size=2, max_size=5))
def test_several_flights_are_checked_field_by_field_as_pydantic_does(changes):
    # The checks take a field of every flight at once: one bad flight among good ones, a mix of
    # ints and floats, weather on some flights only must each come out as for pydantic.
    flights = [changed(EXAMPLE_FLIGHT, c) for c in changes]
    data = body(*flights)
    got = plain_flights(data)
    if got is not None:
        assert got == pydantic_flights(data)
    elif all(plain_flights(body(f)) is not None for f in flights):
        pytest.fail("every flight is plain on its own, but not together")


REQUEST_LEVEL = {"explain as a number", "no flights", "too many flights", "unknown key"}
REQUEST_LEVEL |= {"not an object", "not JSON", "NaN", "not UTF-8", "UTF-16", "empty body"}


@pytest.mark.parametrize("name", sorted(set(NOT_PLAIN) - REQUEST_LEVEL))
def test_one_bad_flight_among_plain_ones_is_left_to_pydantic(name):
    good = [EXAMPLE_FLIGHT, no_weather(), {**EXAMPLE_FLIGHT, "distance": 700}]
    assert plain_flights(body(*good)) == pydantic_flights(body(*good)) is not None
    (bad,) = json.loads(NOT_PLAIN[name])["flights"]
    assert parse_plain_request(body(*good[:2], bad, good[2]), MAX_ROWS) is None
