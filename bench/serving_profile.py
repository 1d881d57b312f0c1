"""Where a served ``POST /predict`` spends its CPU: the service's whole ASGI app, in process.

    FLIGHTLINE_HOME=<data folder with a bento> uv run python -m bench.serving_profile \
        [--flights 1000] [--requests 200] [--profile out.prof] [--top 40] [--service module:Class]

The service class of ``bentos/service.py`` (the working tree's code) is turned into the ASGI app
``bentoml serve`` runs (``Service.to_asgi()``: BentoML's middleware stack, the service's own
middleware and routes), its lifespan is started (the service instance loads the newest model of
the data folder's BentoML store: the service's default model tag), and requests are sent to it
directly, one at a time, with no HTTP and no sockets. It prints the CPU time per request
(``time.process_time``) of the request kind asked for and of ``GET /livez`` (BentoML's
middleware alone), then, with ``--profile``, the functions with the most cumulative and most own
time (cProfile) over the same requests. ``--service bench.bentoml_floor:NoWorkPlain`` measures
the no-work service the same way instead: what BentoML and the plain route cost without the
service's own work.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import json
import os
import pstats
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.serving import _bento_env, latest_bento, load_payloads, model_folder

Message = dict[str, Any]


async def _lifespan(app: Callable) -> Callable[[], Any]:
    """Start the app's lifespan (the service instance is created there); returns a stopper."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the service did not start: {started}")

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task

    return stop


async def request(app: Callable, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """One request through the ASGI app: (status, response body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 3000),
        "state": {},
    }
    sent = False
    status, chunks = 0, []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # as a server: nothing more until the client goes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def cpu_per_request(app: Callable, method: str, path: str, bodies: list[bytes]) -> float:
    """Mean CPU milliseconds per request over ``bodies``, sent one at a time."""
    for body in bodies[:3]:  # warm-up
        await request(app, method, path, body)
    t0 = time.process_time()
    for body in bodies:
        status, _ = await request(app, method, path, body)
        if status != 200:
            raise RuntimeError(f"{method} {path} answered {status}")
    return (time.process_time() - t0) * 1000 / len(bodies)


async def profile_service(
    home: Path,
    flights: int,
    requests: int,
    profile: Path | None,
    top: int,
    service: str | None = None,
) -> dict[str, float]:
    """CPU ms per request of ``flights``-flight ``POST /predict`` and ``GET /livez`` of
    ``service`` (``module:Class``; default: the delay service)."""
    found = latest_bento(home)
    if found is None:
        raise RuntimeError(f"no bento under {home}/bentoml")
    _, _, model_tag = found
    os.environ.update(_bento_env(home))
    os.environ["FLIGHTLINE_HOME"] = tempfile.mkdtemp(prefix="profile-log-")  # the log goes here
    from flightline.features import load_state

    state = load_state(model_folder(home, model_tag) / "online_features")
    single, _, _ = load_payloads(home, state)
    payloads = [
        json.dumps({"flights": [single[(i * flights + j) % len(single)] for j in range(flights)]})
        for i in range(min(requests, 20))
    ]
    bodies = [payloads[i % len(payloads)].encode() for i in range(requests)]

    # Imported once BENTOML_HOME names the data folder's store ("latest" is its newest model).
    from flightline.bento_store import SERVICE

    module, name = (service or SERVICE).split(":")
    app = getattr(importlib.import_module(module), name).to_asgi()
    stop = await _lifespan(app)
    try:
        out = {
            "livez_ms": await cpu_per_request(app, "GET", "/livez", [b""] * max(requests, 200)),
            "predict_ms": await cpu_per_request(app, "POST", "/predict", bodies),
        }
        if profile is not None:
            profiler = cProfile.Profile()
            profiler.enable()
            for body in bodies:
                await request(app, "POST", "/predict", body)
            profiler.disable()
            profiler.dump_stats(profile)
            stats = pstats.Stats(profiler).sort_stats("cumulative")
            stats.print_stats(top)
            stats.sort_stats("tottime").print_stats(top)
    finally:
        await stop()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None, help="data folder with a bento")
    parser.add_argument("--flights", type=int, default=1000, help="flights per request")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--profile", type=Path, default=None, help="cProfile output file")
    parser.add_argument("--top", type=int, default=40, help="functions printed")
    parser.add_argument("--service", default=None, help="module:Class (default: the delay service)")
    args = parser.parse_args(argv)
    home = (args.home or Path(os.environ["FLIGHTLINE_HOME"])).resolve()
    out = asyncio.run(
        profile_service(home, args.flights, args.requests, args.profile, args.top, args.service)
    )
    print(json.dumps({"flights": args.flights, **{k: round(v, 3) for k, v in out.items()}}))


if __name__ == "__main__":
    main()
