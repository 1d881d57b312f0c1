"""The HTTP half of the serving benchmark: the no-work floors (Starlette; BentoML), the
adaptive-batching variant, the soak, and the CPU and memory of a server's process tree (see
bench/serving.py)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.loadgen import run_load
from bench.serving_inprocess import pct
from bench.serving_rows import CONCURRENCY

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def processes_by_rss(pid: int) -> list[tuple[int, int]]:
    """(resident bytes, pid) of every process under ``pid`` (the server's workers), largest
    first."""
    import psutil

    out = []
    for p in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):  # a process that just exited
            out.append((p.memory_info().rss, p.pid))
    return sorted(out, reverse=True)


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and every process under it."""
    import psutil

    total = 0.0
    root = psutil.Process(pid)
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def load_with_cpu(pid: int, *args: Any, **kwargs: Any) -> dict:
    """:func:`run_load`, plus ``cpu_s``: the CPU the server's processes spent meanwhile (less
    sensitive to other jobs on the machine than wall time; includes warm-up and idle work)."""
    before = _tree_cpu(pid)
    result = run_load(*args, **kwargs)
    result["cpu_s"] = _tree_cpu(pid) - before
    result["cpu_requests"] = kwargs.get("warmup", 0) + len(result["latencies_ms"])
    return result


def load_each_concurrency(
    pid: int, url: str, bodies: Path, n: int, min_warmup: int = 20
) -> dict[int, dict]:
    """:func:`load_with_cpu` at each concurrency of the table: ``n`` requests, after a warm-up of
    twice the concurrency (at least ``min_warmup``)."""
    return {
        c: load_with_cpu(pid, url, bodies, c, n, warmup=max(min_warmup, 2 * c)) for c in CONCURRENCY
    }


def _workers_rss(pid: int, workers: int) -> int:
    """Sum of the ``workers`` largest resident sets under ``pid``: the processes holding a model."""
    return sum(rss for rss, _ in processes_by_rss(pid)[:workers])


def measure_floor(workdir: Path, bodies: Path, n: int, workers: int) -> dict[int, dict]:
    """The no-work Starlette app under the same closed-loop load as the bento, per concurrency."""
    from bench.floor import start_floor
    from bench.local_servers import free_port
    from bench.local_servers import stop_bento_server as stop_floor  # a process group too

    port = free_port()
    process = start_floor(port, workers, workdir / "floor.log")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/predict", process)
        return load_each_concurrency(process.pid, url, bodies, n, min_warmup=50)
    finally:
        stop_floor(process)


def _wait_http(url: str, process: subprocess.Popen, timeout_s: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if url.endswith("/readyz"):
                if httpx.get(url, timeout=5).status_code == 200:
                    return
            elif httpx.post(url, json={"flights": []}, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout_s} s")


def measure_from_source(
    target: str,
    name: str,
    env: dict[str, str],
    workdir: Path,
    bodies: Path,
    n: int,
    workers: int,
) -> dict[int, dict]:
    """``bentoml serve <target>`` (a ``module:Class`` of this repository, whose service is called
    ``name``) with ``workers`` worker processes, under the bento's load at each concurrency."""
    from bench.local_servers import start_bento_server, stop_bento_server

    env = {**env, "BENTOML_CONFIG_OPTIONS": f"services.{name}.workers={workers}"}
    folder = workdir / name
    folder.mkdir(exist_ok=True)
    process, url, _ = start_bento_server(target, folder, env, working_dir=PROJECT_ROOT)
    try:
        _wait_http(url + "/readyz", process, 120)
        return load_each_concurrency(process.pid, url, bodies, n)
    finally:
        stop_bento_server(process)


def measure_adaptive(
    env: dict[str, str], model_tag: str, workdir: Path, bodies: Path, n: int, workers: int
) -> dict[int, dict]:
    """bench/adaptive_service.py (BentoML's adaptive batching) under the bento's load; ``env``:
    the bento's environment (its BentoML store holds ``model_tag``)."""
    env = {**env, "FLIGHTLINE_MODEL_TAG": model_tag}
    env["FLIGHTLINE_HOME"] = str(workdir / "adaptive_home")  # its prediction log, not home's
    target = "bench.adaptive_service:DelayServiceAdaptive"
    return measure_from_source(target, "delay_service_adaptive", env, workdir, bodies, n, workers)


def measure_bentoml_floor(
    env: dict[str, str], workdir: Path, bodies: Path, n: int, workers: int
) -> dict[str, dict[int, dict]]:
    """The no-work BentoML services of bench/bentoml_floor.py under the bento's load:
    ``{"api": ..., "plain": ...}`` (through ``@bentoml.api``; through the plain route)."""
    return {
        kind: measure_from_source(
            f"bench.bentoml_floor:{service}", name, env, workdir, bodies, n, workers
        )
        for kind, service, name in (
            ("api", "NoWorkApi", "no_work_api"),
            ("plain", "NoWorkPlain", "no_work_plain"),
        )
    }


def soak(url: str, pid: int, bodies: Path, rate: float, seconds: float, workers: int) -> dict:
    """Open-loop load at ``rate`` req/s for ``seconds``; RSS of the workers before and after."""
    rss_start = _workers_rss(pid, workers)
    result = run_load(url, bodies, 64, rate=rate, seconds=seconds)
    result["rss_start"], result["rss_end"] = rss_start, _workers_rss(pid, workers)
    windows = max(1, min(10, int(seconds // 30)))
    width = seconds / windows
    buckets: list[list[float]] = [[] for _ in range(windows)]
    for at, ms in zip(result["started_s"], result["latencies_ms"], strict=True):
        buckets[min(windows - 1, int(at // width))].append(ms)
    result["p99_windows"] = [round(pct(b, 99), 1) if b else None for b in buckets]
    result["window_s"] = width
    return result
