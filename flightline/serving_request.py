"""A ``POST /predict`` body to validated flights without pydantic, when the body is plainly valid.

pydantic validates a flight in ~20 µs (its field validators run in Python), as much as scoring it
on the fast path. :func:`parse_plain_request` parses the body with ``json`` and checks each flight
against the rules of :class:`flightline.scoring.Flight` (the same patterns; the bounds read from
its fields) in their simplest form: codes already upper case, ``scheduled_departure`` as
``YYYY-MM-DDTHH:MM:SS`` without an offset, numbers as JSON numbers. Such a body needs no
normalizing, so its flights are the ones pydantic would return; they come back as
:class:`PlainFlight` tuples, which have :class:`~flightline.scoring.Flight`'s fields (the scoring
code reads attributes only).

Anything else (an error, or a valid value that pydantic normalizes: lower-case codes, a UTC
offset, ``1545.0`` for a flight number) gives None, and the caller validates the body with
pydantic, which answers as it always has (same errors, same messages). This module only decides
which bodies need nothing more; tests/unit/test_serving_request.py holds its flights equal to
pydantic's.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, NamedTuple

import annotated_types
from pydantic import BaseModel

from flightline.features import WEATHER_COLUMNS
from flightline.prediction_schema import (
    AIRPORT_PATTERN,
    CARRIER_PATTERN,
    MAX_YEAR,
    MIN_YEAR,
    TAILNUM_PATTERN,
    Flight,
    PredictRequest,
    Weather,
)


class PlainWeather(NamedTuple):
    temp: float | None
    dewp: float | None
    humid: float | None
    wind_dir: float | None
    wind_speed: float | None
    wind_gust: float | None
    precip: float | None
    pressure: float | None
    visib: float | None


class PlainFlight(NamedTuple):
    """A validated flight with :class:`~flightline.scoring.Flight`'s fields and values."""

    flight_id: str | None
    carrier: str
    flight: int
    tailnum: str | None
    origin: str
    dest: str
    scheduled_departure: datetime
    distance: float | None
    weather: PlainWeather | None


# The one datetime form taken here (what datetime.isoformat() writes for whole seconds).
_PLAIN_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")
_REQUEST_KEYS = frozenset(PredictRequest.model_fields)
_FLIGHT_KEYS = frozenset(Flight.model_fields)
_REQUIRED = frozenset(n for n, f in Flight.model_fields.items() if f.is_required())
_WEATHER_KEYS = frozenset(Weather.model_fields)


def _bounds(model: type[BaseModel], name: str) -> tuple[float, float, bool]:
    """(low, high, low excluded) of a number field, from the field's own metadata."""
    low, high, low_open = float("-inf"), float("inf"), False
    for bound in model.model_fields[name].metadata:
        if isinstance(bound, annotated_types.Ge):
            low = bound.ge
        elif isinstance(bound, annotated_types.Gt):
            low, low_open = bound.gt, True
        elif isinstance(bound, annotated_types.Le):
            high = bound.le
    return low, high, low_open


def _length_bounds(model: type[BaseModel], name: str) -> tuple[int, int]:
    low, high = 0, 1 << 62
    for bound in model.model_fields[name].metadata:
        if isinstance(bound, annotated_types.MinLen):
            low = bound.min_length
        elif isinstance(bound, annotated_types.MaxLen):
            high = bound.max_length
    return low, high


_FLIGHT_LOW, _FLIGHT_HIGH, _ = _bounds(Flight, "flight")
_DISTANCE_LOW, _DISTANCE_HIGH, _ = _bounds(Flight, "distance")
_WEATHER_BOUNDS = [_bounds(Weather, c)[:2] for c in WEATHER_COLUMNS]
assert not any(_bounds(Weather, c)[2] for c in WEATHER_COLUMNS)
assert _bounds(Flight, "distance")[2] and not _bounds(Flight, "flight")[2]
_ID_MIN, _ID_MAX = _length_bounds(Flight, "flight_id")
_carrier_ok = CARRIER_PATTERN.fullmatch
_airport_ok = AIRPORT_PATTERN.fullmatch
_tailnum_ok = TAILNUM_PATTERN.fullmatch
_datetime_ok = _PLAIN_DATETIME.fullmatch
assert set(PlainFlight._fields) == _FLIGHT_KEYS and PlainWeather._fields == WEATHER_COLUMNS
assert set(WEATHER_COLUMNS) == _WEATHER_KEYS


def _weather(value: Any) -> PlainWeather | None | bool:
    """The weather, None for none, False when pydantic must look at it."""
    if value is None:
        return None
    if type(value) is not dict or not value.keys() <= _WEATHER_KEYS:
        return False
    get = value.get
    values = [get(c) for c in WEATHER_COLUMNS]
    for v, (low, high) in zip(values, _WEATHER_BOUNDS, strict=True):
        if v is not None and not ((type(v) is float or type(v) is int) and low <= v <= high):
            return False
    return PlainWeather(*[v if v is None or type(v) is float else float(v) for v in values])


def _flight(item: Any) -> PlainFlight | None:
    if type(item) is not dict:
        return None
    keys = item.keys()
    if not (keys <= _FLIGHT_KEYS and keys >= _REQUIRED):
        return None
    get = item.get
    carrier, origin, dest = item["carrier"], item["origin"], item["dest"]
    if not (
        type(carrier) is str
        and _carrier_ok(carrier)
        and type(origin) is str
        and _airport_ok(origin)
        and type(dest) is str
        and _airport_ok(dest)
    ):
        return None
    tailnum = get("tailnum")
    if tailnum is not None and not (type(tailnum) is str and _tailnum_ok(tailnum)):
        return None
    number = item["flight"]
    if type(number) is not int or not _FLIGHT_LOW <= number <= _FLIGHT_HIGH:
        return None
    flight_id = get("flight_id")
    if flight_id is not None and not (
        # ASCII: an id with escapes (a lone surrogate) is pydantic's to judge
        type(flight_id) is str and flight_id.isascii() and _ID_MIN <= len(flight_id) <= _ID_MAX
    ):
        return None
    departure = item["scheduled_departure"]
    if type(departure) is not str or not _datetime_ok(departure):
        return None
    try:
        departure = datetime.fromisoformat(departure)
    except ValueError:  # e.g. February 30th: pydantic words the error
        return None
    if not MIN_YEAR <= departure.year <= MAX_YEAR:
        return None
    distance = get("distance")
    if distance is not None:
        if not (
            (type(distance) is float or type(distance) is int)
            and _DISTANCE_LOW < distance <= _DISTANCE_HIGH
        ):
            return None
        distance = float(distance)
    weather = _weather(get("weather"))
    if weather is False:
        return None
    return PlainFlight(
        flight_id, carrier, number, tailnum, origin, dest, departure, distance, weather
    )


def parse_plain_request(body: bytes, max_rows: int) -> tuple[list[PlainFlight], bool] | None:
    """(flights, explain) of a plainly valid request body; None: validate it with pydantic."""
    try:
        # Python's parser, as pydantic's, takes the last of duplicate keys; it also reads NaN
        # and Infinity, which no bound below lets through.
        document = json.loads(body.decode())  # UTF-8 only, as pydantic's parser
    except ValueError:  # not JSON, or not UTF-8
        return None
    if type(document) is not dict or not document.keys() <= _REQUEST_KEYS:
        return None
    items, explain = document.get("flights"), document.get("explain", False)
    if type(items) is not list or not 1 <= len(items) <= max_rows or type(explain) is not bool:
        return None
    flights = []
    for item in items:
        flight = _flight(item)
        if flight is None:
            return None
        flights.append(flight)
    return flights, explain
