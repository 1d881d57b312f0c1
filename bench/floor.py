"""The HTTP floor of the serving benchmark: a Starlette app on uvicorn that does no work.

``POST /predict`` reads the body and answers a fixed JSON document: what one request costs this
machine's HTTP stack (uvicorn + Starlette, as under BentoML) and the load generator, with no
validation, features, model or log. Served with as many worker processes as the bento.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ANSWER = b'{"predictions":[{"flight_id":"0","delay_probability":0.2,"delayed":false}]}'


async def predict(request: Request) -> Response:
    await request.body()
    return Response(ANSWER, media_type="application/json")


app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])


def start_floor(port: int, workers: int, log: Path) -> subprocess.Popen:
    """``uvicorn bench.floor:app`` on 127.0.0.1:``port`` in its own process group."""
    command = [sys.executable, "-m", "uvicorn", "bench.floor:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    with log.open("w") as out:
        return subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
