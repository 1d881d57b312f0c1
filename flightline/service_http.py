"""HTTP limits and the OpenAPI document of the delay service. Plain ASGI; no BentoML import.

* :class:`ServiceGuard` (an ASGI middleware) refuses a request body larger than
  ``FLIGHTLINE_MAX_BODY_BYTES`` (default :data:`DEFAULT_MAX_BODY_BYTES`) with **413** before the
  service parses it: it reads at most that many bytes, whether or not the client declared a
  ``Content-Length``. It also serves ``GET /docs.json`` as :func:`openapi_document` corrects it.
* It answers the ``POST`` routes given as ``plain_routes`` itself, ahead of the service (see
  :data:`PlainRoute`).
* :func:`openapi_document` fixes what BentoML's generated document gets wrong for this service:
  the 400 body (``detail`` is a list of located errors, or the body is a one-item list for a
  request that is not JSON), the 413/503 answers, ``GET /model_card`` and the probes' 503.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# A POST route answered by the guard: the request body in, (status, JSON body) out, or None to
# pass the request on to the service unchanged.
PlainRoute = Callable[[bytes], Awaitable[tuple[int, bytes] | None]]

MAX_BODY_ENV = "FLIGHTLINE_MAX_BODY_BYTES"
# Bodies parsed as JSON; curl's default form type and text/plain are JSON too when they parse.
JSON_LIKE = {b"application/json", b"text/plain", b"application/x-www-form-urlencoded"}
# A full request of 10,000 flights with weather is ~3.4 MB of compact JSON; 16 MiB leaves room for
# indented JSON while keeping a worker's memory bounded (the body, parsed, is ~10x its size).
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


def max_body_bytes() -> int:
    """The limit from ``FLIGHTLINE_MAX_BODY_BYTES`` (bytes), else the default."""
    value = os.environ.get(MAX_BODY_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_BODY_BYTES
    limit = int(value)
    if limit <= 0:
        raise ValueError(f"{MAX_BODY_ENV} must be a positive number of bytes, got {value!r}")
    return limit


def quote_header(value: bytes) -> str:
    text = value.decode("latin-1")
    return repr(text if len(text) <= 40 else f"{text[:40]}...")


def json_body(content: Any) -> bytes:
    """JSON as Starlette's ``JSONResponse`` writes it (compact, UTF-8)."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


async def _send(send: Send, status: int, data: bytes, close: bool = False) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    # An error before the body was read: the rest of it is not read either.
    await _send(send, status, json.dumps(body).encode(), close=True)


class ServiceGuard:
    """ASGI middleware: the request body limit (413), the corrected ``/docs.json`` and the
    ``plain_routes`` (path -> :data:`PlainRoute`, for POST; read when a request comes, so the
    service may fill the mapping when it starts)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int | None = None,
        openapi: Callable[[], dict[str, Any]] | None = None,
        plain_routes: Mapping[str, PlainRoute] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes if max_bytes is not None else max_body_bytes()
        self._openapi = openapi
        self._document: bytes | None = None
        self._plain_routes = plain_routes if plain_routes is not None else {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._openapi is not None and scope["method"] == "GET" and scope["path"] == "/docs.json":
            if self._document is None:  # built once: the service's document does not change
                self._document = json.dumps(openapi_document(self._openapi())).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": self._document})
            return
        headers = dict(scope.get("headers") or [])
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if scope["method"] == "POST" and media_type and media_type not in JSON_LIKE:
            # BentoML would try multipart or pickle parsing (a 500 on a bad multipart body).
            error = f"unsupported Content-Type {quote_header(media_type)}: send application/json"
            await _send_json(send, 415, {"error": error})
            return
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _send_json(send, 400, {"error": "invalid Content-Length header"})
                return
            if size > self.max_bytes:
                await self._too_large(send, f"{size:,} bytes")
                return
        # Read the body here, never more than the limit, and replay it to the service: a client
        # may send more than it declared, or declare nothing (chunked).
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send, f"more than {self.max_bytes:,} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        route = self._plain_routes.get(scope["path"]) if scope["method"] == "POST" else None
        if route is not None:
            answer = await route(body)
            if answer is not None:
                await _send(send, *answer)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # a disconnect, for apps that listen for it
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send, got: str) -> None:
        message = (
            f"request body too large: {got}, at most {self.max_bytes:,} "
            f"({MAX_BODY_ENV}); split the flights over several requests"
        )
        await _send_json(send, 413, {"error": message})


# --------------------------------------------------------------------------------------------
# The OpenAPI document
# --------------------------------------------------------------------------------------------

_ERROR = {
    "type": "object",
    "title": "Error",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}
_VALIDATION_ERROR = {
    "type": "object",
    "title": "ValidationError",
    "description": "a request that does not validate: one entry per problem",
    "properties": {
        "error": {"type": "string", "example": "1 validation error for PredictRequest"},
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {
                        "type": "string",
                        "example": "flights[3].origin: must be a 3-letter airport code",
                    },
                },
                "required": ["type", "loc", "msg"],
            },
        },
    },
    "required": ["error", "detail"],
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error_responses(body_limit: bool) -> dict[str, Any]:
    responses = {
        # BentoML answers a body that is not JSON (or not UTF-8) with a one-item list.
        "400": _json(
            "invalid request: the fields that failed, each with its location",
            {"anyOf": [_VALIDATION_ERROR, {"type": "array", "items": _ERROR}]},
        ),
        "422": _json(
            "a flight too far past the feature snapshot (max_stale_days): the entries say which",
            _VALIDATION_ERROR,
        ),
        "429": _json("too many concurrent requests", _ERROR),
        "500": _json("unexpected error (see the server log)", _ERROR),
        "503": _json(
            "overloaded, not ready, or the prediction log cannot be written (nothing was "
            "served unlogged): retry later",
            _ERROR,
        ),
        "504": _json("request timed out", _ERROR),
    }
    if body_limit:
        responses["413"] = _json(f"request body larger than {MAX_BODY_ENV}", _ERROR)
        responses["415"] = _json("a body that is not JSON (Content-Type)", _ERROR)
    return responses


def openapi_document(generated: dict[str, Any]) -> dict[str, Any]:
    """BentoML's generated document for the service, corrected to match its responses."""
    doc = copy.deepcopy(generated)
    # pydantic writes JSON Schema 2020-12 (`"type": "null"`, numeric `exclusiveMinimum`), which
    # is OpenAPI 3.1's dialect; BentoML labels the document 3.0.2, where those are invalid.
    doc["openapi"] = "3.1.0"
    paths = doc.setdefault("paths", {})
    for path, item in paths.items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            # BentoML keys some statuses by int: one kind of key, as JSON has
            responses = {str(k): v for k, v in operation["responses"].items()}
            operation["responses"] = responses
            if path in ("/readyz", "/livez", "/healthz"):
                responses["503"] = {"description": "not ready or not alive"}
            elif path == "/metrics":
                responses["200"] = {
                    "description": "Prometheus metrics",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            elif method == "post":
                for status in ("404",):  # BentoML's generic entries that these routes never use
                    responses.pop(status, None)
                responses.update(_error_responses(body_limit=True))
    card = paths.get("/model_card", {}).get("post")
    if card is not None and "get" not in paths["/model_card"]:
        get = copy.deepcopy(card)
        get.pop("requestBody", None)
        get["operationId"] = f"{card.get('operationId', 'model_card')}_get"
        get["responses"] = {
            "200": card["responses"]["200"],
            "503": _json("the model is still loading", _ERROR),
        }
        paths["/model_card"]["get"] = get
    return doc
