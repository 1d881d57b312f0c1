"""Local servers for the tests and benchmarks: a free port, and `bentoml serve` started,
awaited and stopped in a process group of its own. Nothing here is used by the platform itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for a `bentoml serve` of one's own)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_ready(
    url: str, process: subprocess.Popen, log: Path, timeout_s: float = 120.0
) -> None:
    """Poll ``url``/readyz until the server answers 200; fail fast (with its log) if it exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"bentoml serve exited with {process.returncode}:\n{log.read_text()[-5000:]}"
            )
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"not ready after {timeout_s}s:\n{log.read_text()[-5000:]}")


def start_bento_server(
    bento_tag: str, workdir: Path, env: dict[str, str], working_dir: Path | None = None
) -> tuple[subprocess.Popen, str, Path]:
    """``bentoml serve`` on a free local port in its own process group, logging to ``workdir``.

    ``bento_tag`` may also be a service's import path (``module:Class``) found in
    ``working_dir``. Returns (process, base URL, log file); wait with :func:`wait_until_ready`,
    stop with :func:`stop_bento_server`.
    """
    port = free_port()
    log = workdir / "serve.log"
    command = [sys.executable, "-m", "bentoml", "serve", bento_tag]
    if working_dir is not None:
        command += ["--working-dir", str(working_dir)]
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, f"http://127.0.0.1:{port}", log


def stop_bento_server(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
