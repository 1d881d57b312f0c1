"""A ``POST /predict`` body to validated flights without pydantic, when the body is plainly valid.

pydantic validates a flight in ~20 µs (its field validators run in Python), as much as scoring it
on the fast path. :func:`parse_plain_request` parses the body with ``orjson`` and checks each
flight against the rules of :class:`flightline.scoring.Flight` (the same patterns; the bounds read
from its fields) in their simplest form: codes already upper case, ``scheduled_departure`` as
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

import re
from collections.abc import Callable
from datetime import datetime
from operator import itemgetter
from typing import Any, NamedTuple

import annotated_types
import orjson
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


_NUMBER = frozenset({int, float})
_STRING = frozenset({str})
_STRING_OR_NONE = frozenset({str, type(None)})
_columns = {name: itemgetter(name) for name in _REQUIRED}  # KeyError: a required field is absent
assert {"carrier", "flight", "origin", "dest", "scheduled_departure"} == _REQUIRED

# Each check below takes one field of every flight at once (a column): its types as a set, its
# bounds as min and max, each distinct code or departure once. Per flight, Python checks cost
# ~10 µs, half the work of a 1,000-flight request; by columns they cost a few.


def _floats(values: list[Any], low: float, high: float, low_open: bool = False) -> list | None:
    """The values as a float field of pydantic's has them (ints as floats, None kept); None if
    one is not an int or float within the bounds (JSON has no NaN: orjson)."""
    present = [v for v in values if v is not None]
    if not present:
        return values
    types = set(map(type, present))
    if not types <= _NUMBER:
        return None
    least = min(present)
    if not ((low < least if low_open else low <= least) and max(present) <= high):
        return None
    if int not in types:
        return values
    return [v if v is None or type(v) is float else float(v) for v in values]


def _codes_ok(values: list[Any], ok: Callable[[str], Any], optional: bool = False) -> bool:
    """Every value a string that ``ok`` accepts (or None, when optional); distinct ones once."""
    if not set(map(type, values)) <= (_STRING_OR_NONE if optional else _STRING):
        return False
    return all(ok(v) for v in set(values) if v is not None)


def _weathers(values: list[Any]) -> list[PlainWeather | None] | None:
    """The flights' weather (None for none); None when pydantic must look at one of them."""
    given = [w for w in values if w is not None]
    if not given:
        return values
    if not set(map(type, given)) <= {dict} or not all(map(_WEATHER_KEYS.issuperset, given)):
        return None
    columns = []
    for name, (low, high) in zip(WEATHER_COLUMNS, _WEATHER_BOUNDS, strict=True):
        column = _floats([w.get(name) for w in given], low, high)
        if column is None:
            return None
        columns.append(column)
    weathers = map(PlainWeather, *columns)
    return [None if w is None else next(weathers) for w in values]


def _departures(values: list[Any]) -> list[datetime] | None:
    if not set(map(type, values)) <= _STRING:
        return None
    parsed = {}
    for text in set(values):  # a request's flights share departure times
        if not _datetime_ok(text):
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:  # e.g. February 30th: pydantic words the error
            return None
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            return None
        parsed[text] = value
    return list(map(parsed.__getitem__, values))


def _flight_id_ok(value: Any) -> bool:
    # ASCII: an id with escapes (a lone surrogate) is pydantic's to judge
    return value is None or (
        type(value) is str and value.isascii() and _ID_MIN <= len(value) <= _ID_MAX
    )


def _flights(items: list[Any]) -> list[PlainFlight] | None:
    """The flights of a request's ``flights`` list; None at the first thing pydantic must see."""
    if not set(map(type, items)) <= {dict} or not all(map(_FLIGHT_KEYS.issuperset, items)):
        return None
    try:
        carriers, numbers, origins, dests, departures = (
            list(map(_columns[name], items))
            for name in ("carrier", "flight", "origin", "dest", "scheduled_departure")
        )
    except KeyError:
        return None
    tailnums = [item.get("tailnum") for item in items]
    flight_ids = [item.get("flight_id") for item in items]
    distances = [item.get("distance") for item in items]
    if not (
        _codes_ok(carriers, _carrier_ok)
        and _codes_ok(origins, _airport_ok)
        and _codes_ok(dests, _airport_ok)
        and _codes_ok(tailnums, _tailnum_ok, optional=True)
        and set(map(type, numbers)) <= {int}
        and min(numbers) >= _FLIGHT_LOW
        and max(numbers) <= _FLIGHT_HIGH
        and all(map(_flight_id_ok, flight_ids))
    ):
        return None
    distances = _floats(distances, _DISTANCE_LOW, _DISTANCE_HIGH, low_open=True)
    departures = _departures(departures)
    weathers = _weathers([item.get("weather") for item in items])
    if distances is None or departures is None or weathers is None:
        return None
    return list(
        map(
            PlainFlight,
            flight_ids,
            carriers,
            numbers,
            tailnums,
            origins,
            dests,
            departures,
            distances,
            weathers,
        )
    )


def parse_plain_request(body: bytes, max_rows: int) -> tuple[list[PlainFlight], bool] | None:
    """(flights, explain) of a plainly valid request body; None: validate it with pydantic."""
    try:
        # orjson (~3x Python's json on a 1,000-flight body) takes UTF-8 only and the last of
        # duplicate keys, as pydantic's parser. What it refuses (NaN, lone surrogates) goes to
        # pydantic; an integer past 64 bits comes back a float, which no field below takes.
        document = orjson.loads(body)
    except orjson.JSONDecodeError:  # not JSON, or not UTF-8
        return None
    if type(document) is not dict or not document.keys() <= _REQUEST_KEYS:
        return None
    items, explain = document.get("flights"), document.get("explain", False)
    if type(items) is not list or not 1 <= len(items) <= max_rows or type(explain) is not bool:
        return None
    flights = _flights(items)
    return None if flights is None else (flights, explain)
