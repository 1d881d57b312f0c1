"""Flightline delay service: will a flight out of New York arrive 15+ minutes late?

    POST /predict           {"flights": [{carrier, flight, tailnum, origin, dest,
                             scheduled_departure, distance?, weather?}, ...]}
    GET|POST /model_card    the model card (metrics, features, data window, versions)

Build a bento pinned to one model with ``flightline.bento_store.build_bento(model_tag)``, then
``bentoml serve delay_service:<version>``. Validation, features and scoring are plain code
in ``flightline.scoring``; this module only wires them to HTTP.

A ``POST /predict`` body that is plainly valid (:mod:`flightline.serving_request`: the common
case) is answered by ``ServiceGuard`` ahead of BentoML's API wrapper, whose pydantic input model,
serde and dispatch cost ~2 ms of CPU per request, several times the scoring of a flight; any
other body goes to the :meth:`DelayService.predict` API, which validates it with pydantic and
answers errors as BentoML does. Both score through the same queue.

Requests that arrive together are scored together in one call
(:func:`flightline.serving_fast.score_requests`; each gets its own response and log lines): a
scoring call costs about the same for 1 or 50 flights, so under concurrency this multiplies
throughput. The first request, finding no batch under way, leads one: it lets the event loop
turn once (the requests already received join it, each waiting on a future) and then scores the
batch in its own task, so a lone request needs no future and no drain task and never waits for
another. Scoring runs on the event loop: a scoring thread cannot run alongside it (the GIL), and
handing each batch to it and back cost ~1 ms of CPU per request in a profile of the worker. One
worker per CPU.

A batch of up to 16 flights is scored through LightGBM's single-row C API
(:mod:`flightline.row_predict`), its requests' features are assembled in one call, and the
prediction log's file stays open between requests
(:class:`flightline.prediction_log.PredictionLog`): see BENCHMARKS.md, run 7.

Why this queue and not BentoML's adaptive batching (``batchable=True``; measured side by side
by bench/serving.py with bench/adaptive_service.py, figures in BENCHMARKS.md): a batchable API
takes exactly one argument and sees a flat list of flights, so it cannot keep this API's
contract (``explain``, a 422 or 503 for one request without failing the others, one log write
and request id per request, the ``provenance`` document); it adds a wait of up to
``max_latency_ms`` for a lone request, and it answers 503 when it cannot meet that bound (most
requests at c=8 with 20 ms). Measured on the same load, it spent more server CPU per request
than this queue at every concurrency; its wall-clock throughput was higher at c=32 only.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import bentoml
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flightline.prediction_log import PredictionLog, PredictionLogUnavailable
from flightline.prediction_schema import (
    DEFAULT_MAX_ROWS,
    Flight,
    PredictRequest,
    PredictResponse,
    Provenance,
)
from flightline.scoring import (
    DEFAULT_MAX_STALE_DAYS,
    SERVING_NUM_THREADS,
    load_scoring_model,
    stale_flight_errors,
)
from flightline.service_http import PlainRoute, ServiceGuard, json_body
from flightline.serving_fast import ValidFlight, score_requests
from flightline.serving_request import parse_plain_request

logger = logging.getLogger("flightline.service")


class Args(BaseModel):
    # Pinned at build time (bento_store.build_bento); "latest" only for `bentoml serve` from source.
    model_tag: str = "delay_model:latest"
    max_rows: int = DEFAULT_MAX_ROWS
    # Flights further past the snapshot's as-of day are refused with 422 (never scored silently).
    max_stale_days: int = int(os.environ.get("FLIGHTLINE_MAX_STALE_DAYS", DEFAULT_MAX_STALE_DAYS))


args = bentoml.use_arguments(Args)


class FlightsRequest(PredictRequest):
    max_rows = args.max_rows


# BentoML APIs answer POST only; GET /model_card comes from this small mounted app.
_card: dict = {}
# POST routes that ServiceGuard answers itself (filled when the worker's service starts).
_plain_routes: dict[str, PlainRoute] = {}
# A queued request: its flights, whether it asked for explanations, and its answer to come
# (None: the request that leads the batch, which scores it in its own task).
Queued = tuple[Sequence[ValidFlight], bool, asyncio.Future[tuple[int, bytes]] | None]


async def get_model_card(request: Request) -> JSONResponse:
    return JSONResponse(_card) if _card else JSONResponse({"error": "not ready"}, 503)


card_app = Starlette(routes=[Route("/model_card", get_model_card, methods=["GET"])])


def bento_tag() -> str | None:
    ctx = bentoml.server_context
    if ctx.bento_name and ctx.bento_version not in ("", "not available"):
        return f"{ctx.bento_name}:{ctx.bento_version}"
    return os.environ.get("FLIGHTLINE_BENTO_TAG")  # serving from source: whatever the caller says


@bentoml.asgi_app(card_app, path="/")
# Scoring is CPU-bound Python + Polars: one worker process per core (the GIL caps a worker at one).
# BentoML's OpenTelemetry middleware opens spans for every request even with no exporter
# configured (the default), where they are dropped: measured in process, 0.8-1.2 ms of CPU per
# single-flight request, more than scoring it. /predict is left out of tracing; to trace it,
# configure an exporter and set services.delay_service.tracing.excluded_urls (BENTOML_CONFIG_OPTIONS).
@bentoml.service(
    name="delay_service",
    traffic={"timeout": 60},
    workers="cpu_count",
    tracing={"excluded_urls": "/predict"},
)
class DelayService:
    model_ref = bentoml.models.BentoModel(args.model_tag)

    def __init__(self) -> None:
        self.model = load_scoring_model(self.model_ref.path)
        self.provenance = Provenance(
            **self.model.provenance(), model_tag=str(self.model_ref.tag), bento_tag=bento_tag()
        )
        self._provenance_json = self.provenance.model_dump_json().encode()
        serving = {"model_tag": self.provenance.model_tag, "bento_tag": self.provenance.bento_tag}
        limits = {"max_rows": args.max_rows, "max_stale_days": args.max_stale_days}
        _card.update(self.model.card, serving={**serving, **limits})
        # Every served prediction goes to <FLIGHTLINE_HOME>/prediction_log/ (set FLIGHTLINE_HOME
        # when serving a bento: the default data folder is relative to the code); the day's
        # file stays open between requests.
        self.log = PredictionLog()
        # Requests received while a leading request lets the loop turn join its batch.
        self._queue: list[Queued] = []
        self._draining = False
        self._drainer: asyncio.Task | None = None
        _plain_routes["/predict"] = self.predict_plain
        # The model's objects live as long as the worker: kept out of the garbage collector's
        # full passes, which otherwise walk all of them while a 1,000-flight request allocates.
        gc.collect()
        gc.freeze()

    @bentoml.api(input_spec=FlightsRequest)
    async def predict(self, flights: list[Flight], explain: bool = False) -> PredictResponse:
        """Delay probabilities for 1 to max_rows flights, scored in one vectorized call."""
        # Returns a Response holding the PredictResponse JSON (the annotation is the schema).
        status, body = await self._submit(flights, explain)
        return Response(content=body, status_code=status, media_type="application/json")

    async def predict_plain(self, body: bytes) -> tuple[int, bytes] | None:
        """``POST /predict`` ahead of BentoML's API (ServiceGuard): a plainly valid body is
        parsed without pydantic and scored; None hands any other body to :meth:`predict`."""
        parsed = parse_plain_request(body, args.max_rows)
        return None if parsed is None else await self._submit(*parsed)

    async def _submit(self, flights: Sequence[ValidFlight], explain: bool) -> tuple[int, bytes]:
        """(HTTP status, JSON body) of one validated request, scored with the queued ones."""
        stale = stale_flight_errors(flights, self.model.state.as_of_day, args.max_stale_days)
        if stale:
            error = f"{len(stale)} flight(s) too far past the feature snapshot"
            return 422, json_body({"error": error, "detail": stale[:20]})
        if self._draining:  # another request leads a batch: join it
            future: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
            self._queue.append((flights, explain, future))
            return await future
        # This request leads the batch and scores it in its own task (no future, no drain task).
        self._draining = True
        own: Queued = (flights, explain, None)
        self._queue.append(own)
        try:
            # One turn of the event loop first, so that requests already received join the
            # batch: scoring runs on the loop, so none can join while it runs.
            await asyncio.sleep(0)
        except asyncio.CancelledError:  # the client went away: the others go on without it
            self._queue = [q for q in self._queue if q is not own]
            if self._queue:
                self._drainer = asyncio.get_running_loop().create_task(self._drain())
            else:
                self._draining = False
            raise
        try:
            answer = self._drain_queue()
        finally:
            self._draining = False
        if answer is None:  # never: the leader is in the first batch
            raise RuntimeError("the leading request was not scored")
        return answer

    async def _drain(self) -> None:
        """Score the requests a cancelled leader left queued."""
        try:
            self._drain_queue()
        finally:
            self._draining = False

    def _drain_queue(self) -> tuple[int, bytes] | None:
        """Score queued requests, a batch at a time, until the queue is empty: each follower's
        future gets its answer; returns the leader's (raises its error), None without one."""
        mine: tuple[int, bytes] | None = None
        error: Exception | None = None
        while self._queue:
            batch = self._next_batch()
            requests = [(flights, explain) for flights, explain, _ in batch]
            try:
                responses = self._score(requests)
            except Exception as exc:  # every request of the batch gets the error
                for _, _, future in batch:
                    if future is None:
                        error = exc
                    elif not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), response in zip(batch, responses, strict=True):
                if future is None:
                    mine = response
                elif not future.done():  # a client that went away has a cancelled future
                    future.set_result(response)
        if error is not None:
            raise error
        return mine

    def _next_batch(self) -> list[Queued]:
        """The oldest queued requests, up to max_rows flights in all (at least one request)."""
        rows, take = 0, 0
        for flights, _, _ in self._queue:
            if take and rows + len(flights) > args.max_rows:
                break
            rows += len(flights)
            take += 1
        batch, self._queue = self._queue[:take], self._queue[take:]
        return batch

    def _score(self, requests: list[tuple[Sequence[ValidFlight], bool]]) -> list[tuple[int, bytes]]:
        responses = []
        explain = any(e for _, e in requests)  # explained together; dropped where not asked
        scored = score_requests(
            self.model, [f for f, _ in requests], num_threads=SERVING_NUM_THREADS, explain=explain
        )
        served_at = datetime.now(UTC)
        for scores, (_, wanted) in zip(scored, requests, strict=True):
            if explain and not wanted:
                scores = replace(scores, explanations=None)
            # No prediction is served unless it is logged (prediction_log.py): a failed write
            # fails its request with 503, which the client can retry.
            try:
                lines = scores.log_lines(
                    model_version=self.provenance.model_version,
                    bento_tag=self.provenance.bento_tag,
                    served_at=served_at,
                )
                self.log.write_lines(lines, served_at)
            except PredictionLogUnavailable as exc:
                n = len(scores.flights)
                logger.error("%s: answered 503 to a request of %d flights", exc, n)
                error = f"{exc}: no prediction is served unlogged; retry later"
                responses.append((503, json_body({"error": error})))
                continue
            # The PredictResponse document written from arrays: pydantic objects per flight
            # would cost more than the scoring.
            responses.append((200, scores.response_json(self._provenance_json)))
        return responses

    @bentoml.on_shutdown
    def close_log(self) -> None:
        """The prediction log's open file is closed when the worker stops."""
        self.log.close()

    def __is_ready__(self) -> bool:
        """/readyz answers 503 while the prediction log cannot be written."""
        problem = self.log.check()
        if problem:
            logger.error("not ready: %s", problem)
        return problem is None

    @bentoml.api(route="/model_card")
    def model_card(self) -> dict:
        """The model card: metrics, features, training data window, versions."""
        return _card


# The request body limit (413; FLIGHTLINE_MAX_BODY_BYTES), /docs.json as it really answers, and
# plainly valid POST /predict bodies answered before BentoML's API wrapper (its pydantic model,
# serde and dispatch cost ~2 ms per request: several times a single flight's scoring).
DelayService.add_asgi_middleware(
    ServiceGuard,
    openapi=lambda: DelayService.openapi_spec.asdict(),
    plain_routes=_plain_routes,
)
