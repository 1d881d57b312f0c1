"""Serving benchmark: the bento over real HTTP against the same code path in process.

    FLIGHTLINE_HOME=/tmp/fl_serve uv run python -m bench.serving [--quick] [--home DIR]
        [--soak-seconds 600] [--no-adaptive] [--no-bentoml-floor] [--json]

What it measures, in one run (ratios are taken against figures of the same run, because the
machine is shared and absolute numbers drift):

* **in process** (bench/serving_inprocess.py): the model the bento serves (``load_scoring_model``
  on the bento's model folder) and the calls the service makes with its LightGBM thread count:
  bare ``booster.predict`` of one row; ``serving_fast.score_requests`` of one flight (on and
  before the as-of day) and of 1,000 flights, with and without ``explain``; the general path
  (``score_request_batch``) for reference; and the service's other steps on their own (the
  plain parse of a request body, pydantic validation for comparison, the prediction-log write,
  the response JSON). As the service's workers do once their model is loaded, the garbage
  collector is frozen first (what exists is left out of its passes).
* **the HTTP floor** (bench/floor.py): a Starlette app on uvicorn that does no work, with as many
  workers as the bento, under the same load client: what HTTP alone costs on this machine.
* **the BentoML floor** (bench/bentoml_floor.py): services that do no work either, with the
  bento's BentoML settings, under ``bentoml serve`` and the same load, answered through a
  ``@bentoml.api`` and through the service's plain route: what BentoML's serving stack adds to
  the HTTP floor, and so what of the bento's cost is its own work.
* **served**: ``bentoml serve <latest bento>`` in its own process group on a free port (stopped,
  whatever happens), loaded by a separate load-generator process (bench/loadgen.py: asyncio +
  aiohttp, closed loop, one connection per simulated client) with single-flight
  ``POST /predict`` at concurrency 1, 8 and 32 (p50/p99 latency, requests/s) and with
  1,000-flight requests (flights/s). Warm-up requests are sent first and not counted. Then a
  soak: open-loop requests at 80% of the best req/s measured for ``soak_seconds``, with the
  errors, p99 per window and the workers' resident memory at its start and end.
* **adaptive batching** (bench/adaptive_service.py): the same scoring behind BentoML's
  ``batchable`` API instead of the service's own queue, same load.

Payloads are real ``marts.fct_flights`` rows of ``FLIGHTLINE_HOME``'s warehouse. Serving answers
for the days on/after the snapshot's as-of day; when the warehouse holds no flights on those days
(the snapshot covers everything landed), the flights of the last 7 complete days are moved
forward by whole weeks onto the days from the as-of day on (weekday, hour and weather kept).
The past-day rows score those 7 days as they are (the days before the as-of day).

If the latest bento's code differs from the working tree, a bento of the same model is built
from the working tree first (``build=None``; ``True`` always builds, ``False`` never), so the
figures are those of the code under test. That writes to ``<home>/bentoml``: point ``home`` at a
copy of a data folder, never at one that must stay untouched.

:func:`run_serving_benchmark` returns one dict per figure (bench/serving_rows.py):

    name      what was measured, e.g. "served single p99 c=8"
    value     the figure (float)
    unit      "ms", "req/s", "flights/s", "MiB" or "count"
    baseline  the figure of the same run it is compared with, or None
    ratio     value / baseline, or None
    target    the bound the figure (or, for ratio targets, the ratio) must meet, or None
    met       whether the target is met (True when there is no target)
    note      how it was measured (counts, concurrency), free text
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from bench.loadgen import run_load
from bench.serving_http import (
    load_each_concurrency,
    measure_adaptive,
    measure_bentoml_floor,
    measure_floor,
    soak,
)
from bench.serving_inprocess import in_process
from bench.serving_rows import BATCH_SIZE, CONCURRENCY, build_rows, format_table

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENTO_NAME = "delay_service"
READY_TIMEOUT_S = 120
DEFAULT_SOAK_S = 600.0
SOAK_LOAD = 0.8  # of the best req/s measured: loaded, not saturated


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


def valid_requests(flights: pl.DataFrame) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(row, request body) for each fct_flights row that validates as a request (a few real tail
    numbers do not), in the frame's order."""
    from pydantic import ValidationError

    from flightline.prediction_schema import Flight

    for row in flights.iter_rows(named=True):
        body = request_body(row)
        try:
            Flight.model_validate(body)
        except ValidationError:
            continue
        yield row, body


def load_payloads(home: Path, state: Any) -> tuple[list[dict], list[dict], str]:
    """(serving-day flights, past-day flights, how they were chosen) as valid request bodies."""
    import duckdb

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
        shuffled = frame.sample(fraction=1.0, shuffle=True, seed=13)
        return [body for _, body in valid_requests(shuffled)]

    return valid(future), valid(past), how


def run_serving_benchmark(
    home: Path,
    quick: bool = False,
    *,
    build: bool | None = None,
    soak_seconds: float = DEFAULT_SOAK_S,
    adaptive: bool = True,
    bentoml_floor: bool = True,
    workers: int | None = None,
) -> list[dict]:
    """Measure in process and over HTTP; rows as described in the module docstring.

    ``home``: a Flightline data folder with a warehouse and a built bento (it gains a bento when
    one is built, see ``build``). ``quick``: fewer requests (a smoke run; p99 is less stable).
    ``soak_seconds``: the open-loop soak's length (0: none). ``adaptive``: also measure
    BentoML's adaptive batching (bench/adaptive_service.py). ``bentoml_floor``: also measure the
    no-work BentoML services (bench/bentoml_floor.py). ``workers``: the bento's worker
    processes (default: the service's own setting, one per CPU); the floor gets as many.
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
    n_single = 300 if quick else 2000  # per concurrency level, after warm-up
    n_batch = 6 if quick else 20
    env = _bento_env(home)
    if workers is not None:
        env["BENTOML_CONFIG_OPTIONS"] = f"services.delay_service.workers={workers}"
    workers = workers or os.cpu_count() or 1  # the service's workers="cpu_count"

    local = in_process(folder, single, batches, past, quick)

    workdir = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    single_file, batch_file = workdir / "single.jsonl", workdir / "batch.jsonl"
    single_file.write_text("".join(json.dumps({"flights": [b]}) + "\n" for b in single))
    batch_file.write_text("".join(json.dumps({"flights": b}) + "\n" for b in batches))
    m: dict[str, Any] = {"local": local, "how": how, "built": built, "bento_tag": bento_tag}
    m["workers"] = workers
    m["floor"] = measure_floor(workdir, single_file, n_single, workers)
    if bentoml_floor:
        m["bentoml_floor"] = measure_bentoml_floor(
            _bento_env(home), workdir, single_file, n_single, workers
        )
    # Imported here, not at the top: the load-generator process imports bench modules too.
    from bench.local_servers import start_bento_server, stop_bento_server, wait_until_ready

    served: dict[int | str, dict] = {}
    process, url, log = start_bento_server(bento_tag, workdir, env)
    try:
        t0 = time.perf_counter()
        wait_until_ready(url, process, log, READY_TIMEOUT_S)
        m["ready_s"] = time.perf_counter() - t0
        served.update(load_each_concurrency(process.pid, url, single_file, n_single))
        served["batch"] = run_load(url, batch_file, 1, n_batch, warmup=2)
        if soak_seconds > 0:
            best = max(len(served[c]["latencies_ms"]) / served[c]["wall_s"] for c in CONCURRENCY)
            m["soak_rate"] = round(SOAK_LOAD * best)
            m["soak"] = soak(url, process.pid, single_file, m["soak_rate"], soak_seconds, workers)
    finally:
        stop_bento_server(process)
    m["served"] = served
    if adaptive:
        m["adaptive"] = measure_adaptive(
            _bento_env(home), model_tag, workdir, single_file, n_single, workers
        )
    return build_rows(m)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", type=Path, default=None, help="data folder (default: FLIGHTLINE_HOME)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--build", choices=["auto", "always", "never"], default="auto")
    parser.add_argument(
        "--soak-seconds", type=float, default=DEFAULT_SOAK_S, help="open-loop soak (0: none)"
    )
    parser.add_argument("--no-adaptive", action="store_true", help="skip adaptive batching")
    parser.add_argument(
        "--no-bentoml-floor", action="store_true", help="skip the no-work BentoML services"
    )
    parser.add_argument("--workers", type=int, default=None, help="bento worker processes")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    home = args.home or Path(os.environ.get("FLIGHTLINE_HOME") or PROJECT_ROOT / "data")
    build = {"auto": None, "always": True, "never": False}[args.build]
    rows = run_serving_benchmark(
        home,
        quick=args.quick,
        build=build,
        soak_seconds=args.soak_seconds,
        adaptive=not args.no_adaptive,
        bentoml_floor=not args.no_bentoml_floor,
        workers=args.workers,
    )
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))


if __name__ == "__main__":
    main()
