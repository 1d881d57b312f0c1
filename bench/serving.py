"""Serving benchmark: the bento over real HTTP against the same code path in process.

    FLIGHTLINE_HOME=/tmp/fl_serve uv run python -m bench.serving [--quick] [--home DIR] [--json]

What it measures, in one run (ratios are taken against figures of the same run, because the
machine is shared and absolute numbers drift):

* **in process**: the model the bento serves (``load_scoring_model`` on the bento's model folder)
  and the exact calls the service's ``predict`` makes (``requests_frame`` + ``score_flights`` with
  the service's LightGBM thread count), for 1-flight and 1,000-flight requests; plus what the
  service adds around them, each on its own: pydantic validation of the request, the prediction
  log append, and building the response objects.
* **served**: ``bentoml serve <latest bento>`` in its own process group on a free port (stopped,
  whatever happens), loaded by a separate load-generator process (``python -m bench.serving
  --loadgen SPEC``: asyncio + aiohttp, closed loop, one connection per simulated client) with
  single-flight ``POST /predict`` at concurrency 1, 8 and 32 (p50/p99 latency, requests/s) and
  with 1,000-flight requests (flights/s). Warm-up requests are sent first and not counted.

Payloads are real ``marts.fct_flights`` rows of ``FLIGHTLINE_HOME``'s warehouse. Serving answers
for the days on/after the snapshot's as-of day; when the warehouse holds no flights on those days
(the snapshot covers everything landed), the flights of the last 7 complete days are moved
forward by whole weeks onto the days from the as-of day on (weekday, hour and weather kept).
One informational row also scores flights of the past days (the general, per-request window path).

If the latest bento's code differs from the working tree, a bento of the same model is built
from the working tree first (``build=None``; ``True`` always builds, ``False`` never), so the
figures are those of the code under test. That writes to ``<home>/bentoml``: point ``home`` at a
copy of a data folder, never at one that must stay untouched.

:func:`run_serving_benchmark` returns one dict per figure:

    name      what was measured, e.g. "served single p99 c=8"
    value     the figure (float)
    unit      "ms", "req/s", "flights/s" or "ratio"
    baseline  the in-process figure it is compared with, or None
    ratio     value / baseline, or None
    target    the bound the figure must meet (``<=`` for ms, ``>=`` otherwise), or None
    met       whether the target is met (True when there is no target)
    note      how it was measured (counts, concurrency), free text
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENTO_NAME = "flight_delay_service"
READY_TIMEOUT_S = 120
BATCH_SIZE = 1_000
P99_TARGET_MS = 50.0
BATCH_RATIO_TARGET = 0.5


# --------------------------------------------------------------------------------------------
# The bento and its model, found on disk (no bentoml import: BENTOML_HOME is read once per
# process, and the caller's process may use another store)
# --------------------------------------------------------------------------------------------


def _bento_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FLIGHTLINE_HOME": str(home),
        "FLIGHTLINE_DUCKDB_PATH": str(home / "warehouse.duckdb"),
        "BENTOML_HOME": str(home / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
    }


def latest_bento(home: Path) -> tuple[str, Path, str] | None:
    """(bento tag, bento folder, pinned model tag) of the most recently built bento in ``home``."""
    import yaml

    found = []
    for info in (home / "bentoml" / "bentos" / BENTO_NAME).glob("*/bento.yaml"):
        meta = yaml.safe_load(info.read_text())
        found.append((str(meta["creation_time"]), meta, info.parent))
    if not found:
        return None
    _, meta, folder = max(found, key=lambda f: f[0])
    return f"{meta['name']}:{meta['version']}", folder, meta["labels"]["model_tag"]


def model_folder(home: Path, model_tag: str) -> Path:
    name, version = model_tag.split(":", 1)
    return home / "bentoml" / "models" / name / version


def stale_files(bento_folder: Path) -> list[str]:
    """Files of the bento's code that differ from the working tree (the code under test)."""
    src = bento_folder / "src"
    return sorted(
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if (PROJECT_ROOT / p.relative_to(src)).is_file()
        and (PROJECT_ROOT / p.relative_to(src)).read_bytes() != p.read_bytes()
    )


def build_bento_from_tree(home: Path, model_tag: str) -> str:
    """Build the working tree's service for ``model_tag`` into ``home`` (in a subprocess)."""
    code = f"from flightline.bento_store import build_bento\nprint(build_bento({model_tag!r})[0])\n"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=_bento_env(home),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


# --------------------------------------------------------------------------------------------
# Payloads: real flights from the warehouse
# --------------------------------------------------------------------------------------------


def request_body(row: dict[str, Any]) -> dict[str, Any]:
    """A fct_flights row as the service's request JSON (as tests/integration/test_service.py)."""
    from flightline.features import WEATHER_COLUMNS

    body: dict[str, Any] = {
        "flight_id": row["flight_id"],
        "carrier": row["carrier"],
        "flight": row["flight_number"],
        "tailnum": row["tailnum"],
        "origin": row["origin"],
        "dest": row["dest"],
        "scheduled_departure": row["sched_dep_local"].isoformat(),
        "distance": row["distance_miles"],
    }
    weather = {c: row[c] for c in WEATHER_COLUMNS}
    if any(v is not None for v in weather.values()):
        body["weather"] = weather
    return body


def load_payloads(home: Path, state: Any) -> tuple[list[dict], list[dict], str]:
    """(serving-day flights, past-day flights, how they were chosen) as valid request bodies."""
    import duckdb
    from pydantic import ValidationError

    from flightline.scoring import Flight
    from flightline.warehouse import read_table

    as_of = state.as_of_day
    first = state.first_complete_day or as_of - timedelta(days=7)
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        after = read_table(
            conn,
            "SELECT * FROM marts.fct_flights WHERE flight_date >= ? ORDER BY flight_id",
            [as_of],
        )
        past = read_table(
            conn,
            "SELECT * FROM marts.fct_flights WHERE flight_date >= ? AND flight_date < ? "
            "ORDER BY flight_id",
            [first, as_of],
        )
    if after.height >= BATCH_SIZE:
        future, how = after, f"fct_flights on/after the as-of day {as_of}"
    else:
        # Move the last complete days forward by whole weeks onto as_of_day and after.
        weeks = -(-(as_of - first).days // 7)
        future = past.with_columns(
            (pl.col("sched_dep_local") + pl.duration(weeks=weeks)).alias("sched_dep_local"),
            (pl.col("flight_id") + f"+{weeks}w").alias("flight_id"),
        )
        how = (
            f"fct_flights {first}..{as_of - timedelta(days=1)} moved {weeks} week(s) later "
            f"(no flights after the as-of day {as_of})"
        )

    def valid(frame: pl.DataFrame) -> list[dict]:
        out = []
        for row in frame.sample(fraction=1.0, shuffle=True, seed=13).iter_rows(named=True):
            body = request_body(row)
            try:
                Flight.model_validate(body)
            except ValidationError:
                continue
            out.append(body)
        return out

    return valid(future), valid(past), how


# --------------------------------------------------------------------------------------------
# In process
# --------------------------------------------------------------------------------------------


def _timed(fn: Callable[[], Any], repeat: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def in_process(
    model_path: Path, single: list[dict], batches: list[list[dict]], past: list[dict], quick: bool
) -> dict[str, Any]:
    """Timings (ms lists) of the service's steps on the bento's model, same calls as predict()."""
    from flightline.prediction_log import PredictionLog
    from flightline.scoring import (
        PredictRequest,
        Provenance,
        load_scoring_model,
        requests_frame,
        response_json,
        score_flights,
        score_request_batch,
    )

    num_threads = _service_num_threads()
    t0 = time.perf_counter()
    model = load_scoring_model(model_path)
    load_s = time.perf_counter() - t0
    provenance = Provenance(**model.provenance())
    log = PredictionLog(Path(tempfile.mkdtemp(prefix="bench-log-")))
    n1 = 100 if quick else 400
    nb = 5 if quick else 20

    def bare(flights: list[Any]) -> None:
        # What FlightDelay scores per request (alone, as at concurrency 1): frame, features, model.
        score_request_batch(model, [flights], num_threads=num_threads)

    parsed1 = [PredictRequest.model_validate({"flights": [b]}).flights for b in single[:n1]]
    parsed_b = [PredictRequest.model_validate({"flights": b}).flights for b in batches]
    parsed_past = [PredictRequest.model_validate({"flights": [b]}).flights for b in past[:n1]]
    it1, itb, itp = iter(parsed1 * 2), iter(parsed_b * 1000), iter(parsed_past * 2)
    out: dict[str, Any] = {"load_s": load_s}
    out["single"] = _timed(lambda: bare(next(it1)), n1 - 3)
    out["batch"] = _timed(lambda: bare(next(itb)), nb)
    out["past_single"] = _timed(lambda: bare(next(itp)), max(20, n1 // 4))
    # "explain": true adds LightGBM's pred_contrib and the top-5 selection per flight.
    out["explain_single"] = _timed(
        lambda: score_request_batch(model, [next(it1)], num_threads=num_threads, explain=True),
        max(20, n1 // 4),
    )
    out["explain_batch"] = _timed(
        lambda: score_request_batch(model, [next(itb)], num_threads=num_threads, explain=True),
        nb,
    )

    # The service's other steps, each on its own (single flight and batch).
    frame1, frame_b = requests_frame(parsed1[0]), requests_frame(parsed_b[0])
    scores1 = score_flights(model, frame1, num_threads=num_threads)
    scores_b = score_flights(model, frame_b, num_threads=num_threads)

    def respond(scores: pl.DataFrame) -> None:
        response_json(scores, provenance)  # what the service returns

    for label, body, frame, scores in (
        ("single", {"flights": single[:1]}, frame1, scores1),
        ("batch", {"flights": batches[0]}, frame_b, scores_b),
    ):
        reps = 50 if label == "single" else 10
        out[f"validate_{label}"] = _timed(lambda b=body: PredictRequest.model_validate(b), reps)
        flights = parsed1[0] if label == "single" else parsed_b[0]
        out[f"frame_{label}"] = _timed(lambda f=flights: requests_frame(f), reps)
        out[f"log_{label}"] = _timed(
            lambda f=frame, s=scores: log.append(f, s, model_version=model.version), reps
        )
        out[f"respond_{label}"] = _timed(lambda s=scores: respond(s), reps)
    return out


def _service_num_threads() -> int:
    """The LightGBM thread count bentos/service.py passes to score_flights."""
    from flightline.scoring import SERVING_NUM_THREADS

    return SERVING_NUM_THREADS


# --------------------------------------------------------------------------------------------
# Over HTTP
# --------------------------------------------------------------------------------------------


def run_load(url: str, bodies_file: Path, concurrency: int, requests: int, warmup: int) -> dict:
    """Run the load generator in a separate process; returns its JSON result."""
    spec = {
        "url": url,
        "bodies": str(bodies_file),
        "concurrency": concurrency,
        "requests": requests,
        "warmup": warmup,
    }
    out = subprocess.run(
        [sys.executable, "-m", "bench.serving", "--loadgen", json.dumps(spec)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


async def _load(spec: dict) -> dict:
    """Closed loop: ``concurrency`` clients, each sending its next request when one returns."""
    import aiohttp

    bodies = [line.encode() for line in Path(spec["bodies"]).read_text().splitlines() if line]
    concurrency, total, warmup = spec["concurrency"], spec["requests"], spec["warmup"]
    url = spec["url"] + "/predict"
    headers = {"content-type": "application/json"}
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))

    async def client(session: aiohttp.ClientSession, n: int, record: bool) -> None:
        nonlocal errors
        for _ in range(n):
            body = bodies[next(counter) % len(bodies)]
            t0 = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                ok = response.status == 200
            if record:
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += not ok

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        per = [warmup // concurrency + (i < warmup % concurrency) for i in range(concurrency)]
        await asyncio.gather(*(client(session, n, False) for n in per))
        per = [total // concurrency + (i < total % concurrency) for i in range(concurrency)]
        t0 = time.perf_counter()
        await asyncio.gather(*(client(session, n, True) for n in per))
        wall = time.perf_counter() - t0
    return {"latencies_ms": latencies, "wall_s": wall, "errors": errors}


def loadgen_main(spec_json: str) -> None:
    print(json.dumps(asyncio.run(_load(json.loads(spec_json)))))


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------


def _row(
    name: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    target: float | None = None,
    note: str = "",
    ratio_target: bool = False,
) -> dict:
    ratio = value / baseline if baseline else None
    if target is None:
        met = True
    elif ratio_target:
        met = ratio is not None and ratio >= target
    elif unit == "ms":
        met = value <= target
    else:
        met = value >= target
    return {
        "name": name,
        "value": round(value, 2),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, 2),
        "ratio": None if ratio is None else round(ratio, 3),
        "target": target,
        "met": met,
        "note": note,
    }


def run_serving_benchmark(
    home: Path, quick: bool = False, *, build: bool | None = None
) -> list[dict]:
    """Measure in process and over HTTP; rows as described in the module docstring.

    ``home``: a Flightline data folder with a warehouse and a built bento (it gains a bento when
    one is built, see ``build``). ``quick``: fewer requests (a smoke run; p99 is less stable).
    """
    home = Path(home).resolve()
    found = latest_bento(home)
    if found is None:
        raise RuntimeError(f"no {BENTO_NAME} bento under {home}/bentoml: build one first")
    bento_tag, bento_folder, model_tag = found
    stale = stale_files(bento_folder)
    built = ""
    if build or (build is None and stale):
        bento_tag = build_bento_from_tree(home, model_tag)
        built = f"; built {bento_tag} from the working tree (stale: {', '.join(stale) or '-'})"

    from flightline.features import load_state

    folder = model_folder(home, model_tag)
    state = load_state(folder / "online_features")
    single, past, how = load_payloads(home, state)
    if len(single) < BATCH_SIZE:
        raise RuntimeError(f"only {len(single)} valid flights for the payloads ({how})")
    n_batches = 3 if quick else 5
    batches = [
        [single[(i * BATCH_SIZE + j) % len(single)] for j in range(BATCH_SIZE)]
        for i in range(n_batches)
    ]
    n_single = 150 if quick else 600  # per concurrency level, after warm-up
    n_batch = 6 if quick else 20

    local = in_process(folder, single, batches, past, quick)

    workdir = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    single_file, batch_file = workdir / "single.jsonl", workdir / "batch.jsonl"
    single_file.write_text("".join(json.dumps({"flights": [b]}) + "\n" for b in single))
    batch_file.write_text("".join(json.dumps({"flights": b}) + "\n" for b in batches))
    served: dict[int | str, dict] = {}
    # Imported here, not at the top: the load-generator process imports this module too.
    from flightline.bento_store import start_bento_server, stop_bento_server, wait_until_ready

    process, url, log = start_bento_server(bento_tag, workdir, _bento_env(home))
    try:
        t0 = time.perf_counter()
        wait_until_ready(url, process, log, READY_TIMEOUT_S)
        ready_s = time.perf_counter() - t0
        for c in (1, 8, 32):
            served[c] = run_load(url, single_file, c, n_single, warmup=max(20, 2 * c))
        served["batch"] = run_load(url, batch_file, 1, n_batch, warmup=2)
    finally:
        stop_bento_server(process)

    rows: list[dict] = []
    one = local["single"]
    local_rps = 1000 / statistics.mean(one)
    rows.append(
        _row(
            "in-process single p50",
            _pct(one, 50),
            "ms",
            note=f"score_request_batch of one request, {len(one)} requests",
        )
    )
    rows.append(_row("in-process single p99", _pct(one, 99), "ms"))
    for kind, plain in (("single", one), ("batch", local["batch"])):
        explained = local[f"explain_{kind}"]
        rows.append(
            _row(
                f'in-process {kind} with "explain": true, p50',
                _pct(explained, 50),
                "ms",
                note=f"{_pct(explained, 50) / _pct(plain, 50):.2f}x the same without",
            )
        )
    rows.append(_row("in-process single req/s", local_rps, "req/s", note="one thread"))
    for c in (1, 8, 32):
        r = served[c]
        lat = r["latencies_ms"]
        note = f"{len(lat)} requests after warm-up, {r['errors']} errors"
        rows.append(_row(f"served single p50 c={c}", _pct(lat, 50), "ms", note=note))
        rows.append(
            _row(
                f"served single p99 c={c}",
                _pct(lat, 99),
                "ms",
                target=P99_TARGET_MS if c == 8 else None,
            )
        )
        rows.append(
            _row(f"served single req/s c={c}", len(lat) / r["wall_s"], "req/s", baseline=local_rps)
        )
    local_fps = BATCH_SIZE * 1000 / statistics.mean(local["batch"])
    b = served["batch"]
    served_fps = BATCH_SIZE * len(b["latencies_ms"]) / b["wall_s"]
    rows.append(
        _row(
            "in-process batch flights/s",
            local_fps,
            "flights/s",
            note=f"{BATCH_SIZE}-flight requests, {len(local['batch'])} runs",
        )
    )
    rows.append(
        _row(
            "served batch flights/s",
            served_fps,
            "flights/s",
            baseline=local_fps,
            target=BATCH_RATIO_TARGET,
            ratio_target=True,
            note=f"{BATCH_SIZE}-flight requests, c=1, {len(b['latencies_ms'])} "
            f"requests, {b['errors']} errors",
        )
    )
    rows.append(
        _row(
            "served batch p50",
            _pct(b["latencies_ms"], 50),
            "ms",
            baseline=statistics.median(local["batch"]),
        )
    )
    rows.append(
        _row(
            "in-process past-day single p50",
            _pct(local["past_single"], 50),
            "ms",
            note="days before the as-of day: per-request windows (general path)",
        )
    )
    for step in ("validate", "frame", "log", "respond"):
        for label in ("single", "batch"):
            rows.append(
                _row(
                    f"in-process {step} {label} p50",
                    _pct(local[f"{step}_{label}"], 50),
                    "ms",
                    note="service step outside score_flights",
                )
            )
    rows.append(_row("model load (with as-of memo)", local["load_s"] * 1000, "ms"))
    rows.append(
        _row("server ready", ready_s * 1000, "ms", note=f"{bento_tag}; payloads: {how}{built}")
    )
    return rows


def format_table(rows: list[dict]) -> str:
    head = (
        f"{'name':38s} {'value':>10s} {'unit':9s} {'baseline':>10s} {'ratio':>6s} "
        f"{'target':>7s} {'met':>4s}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        fmt = lambda v: "" if v is None else f"{v:g}"  # noqa: E731
        lines.append(
            f"{r['name']:38s} {r['value']:10.2f} {r['unit']:9s} {fmt(r['baseline']):>10s} "
            f"{fmt(r['ratio']):>6s} {fmt(r['target']):>7s} {'yes' if r['met'] else 'NO':>4s}"
        )
    notes = [f"  {r['name']}: {r['note']}" for r in rows if r["note"]]
    return "\n".join([*lines, "", "notes:", *notes])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", type=Path, default=None, help="data folder (default: FLIGHTLINE_HOME)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--build", choices=["auto", "always", "never"], default="auto")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--loadgen", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.loadgen:
        loadgen_main(args.loadgen)
        return
    home = args.home or Path(os.environ.get("FLIGHTLINE_HOME") or PROJECT_ROOT / "data")
    build = {"auto": None, "always": True, "never": False}[args.build]
    rows = run_serving_benchmark(home, quick=args.quick, build=build)
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))


if __name__ == "__main__":
    main()
