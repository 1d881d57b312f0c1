"""Served requests in, delay probabilities, response JSON and prediction-log lines out.

:func:`score_requests` is what the service calls: requests whose flights the snapshot arrays
cover (:mod:`flightline.serving_snapshot`: every flight on or after the snapshot's as-of day, and
the days of its horizon before it) are assembled in numpy, in one call for all of them, and
scored in ONE ``predict`` call (up to 16 rows: LightGBM's single-row C API,
:mod:`flightline.row_predict`); any other request goes through
:func:`flightline.scoring.score_request_batch` (the general path). Either way each request gets
a :class:`RequestScores` of plain arrays, from which its response document and its log lines are
written with ``orjson``, one dict per flight, whatever the number of flights (no per-request
DataFrame: for one flight, building Polars frames cost more than the model; at 100 flights the
Polars writers cost 2-3x these, at 1,000 about the same in all).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

import numpy as np
import orjson

from flightline.prediction_log import LOG_SCHEMA
from flightline.prediction_schema import Flight
from flightline.scoring import ScoringModel, explanations, score_request_batch
from flightline.serving_request import PlainFlight
from flightline.serving_snapshot import FLAGS

# A validated flight: the pydantic model, or the same fields parsed without it (serving_request).
ValidFlight = Flight | PlainFlight

# Prediction's fields, in order (prediction_schema.Prediction).
_PREDICTION_FIELDS = ("flight_id", "delay_probability", "delayed", *FLAGS, "explanation")
_LOG_FIELDS = tuple(LOG_SCHEMA)
assert set(_PREDICTION_FIELDS) <= set(_LOG_FIELDS)
_LINE = orjson.OPT_APPEND_NEWLINE
_dump = orjson.dumps


@dataclass(frozen=True)
class RequestScores:
    """One request's scores, row for row with its flights."""

    flights: Sequence[ValidFlight]
    flight_ids: list[str]
    probability: np.ndarray  # float64, calibrated
    delayed: np.ndarray  # bool
    flags: dict[str, np.ndarray]  # serving_snapshot.FLAGS
    explanations: list[dict[str, Any]] | None = None
    fast: bool = True  # scored on the snapshot arrays (False: the general path)

    def _columns(self) -> dict[str, Any]:
        """The Prediction fields as columns (plain Python values; ``repeat`` for a constant)."""
        return {
            "flight_id": self.flight_ids,
            "delay_probability": self.probability.tolist(),
            "delayed": self.delayed.tolist(),
            **{name: self.flags[name].tolist() for name in FLAGS},
            "explanation": repeat(None) if self.explanations is None else self.explanations,
        }

    def predictions(self) -> list[dict[str, Any]]:
        """:class:`~flightline.prediction_schema.Prediction` dicts, its fields in order."""
        columns = self._columns()
        rows = zip(*(columns[name] for name in _PREDICTION_FIELDS))  # noqa: B905 (repeat)
        return [dict(zip(_PREDICTION_FIELDS, row, strict=True)) for row in rows]

    def response_json(self, provenance_json: bytes) -> bytes:
        """The :class:`~flightline.prediction_schema.PredictResponse` document (provenance
        pre-rendered), as ``PredictResponse(...).model_dump_json()`` writes it."""
        predictions = _dump(self.predictions())
        return b'{"predictions":' + predictions + b',"provenance":' + provenance_json + b"}"

    def log_lines(
        self,
        *,
        model_version: str,
        bento_tag: str | None = None,
        request_id: str | None = None,
        served_at: datetime | None = None,
    ) -> bytes:
        """The request's prediction-log lines (``prediction_log.LOG_SCHEMA``, JSON Lines), as
        :func:`~flightline.prediction_log.prediction_rows` writes them."""
        served_at = served_at or datetime.now(UTC)
        flights = self.flights
        columns = self._columns()
        if self.explanations is not None:  # a JSON string in the log, as prediction_rows
            columns["explanation"] = [json.dumps(e) for e in self.explanations]
        columns |= {
            "served_at": repeat(served_at.astimezone(UTC).isoformat()),
            "request_id": repeat(request_id or uuid.uuid4().hex),
            "carrier": [f.carrier for f in flights],
            "flight_number": [f.flight for f in flights],
            "tailnum": [f.tailnum for f in flights],
            "origin": [f.origin for f in flights],
            "dest": [f.dest for f in flights],
            # YYYY-MM-DDTHH:MM:SS: departures are naive local times in MIN_YEAR..MAX_YEAR
            "sched_dep_local": [
                f.scheduled_departure.isoformat(timespec="seconds") for f in flights
            ],
            "model_version": repeat(model_version),
            "bento_tag": repeat(bento_tag),
        }
        rows = zip(*(columns[name] for name in _LOG_FIELDS))  # noqa: B905 (repeat)
        return b"".join(
            _dump(dict(zip(_LOG_FIELDS, row, strict=True)), option=_LINE) for row in rows
        )


def _flight_ids(flights: Sequence[ValidFlight]) -> list[str]:
    # requests_frame's default: the row's position in its request
    return [f.flight_id if f.flight_id is not None else str(i) for i, f in enumerate(flights)]


def _assemble(
    model: ScoringModel, requests: Sequence[Sequence[ValidFlight]]
) -> tuple[list[int], np.ndarray | None, list[dict[str, np.ndarray]]]:
    """The requests the snapshot arrays cover (their indices), their rows as one matrix in that
    order (None: no such request) and each one's flags."""
    if model.fast is None:
        return [], None, []
    if len(requests) > 1:
        # All in one call first: its numpy work is per call, not per flight (eight one-flight
        # requests took ~0.08 ms together and ~0.35 ms apart). A row depends on its flight
        # only, so each request's rows are what it alone would get.
        together = model.fast.assemble([f for r in requests for f in r])
        if together is not None:
            flags, offset = [], 0
            for r in requests:
                n = len(r)
                flags.append({k: v[offset : offset + n] for k, v in together.flags.items()})
                offset += n
            return list(range(len(requests))), together.matrix, flags
    assembled = [model.fast.assemble(r) for r in requests]  # a request off the arrays: alone
    fast = [i for i, a in enumerate(assembled) if a is not None]
    parts = [a for a in assembled if a is not None]
    if not parts:
        return [], None, []
    matrix = parts[0].matrix if len(parts) == 1 else np.vstack([a.matrix for a in parts])
    return fast, matrix, [a.flags for a in parts]


def score_requests(
    model: ScoringModel,
    requests: Sequence[Sequence[ValidFlight]],
    *,
    num_threads: int = 0,
    explain: bool = False,
) -> list[RequestScores]:
    """Several requests scored together, each equal to scoring it alone on the general path."""
    out: list[RequestScores | None] = [None] * len(requests)
    fast, matrix, flags = _assemble(model, requests)
    if matrix is not None:
        rows = model.row_predictor
        if rows is not None and rows.num_threads == num_threads:
            raw = rows.predict(matrix)  # a few rows: the C API; more: booster.predict
        else:
            raw = model.booster.predict(matrix, num_threads=num_threads)
        probability = np.asarray(model.calibrator.apply(raw), dtype=np.float64)
        explained = explanations(model, matrix, num_threads) if explain else None
        offset = 0
        for i, request_flags in zip(fast, flags, strict=True):
            n = len(requests[i])
            p = probability[offset : offset + n]
            out[i] = RequestScores(
                flights=requests[i],
                flight_ids=_flight_ids(requests[i]),
                probability=p,
                delayed=p >= model.threshold,
                flags=request_flags,
                explanations=None if explained is None else explained[offset : offset + n],
            )
            offset += n
    taken = set(fast)
    slow = [i for i in range(len(requests)) if i not in taken]
    if slow:
        batch = score_request_batch(
            model, [requests[i] for i in slow], num_threads=num_threads, explain=explain
        )
        for i, (_, scores) in zip(slow, batch, strict=True):
            out[i] = RequestScores(
                flights=requests[i],
                flight_ids=scores.get_column("flight_id").to_list(),
                probability=scores.get_column("delay_probability").to_numpy(),
                delayed=scores.get_column("delayed").to_numpy(),
                flags={name: scores.get_column(name).to_numpy() for name in FLAGS},
                explanations=scores.get_column("explanation").to_list() if explain else None,
                fast=False,
            )
    return [r for r in out if r is not None]
