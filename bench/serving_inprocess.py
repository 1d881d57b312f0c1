"""The in-process half of the serving benchmark: the service's steps timed one at a time.

Same model (``load_scoring_model`` on the bento's model folder), same calls and LightGBM thread
count as ``bentos/service.py``; every timing is a list of milliseconds per call.
"""

from __future__ import annotations

import gc
import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def timed(fn: Callable[[], Any], repeat: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def in_process(
    model_path: Path, single: list[dict], batches: list[list[dict]], past: list[dict], quick: bool
) -> dict[str, Any]:
    """Timings of the service's steps on the bento's model (see the keys of the result)."""
    from flightline.prediction_log import PredictionLog
    from flightline.prediction_schema import DEFAULT_MAX_ROWS, PredictRequest, Provenance
    from flightline.scoring import SERVING_NUM_THREADS, load_scoring_model, score_request_batch
    from flightline.serving_fast import score_requests
    from flightline.serving_request import parse_plain_request

    threads = SERVING_NUM_THREADS
    t0 = time.perf_counter()
    model = load_scoring_model(model_path)
    out: dict[str, Any] = {"load_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    load_scoring_model(model_path, fast_path=False)
    out["load_general_s"] = time.perf_counter() - t0
    provenance_json = Provenance(**model.provenance()).model_dump_json().encode()
    log = PredictionLog(Path(tempfile.mkdtemp(prefix="bench-log-")))
    n1 = 100 if quick else 400
    nb = 5 if quick else 20

    def parse(bodies: list[dict]) -> list:
        return PredictRequest.model_validate({"flights": bodies}).flights

    parsed1 = [parse([b]) for b in single[:n1]]
    parsed_b = [parse(b) for b in batches]
    parsed_past = [parse([b]) for b in past[:n1]]
    # As the service after loading its model: the garbage collector leaves what exists alone.
    gc.collect()
    gc.freeze()
    it1, itb, itp = iter(parsed1 * 20), iter(parsed_b * 1000), iter(parsed_past * 20)

    def fast(it: Any, explain: bool = False) -> Callable[[], Any]:
        return lambda: score_requests(model, [next(it)], num_threads=threads, explain=explain)

    def general(it: Any) -> Callable[[], Any]:
        return lambda: score_request_batch(model, [next(it)], num_threads=threads)

    # The model alone: one assembled row, LightGBM's own predict (what no serving path can beat).
    row = model.fast.assemble(parsed1[0]).matrix
    out["bare"] = timed(lambda: model.booster.predict(row, num_threads=threads), 2 * n1)
    out["single"] = timed(fast(it1), n1)
    out["past_single"] = timed(fast(itp), n1)
    out["batch"] = timed(fast(itb), nb)
    out["general_single"] = timed(general(it1), max(20, n1 // 4))
    out["general_past"] = timed(general(itp), max(10, n1 // 20))
    out["general_batch"] = timed(general(itb), max(3, nb // 4))
    # "explain": true adds LightGBM's pred_contrib and the top-5 selection per flight.
    out["explain_single"] = timed(fast(it1, explain=True), max(20, n1 // 4))
    out["explain_batch"] = timed(fast(itb, explain=True), nb)

    # The service's other steps, each on its own (single flight and batch).
    for label, body, flights in (
        ("single", {"flights": single[:1]}, parsed1[0]),
        ("batch", {"flights": batches[0]}, parsed_b[0]),
    ):
        reps = 50 if label == "single" else 10
        (scores,) = score_requests(model, [flights], num_threads=threads)
        out[f"validate_{label}"] = timed(lambda b=body: PredictRequest.model_validate(b), reps)
        data = json.dumps(body).encode()
        out[f"parse_{label}"] = timed(lambda d=data: parse_plain_request(d, DEFAULT_MAX_ROWS), reps)

        def write(s: Any = scores) -> None:
            now = datetime.now(UTC)
            log.write_lines(s.log_lines(model_version=model.version, served_at=now), now)

        out[f"log_{label}"] = timed(write, reps)
        out[f"respond_{label}"] = timed(lambda s=scores: s.response_json(provenance_json), reps)
    return out
