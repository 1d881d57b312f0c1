"""Served requests in, delay probabilities, response JSON and prediction-log lines out.

:func:`score_requests` is what the service calls: requests whose flights the snapshot arrays
cover (:mod:`flightline.serving_snapshot`: every flight on or after the snapshot's as-of day, and
the days of its horizon before it) are assembled in numpy and scored in ONE ``predict`` call; any
other request goes through :func:`flightline.scoring.score_request_batch` (the general path).
Either way each request gets a :class:`RequestScores` of plain arrays, from which its response
document and its log lines are written with ``json`` (no per-request DataFrame: for one flight,
building Polars frames cost more than the model).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from flightline.prediction_log import LOG_SCHEMA, prediction_rows
from flightline.prediction_schema import Flight, response_json
from flightline.scoring import ScoringModel, explanations, score_request_batch
from flightline.serving_request import PlainFlight
from flightline.serving_snapshot import FLAGS

# A validated flight: the pydantic model, or the same fields parsed without it (serving_request).
ValidFlight = Flight | PlainFlight

_JSON = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
# Above this many flights, a request's response and log lines are written by Polars (one
# vectorized writer) rather than a dict per flight: the two cost the same near 100 flights
# (BENCHMARKS.md); both write the same documents (tests/unit/test_serving_snapshot.py).
POLARS_WRITER_ROWS = 100


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

    def frame(self) -> pl.DataFrame:
        """The scores as ``score_flights`` returns them (same columns, types and values)."""
        columns: dict[str, Any] = {
            "flight_id": pl.Series(self.flight_ids, dtype=pl.String),
            "delay_probability": pl.Series(self.probability, dtype=pl.Float64),
            "delayed": pl.Series(self.delayed, dtype=pl.Boolean),
        }
        for name in FLAGS:
            dtype = pl.Int32 if name == "state_stale_days" else pl.Boolean
            columns[name] = pl.Series(self.flags[name], dtype=dtype)
        if self.explanations is not None:
            columns["explanation"] = pl.Series(self.explanations)
        return pl.DataFrame(columns)

    def predictions(self) -> list[dict[str, Any]]:
        """:class:`~flightline.prediction_schema.Prediction` dicts, its fields in order."""
        flags = {k: v.tolist() for k, v in self.flags.items()}
        probability, delayed = self.probability.tolist(), self.delayed.tolist()
        out = []
        for i, flight_id in enumerate(self.flight_ids):
            row = {"flight_id": flight_id, "delay_probability": probability[i]}
            row["delayed"] = delayed[i]
            row.update((k, v[i]) for k, v in flags.items())
            row["explanation"] = self.explanations[i] if self.explanations is not None else None
            out.append(row)
        return out

    def response_json(self, provenance_json: bytes) -> bytes:
        """The :class:`~flightline.scoring.PredictResponse` document (provenance pre-rendered)."""
        if len(self.flight_ids) > POLARS_WRITER_ROWS:
            return response_json(self.frame(), provenance_json)
        predictions = _JSON(self.predictions()).encode()
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
        if len(self.flight_ids) > POLARS_WRITER_ROWS:
            rows = prediction_rows(
                _logged_fields(self.flights),
                self.frame(),
                model_version=model_version,
                bento_tag=bento_tag,
                request_id=request_id,
                served_at=served_at,
            )
            data = rows.write_ndjson().encode()
            return data if data.endswith(b"\n") else data + b"\n"
        head = {
            "served_at": served_at.astimezone(UTC).isoformat(),
            "request_id": request_id or uuid.uuid4().hex,
        }
        lines = []
        for f, p in zip(self.flights, self.predictions(), strict=True):
            explanation = p.pop("explanation")
            row = {
                **head,
                "flight_id": p["flight_id"],
                "carrier": f.carrier,
                "flight_number": f.flight,
                "tailnum": f.tailnum,
                "origin": f.origin,
                "dest": f.dest,
                "sched_dep_local": f.scheduled_departure.strftime("%Y-%m-%dT%H:%M:%S"),
                "model_version": model_version,
                "bento_tag": bento_tag,
                **p,
                "explanation": None if explanation is None else json.dumps(explanation),
            }
            lines.append(_JSON({c: row[c] for c in LOG_SCHEMA}))
        return ("\n".join(lines) + "\n").encode() if lines else b""


# Log column -> (flight attribute, type), as requests_frame has them.
_LOGGED_FIELDS = {
    "carrier": ("carrier", pl.String),
    "flight_number": ("flight", pl.Int32),
    "tailnum": ("tailnum", pl.String),
    "origin": ("origin", pl.String),
    "dest": ("dest", pl.String),
    "sched_dep_local": ("scheduled_departure", pl.Datetime("us")),
}


def _logged_fields(flights: Sequence[ValidFlight]) -> pl.DataFrame:
    """The request fields a log line holds, as ``requests_frame`` has them (only those: the
    whole frame, with weather, cost half the writer's time)."""
    return pl.DataFrame(
        [
            pl.Series(column, [getattr(f, attr) for f in flights], dtype=dtype)
            for column, (attr, dtype) in _LOGGED_FIELDS.items()
        ]
    )


def _flight_ids(flights: Sequence[ValidFlight]) -> list[str]:
    # requests_frame's default: the row's position in its request
    return [f.flight_id if f.flight_id is not None else str(i) for i, f in enumerate(flights)]


def score_requests(
    model: ScoringModel,
    requests: Sequence[Sequence[ValidFlight]],
    *,
    num_threads: int = 0,
    explain: bool = False,
) -> list[RequestScores]:
    """Several requests scored together, each equal to scoring it alone on the general path."""
    out: list[RequestScores | None] = [None] * len(requests)
    assembled = [model.fast.assemble(r) if model.fast else None for r in requests]
    fast = [i for i, a in enumerate(assembled) if a is not None]
    if fast:
        parts = [assembled[i] for i in fast]
        matrix = parts[0].matrix if len(parts) == 1 else np.vstack([a.matrix for a in parts])
        raw = model.booster.predict(matrix, num_threads=num_threads)
        probability = np.asarray(model.calibrator.apply(raw), dtype=np.float64)
        explained = explanations(model, matrix, num_threads) if explain else None
        offset = 0
        for i, a in zip(fast, parts, strict=True):
            n = a.matrix.shape[0]
            p = probability[offset : offset + n]
            out[i] = RequestScores(
                flights=requests[i],
                flight_ids=_flight_ids(requests[i]),
                probability=p,
                delayed=p >= model.threshold,
                flags=a.flags,
                explanations=None if explained is None else explained[offset : offset + n],
            )
            offset += n
    slow = [i for i, a in enumerate(assembled) if a is None]
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
