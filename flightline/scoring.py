"""Scoring: scheduled flights in, delay probabilities out. No Dagster, no BentoML.

One path serves both callers:

* the BentoML service validates a request with
  :class:`~flightline.prediction_schema.PredictRequest`, turns it into a frame with
  :func:`~flightline.prediction_schema.requests_frame` and calls :func:`score_flights` once per
  request (vectorized);
* batch scoring (the ``flight_predictions`` asset) calls :func:`score_flights` on ``fct_flights``
  rows, usually with a state built from all history (``state=``) instead of the snapshot.

A model version folder (``<models>/delay_model/<version>/`` or the same files in a BentoML model)
holds ``model.txt`` (LightGBM text), ``model_card.json`` and ``online_features/`` (the as-of
snapshot written by :func:`flightline.features.save_state`); :func:`load_scoring_model` reads it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from flightline.calibration import Calibrator
from flightline.explain import UNITS as EXPLANATION_UNITS
from flightline.explain import contributions, top_contributions
from flightline.features import (
    AGG_KEYS,
    FLAG_COLUMNS,
    NY_TZ,
    FeatureState,
    feature_matrix,
    flight_feature_rows,
    load_state,
    precompute_as_of_features,
)
from flightline.prediction_schema import Flight, requests_frame
from flightline.serving_snapshot import SnapshotArrays, build_snapshot_arrays

if TYPE_CHECKING:  # imported where a model is trained or read (flightline/__init__.py says why)
    import lightgbm as lgb

    from flightline.row_predict import SingleRowPredictor

MODEL_FILE = "model.txt"
CARD_FILE = "model_card.json"
STATE_DIR = "online_features"
# LightGBM threads per request in the service: concurrent requests give the parallelism, and
# OpenMP's fork/join costs more than a small request's whole prediction (measured: ~8 ms vs
# 0.1 ms for one flight on a busy 2-core machine; no faster for 1,000 flights either).
SERVING_NUM_THREADS = 1
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
    # Fast-path batches of up to row_predict.MAX_ROWS flights through LightGBM's single-row C
    # API (row_predict.py); None: booster.predict.
    row_predictor: SingleRowPredictor | None = field(default=None, repr=False, compare=False)

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
    import lightgbm as lgb

    from flightline.row_predict import SingleRowPredictor

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
        row_predictor=SingleRowPredictor(booster, SERVING_NUM_THREADS) if fast_path else None,
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

    ``flights``: rows of ``fct_flights`` or
    :func:`~flightline.prediction_schema.requests_frame` (``carrier``, ``flight_number``,
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
    features = flight_feature_rows(flights, state, model.vocabulary)
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
