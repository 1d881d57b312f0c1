"""The body limit, the corrected OpenAPI document and short error quotes, on a plain ASGI app."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from flightline.prediction_schema import EXAMPLE_FLIGHT, QUOTE_LIMIT, PredictRequest, quote
from flightline.service_http import (
    DEFAULT_MAX_BODY_BYTES,
    MAX_BODY_ENV,
    ServiceGuard,
    max_body_bytes,
    openapi_document,
)

LIMIT = 1_000


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"received": len(await request.body())})


def client(**options) -> TestClient:
    app = Starlette(routes=[Route("/predict", echo, methods=["POST"])])
    return TestClient(ServiceGuard(app, max_bytes=LIMIT, **options))


def test_a_body_at_the_limit_passes_and_one_byte_more_is_413():
    with client() as c:
        assert c.post("/predict", content=b"x" * LIMIT).json() == {"received": LIMIT}
        response = c.post("/predict", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert "request body too large: 1,001 bytes, at most 1,000" in response.json()["error"]
    assert MAX_BODY_ENV in response.json()["error"]


def test_a_chunked_body_without_length_is_cut_at_the_limit():
    def chunks(n: int):
        for _ in range(n):
            yield b"y" * 300

    with client() as c:
        assert c.post("/predict", content=chunks(3)).json() == {"received": 900}
        response = c.post("/predict", content=chunks(4))
    assert response.status_code == 413 and "more than 1,000 bytes" in response.json()["error"]


def test_a_bad_content_length_is_400():
    with client() as c:
        response = c.post("/predict", content=b"{}", headers={"content-length": "lots"})
    assert response.status_code == 400


def test_the_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(MAX_BODY_ENV, raising=False)
    assert max_body_bytes() == DEFAULT_MAX_BODY_BYTES
    monkeypatch.setenv(MAX_BODY_ENV, "2048")
    assert max_body_bytes() == 2048 and ServiceGuard(echo).max_bytes == 2048
    monkeypatch.setenv(MAX_BODY_ENV, "0")
    with pytest.raises(ValueError, match=MAX_BODY_ENV):
        max_body_bytes()


def test_a_full_request_fits_the_default_limit():
    body = PredictRequest(flights=[EXAMPLE_FLIGHT] * PredictRequest.max_rows).model_dump_json(
        indent=2
    )
    assert len(body.encode()) < DEFAULT_MAX_BODY_BYTES


GENERATED = {
    "openapi": "3.0.2",
    "paths": {
        "/readyz": {"get": {"responses": {"200": {"description": "ok"}}}},
        "/metrics": {"get": {"responses": {"200": {"description": "ok"}}}},
        "/predict": {
            "post": {
                "responses": {200: {"description": "ok"}, 404: {"description": "nope"}},
                "requestBody": {"content": {}},
            }
        },
        "/model_card": {
            "post": {
                "operationId": "delay_service__model_card",
                "responses": {200: {"description": "card"}},
            }
        },
    },
}


def test_the_document_says_what_the_service_answers():
    doc = openapi_document(GENERATED)
    predict = doc["paths"]["/predict"]["post"]["responses"]
    assert {"200", "400", "413", "429", "500", "503", "504"} <= set(
        predict
    ) and "404" not in predict
    bad = predict["400"]["content"]["application/json"]["schema"]["anyOf"]
    assert bad[0]["properties"]["detail"]["type"] == "array"  # BentoML's says string
    get = doc["paths"]["/model_card"]["get"]
    assert get["operationId"] == "delay_service__model_card_get" and "requestBody" not in get
    assert "503" in doc["paths"]["/readyz"]["get"]["responses"]
    assert GENERATED["paths"]["/predict"]["post"]["responses"].keys() == {200, 404}  # unchanged


def test_docs_json_is_served_corrected():
    with client(openapi=lambda: GENERATED) as c:
        doc = c.get("/docs.json").json()
    assert "get" in doc["paths"]["/model_card"]


def test_errors_quote_a_short_prefix_of_a_bad_value():
    big = "X" * 5_000_000
    assert quote("JFK") == "'JFK'"
    assert quote(big) == f"{'X' * QUOTE_LIMIT!r}... (5,000,000 characters)"
    assert len(quote(list(range(100_000)))) < 2 * QUOTE_LIMIT
    with pytest.raises(ValidationError) as exc:
        PredictRequest.model_validate(
            {"flights": [{**EXAMPLE_FLIGHT, "origin": big, "scheduled_departure": big, big: 1}]}
        )
    errors = exc.value.errors(include_input=False)
    assert len(errors) == 3 and len(str(exc.value)) < 2_000
    assert all(len(e["msg"]) < 300 and all(len(str(p)) < 50 for p in e["loc"]) for e in errors)
    assert "(5,000,000 characters)" in errors[0]["msg"]


def test_serve_binds_loopback_unless_told(monkeypatch, tmp_path):
    from flightline import cli

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    calls = []

    def execvp(exe: str, argv: list[str]) -> None:  # exec never returns
        calls.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(cli.os, "execvp", execvp)
    monkeypatch.setattr("flightline.bento_store.latest_bento_tag", lambda: "delay_service:v1")
    for argv in (["serve"], ["serve", "--host", "0.0.0.0", "--port", "4000"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
    assert calls[0][calls[0].index("--host") + 1] == "127.0.0.1"
    assert calls[1][-4:] == ["--host", "0.0.0.0", "--port", "4000"]


def test_a_body_that_is_not_json_is_415():
    with client() as c:
        multipart = c.post(
            "/predict", content=b"{}", headers={"content-type": "multipart/form-data"}
        )
        pickle = c.post("/predict", content=b"x", headers={"content-type": "application/vnd.bentoml+pickle"})  # fmt: skip
        plain = c.post("/predict", content=b"{}", headers={"content-type": "application/json; charset=utf-8"})  # fmt: skip
    assert multipart.status_code == pickle.status_code == 415
    assert "send application/json" in multipart.json()["error"]
    assert plain.status_code == 200


def test_a_plain_route_answers_itself_or_passes_the_whole_body_on():
    seen: list[bytes] = []

    async def route(body: bytes) -> tuple[int, bytes] | None:
        seen.append(body)
        return (201, b'{"plain":true}') if body.startswith(b"plain") else None

    with client(plain_routes={"/predict": route}) as c:
        answered = c.post("/predict", content=b"plain body")
        passed = c.post("/predict", content=b"x" * 600)
        too_large = c.post("/predict", content=b"plain" + b"x" * LIMIT)
    assert answered.status_code == 201 and answered.json() == {"plain": True}
    assert answered.headers["content-type"] == "application/json"
    assert passed.json() == {"received": 600}  # the service got the body the route saw
    assert too_large.status_code == 413  # the limit comes first: the route never saw it
    assert seen == [b"plain body", b"x" * 600]
