"""The BentoML floor of the serving benchmark: services that do no work, served by ``bentoml serve``.

``POST /predict`` reads the body and answers bench/floor.py's fixed document, with the delay
service's BentoML settings (bentos/service.py: workers, traffic timeout, ``/predict`` left out
of tracing, the small app mounted at ``/``), so the difference to the Starlette floor is what
BentoML's serving stack costs a request and the difference to the real service is our own work:

* :class:`NoWorkApi`: through a ``@bentoml.api`` (BentoML's input model, serde and dispatch);
* :class:`NoWorkPlain`: answered by ``ServiceGuard``'s plain route ahead of the API wrapper, as
  the delay service answers a plainly valid body.

Served from source: ``bentoml serve bench.bentoml_floor:NoWorkPlain --working-dir <repo>``.
"""

from __future__ import annotations

from typing import Any

import bentoml
from starlette.applications import Starlette
from starlette.responses import Response

from bench.floor import ANSWER
from flightline.service_http import ServiceGuard

# The delay service's @bentoml.service settings (bentos/service.py), but its name.
SETTINGS: dict[str, Any] = {
    "traffic": {"timeout": 60},
    "workers": "cpu_count",
    "tracing": {"excluded_urls": "/predict"},
}
# Stands for the delay service's mounted /model_card app: BentoML's router has the same shape.
mounted = Starlette()


async def answer(body: bytes) -> tuple[int, bytes]:
    return 200, ANSWER


@bentoml.asgi_app(mounted, path="/")
@bentoml.service(name="no_work_api", **SETTINGS)
class NoWorkApi:
    @bentoml.api
    async def predict(self, flights: list) -> dict:
        # A Response is sent as it is, as the delay service's (the annotation is the schema).
        return Response(ANSWER, media_type="application/json")


@bentoml.asgi_app(mounted, path="/")
@bentoml.service(name="no_work_plain", **SETTINGS)
class NoWorkPlain:
    @bentoml.api
    async def predict(self, flights: list) -> dict:  # bodies the plain route passes on
        return Response(ANSWER, media_type="application/json")


NoWorkPlain.add_asgi_middleware(ServiceGuard, plain_routes={"/predict": answer})
