"""The delay service with BentoML's adaptive batching instead of bentos/service.py's own queue.

Benchmark only (bench/serving.py serves it from source next to the bento and loads both with
the same single-flight requests): ``predict`` is ``batchable``, so BentoML's dispatcher gathers
the flights of concurrent requests into one call and splits the answers back. Its limits, which
are why the service keeps its own queue: a batchable API takes exactly one argument (no
``explain``), sees flights, not requests (one log write and ``request_id`` per batch, no per-request
422 or 503), and its answer is the batch dimension (a list, not the ``PredictResponse`` document).

``FLIGHTLINE_MODEL_TAG``: the model to serve; ``FLIGHTLINE_BATCH_MS`` / ``FLIGHTLINE_BATCH_SIZE``:
``max_latency_ms`` / ``max_batch_size``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import bentoml

from flightline.prediction_log import PredictionLog
from flightline.prediction_schema import Flight
from flightline.scoring import SERVING_NUM_THREADS, load_scoring_model
from flightline.serving_fast import score_requests

MODEL_TAG = os.environ.get("FLIGHTLINE_MODEL_TAG", "delay_model:latest")


@bentoml.service(name="delay_service_adaptive", traffic={"timeout": 60}, workers="cpu_count")
class DelayServiceAdaptive:
    model_ref = bentoml.models.BentoModel(MODEL_TAG)

    def __init__(self) -> None:
        self.model = load_scoring_model(self.model_ref.path)
        self.log = PredictionLog()

    @bentoml.api(
        batchable=True,
        # A looser latency bound than the 20 ms first tried: at that one the dispatcher answered
        # most requests at c=8 with 503 "process is overloaded" (BENCHMARKS.md).
        max_batch_size=int(os.environ.get("FLIGHTLINE_BATCH_SIZE", "64")),
        max_latency_ms=int(os.environ.get("FLIGHTLINE_BATCH_MS", "200")),
    )
    def predict(self, flights: list[Flight]) -> list[dict[str, Any]]:
        (scores,) = score_requests(self.model, [flights], num_threads=SERVING_NUM_THREADS)
        served_at = datetime.now(UTC)
        lines = scores.log_lines(model_version=self.model.version, served_at=served_at)
        self.log.write_lines(lines, served_at)
        return scores.predictions()
