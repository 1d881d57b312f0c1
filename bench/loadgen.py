"""The serving benchmark's load generator, run in its own process (``python -m bench.loadgen``).

Two modes, both asyncio + aiohttp with one connection per simulated client, POSTing the request
bodies of a JSON Lines file in turn to ``<url><path>``:

* closed loop (``rate`` absent): ``concurrency`` clients, each sending its next request when the
  last one returned; ``warmup`` requests first, not counted;
* open loop (``rate`` req/s for ``seconds``): requests start on a fixed schedule whatever the
  answers, at most ``concurrency`` in flight (a request that would exceed it is not sent and is
  counted in ``skipped``, rather than silently lowering the rate); each latency is recorded with its start time so the
  soak can report p99 over time.

The same client loads the bento, the no-work floor (bench/floor.py) and the adaptive-batching
variant, so their figures compare.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def run_load(
    url: str,
    bodies_file: Path,
    concurrency: int,
    requests: int = 0,
    warmup: int = 0,
    *,
    path: str = "/predict",
    rate: float | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """Run the load generator in a separate process; returns its JSON result.

    Result: ``latencies_ms``, ``wall_s``, ``errors`` (non-200 answers and failed connections);
    open loop also ``started_s`` (start of each request, from the first).
    """
    spec = {
        "url": url + path,
        "bodies": str(bodies_file),
        "concurrency": concurrency,
        "requests": requests,
        "warmup": warmup,
        "rate": rate,
        "seconds": seconds,
    }
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", json.dumps(spec)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


async def _post(session: Any, url: str, body: bytes) -> bool:
    headers = {"content-type": "application/json"}
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            return response.status == 200
    except Exception:  # a refused or reset connection is an error of the run, not a crash
        return False


async def _closed(spec: dict, bodies: list[bytes], session: Any) -> dict[str, Any]:
    concurrency, total, warmup = spec["concurrency"], spec["requests"], spec["warmup"]
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))

    async def client(n: int, record: bool) -> None:
        nonlocal errors
        for _ in range(n):
            body = bodies[next(counter) % len(bodies)]
            t0 = time.perf_counter()
            ok = await _post(session, spec["url"], body)
            if record:
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += not ok

    per = [warmup // concurrency + (i < warmup % concurrency) for i in range(concurrency)]
    await asyncio.gather(*(client(n, False) for n in per))
    per = [total // concurrency + (i < total % concurrency) for i in range(concurrency)]
    t0 = time.perf_counter()
    await asyncio.gather(*(client(n, True) for n in per))
    return {"latencies_ms": latencies, "wall_s": time.perf_counter() - t0, "errors": errors}


async def _open(spec: dict, bodies: list[bytes], session: Any) -> dict[str, Any]:
    rate, seconds, limit = spec["rate"], spec["seconds"], spec["concurrency"]
    latencies: list[float] = []
    started: list[float] = []
    errors = skipped = 0
    in_flight = 0
    tasks: set[asyncio.Task] = set()

    async def one(body: bytes, at: float) -> None:
        nonlocal errors, in_flight
        t0 = time.perf_counter()
        ok = await _post(session, spec["url"], body)
        latencies.append((time.perf_counter() - t0) * 1000)
        started.append(at)
        errors += not ok
        in_flight -= 1

    begin = time.perf_counter()
    n = 0
    while (now := time.perf_counter() - begin) < seconds:
        due = n / rate
        if due > now:
            await asyncio.sleep(due - now)
        if in_flight >= limit:
            skipped += 1  # the server fell behind the schedule: count it, keep the rate
        else:
            in_flight += 1
            task = asyncio.create_task(one(bodies[n % len(bodies)], due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        n += 1
    await asyncio.gather(*tasks)
    return {
        "latencies_ms": latencies,
        "started_s": started,
        "wall_s": time.perf_counter() - begin,
        "errors": errors,
        "skipped": skipped,
        "sent": n - skipped,
    }


async def _load(spec: dict) -> dict[str, Any]:
    import aiohttp

    bodies = [line.encode() for line in Path(spec["bodies"]).read_text().splitlines() if line]
    connector = aiohttp.TCPConnector(limit=spec["concurrency"])
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if spec.get("rate"):
            return await _open(spec, bodies, session)
        return await _closed(spec, bodies, session)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_load(json.loads(sys.argv[1])))))
