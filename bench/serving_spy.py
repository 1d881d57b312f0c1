"""Where a served worker spends its time under load: ``py-spy`` samples one worker of the bento.

    FLIGHTLINE_HOME=<data folder with a bento> uv run python -m bench.serving_spy \
        [--concurrency 8] [--requests 40000] [--seconds 20] [--py-spy py-spy] [--top 30]

``bentoml serve`` runs the data folder's newest bento; after a warm-up, the same client as
bench/serving.py sends single-flight requests at ``--concurrency`` while ``py-spy record`` samples
the worker with the largest resident set for ``--seconds`` (``--nonblocking``: the worker is not
paused). It prints the shares of the samples by function, own and inclusive. Unlike
bench/serving_profile.py (in process, one request at a time, cProfile), this sees the worker as
it runs under concurrent HTTP load: uvicorn, BentoML's middleware, batching and the event loop.

py-spy is not one of the project's dependencies: ``uv tool install py-spy`` puts it on PATH.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from bench.loadgen import run_load
from bench.local_servers import start_bento_server, stop_bento_server, wait_until_ready
from bench.serving import _bento_env, latest_bento, load_payloads, model_folder
from bench.serving_http import processes_by_rss
from flightline import settings
from flightline.features import load_state


def largest_child(pid: int) -> int:
    """The process under ``pid`` with the largest resident set: a worker holding the model."""
    processes = processes_by_rss(pid)
    if not processes:
        raise RuntimeError(f"no worker process under {pid}")
    return processes[0][1]


def _frame_name(frame: str) -> str:
    """``function (file)`` with the file shortened to the package or project path."""
    m = re.match(r"(.*) \((.*):\d+\)$", frame)
    if not m:
        return frame
    function, path = m.groups()
    path = re.sub(r".*site-packages/", "", path)
    return f"{function} ({re.sub(f'^{re.escape(str(settings.PROJECT_ROOT))}/', '', path)})"


def sample_shares(raw: str) -> tuple[int, Counter, Counter]:
    """(samples, own counts, inclusive counts) by function, from py-spy's ``--format raw``."""
    own: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        names = [_frame_name(f) for f in stack.split(";")]
        total += n
        own[names[-1]] += n
        for name in set(names):
            inclusive[name] += n
    return total, own, inclusive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=settings.paths().home)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=40_000, help="more than --seconds needs")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--py-spy", default="py-spy")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    found = latest_bento(args.home)
    if found is None:
        raise SystemExit(f"no bento in {args.home}: run `flightline run` first")
    bento_tag, _, model_tag = found
    state = load_state(model_folder(args.home, model_tag) / "online_features")
    single, _, _ = load_payloads(args.home, state)
    workdir = Path(tempfile.mkdtemp(prefix="bench-spy-"))
    bodies = workdir / "single.jsonl"
    bodies.write_text("".join(json.dumps({"flights": [b]}) + "\n" for b in single))
    out = workdir / "samples.txt"
    process, url, log = start_bento_server(bento_tag, workdir, _bento_env(args.home))
    try:
        wait_until_ready(url, process, log)
        run_load(url, bodies, args.concurrency, 500, warmup=50)
        worker = largest_child(process.pid)
        spy = subprocess.Popen(
            [args.py_spy, "record", "-p", str(worker), "-d", str(args.seconds), "-r", "200"]
            + ["-f", "raw", "-o", str(out), "--nonblocking"]
        )
        result = run_load(url, bodies, args.concurrency, args.requests)
        spy.wait()
    finally:
        stop_bento_server(process)
    rate = len(result["latencies_ms"]) / result["wall_s"]
    total, own, inclusive = sample_shares(out.read_text())
    print(f"{bento_tag}: c={args.concurrency}, {rate:,.0f} req/s; worker {worker}, {total} samples")
    for title, counts in (("own", own), ("inclusive", inclusive)):
        print(f"--- {title}")
        for name, n in counts.most_common(args.top):
            print(f"{100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
