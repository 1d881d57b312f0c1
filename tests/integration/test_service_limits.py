"""Service limits over real HTTP: `bentoml serve <bento>` in a subprocess (fixture: ``trained``).

The request body limit (413), short quotes of bad values, the loopback default, the prediction-log
policy (no prediction served unlogged: 503, and /readyz says so), and schemathesis against the
live server's own OpenAPI document: no 5xx and no response that disagrees with the document.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bench.local_servers import start_bento_server, stop_bento_server, wait_until_ready
from flightline.bento_store import build_bento, save_model_to_bentoml
from flightline.prediction_schema import EXAMPLE_FLIGHT
from flightline.service_http import MAX_BODY_ENV

READY_TIMEOUT_S = 90
# Small, so that a too-large body costs the test little; a 10,000-flight request is tested
# against the default limit in test_service.py.
LIMIT = 200_000
EXAMPLES = 25  # per operation: keeps schemathesis well under a minute


@dataclass
class Limited:
    url: str
    client: httpx.Client
    home: Path  # FLIGHTLINE_HOME of the server: its prediction log

    @property
    def log_folder(self) -> Path:
        return self.home / "prediction_log"


@pytest.fixture(scope="module")
def limited(trained, tmp_path_factory) -> Iterator[Limited]:
    registry = trained.resources["artifacts"].registry
    model_tag = str(save_model_to_bentoml(registry.version_dir(registry.champion())))
    bento_tag, _ = build_bento(model_tag)
    workdir = tmp_path_factory.mktemp("serve_limits")
    home = tmp_path_factory.mktemp("serve_home")
    env = {**os.environ, "FLIGHTLINE_HOME": str(home), MAX_BODY_ENV: str(LIMIT)}
    process, url, log = start_bento_server(bento_tag, workdir, env)
    try:
        wait_until_ready(url, process, log, READY_TIMEOUT_S)
        with httpx.Client(base_url=url, timeout=60) as client:
            yield Limited(url, client, home)
        assert process.poll() is None, log.read_text()[-5000:]
    finally:
        stop_bento_server(process)


def body_of(size: int) -> bytes:
    """A JSON request of exactly ``size`` bytes (padded with spaces, which JSON ignores)."""
    core = httpx.Request("POST", "/", json={"flights": [EXAMPLE_FLIGHT]}).content
    return core + b" " * (size - len(core))


def test_a_body_over_the_limit_is_413_and_at_the_limit_is_served(limited):
    headers = {"content-type": "application/json"}
    assert (
        limited.client.post("/predict", content=body_of(LIMIT), headers=headers).status_code == 200
    )
    response = limited.client.post("/predict", content=body_of(LIMIT + 1), headers=headers)
    assert response.status_code == 413, response.text
    assert f"at most {LIMIT:,}" in response.json()["error"]

    def chunked():  # no Content-Length: the server counts what it reads
        for _ in range(4):
            yield b" " * (LIMIT // 2)

    response = limited.client.post("/predict", content=chunked(), headers=headers)
    assert response.status_code == 413
    assert limited.client.post("/predict", json={"flights": [EXAMPLE_FLIGHT]}).status_code == 200


def test_a_huge_bad_value_is_quoted_short(limited):
    big = "N" * 150_000
    response = limited.client.post(
        "/predict", json={"flights": [{**EXAMPLE_FLIGHT, "origin": big}]}
    )
    assert response.status_code == 400
    assert len(response.content) < 1_000, response.content[:2000]
    (error,) = response.json()["detail"]
    assert error["msg"].endswith("... (150,000 characters)")


def test_a_prediction_that_cannot_be_logged_is_not_served(limited):
    body = {"flights": [EXAMPLE_FLIGHT]}
    assert limited.client.post("/predict", json=body).status_code == 200
    lines = sum(len(p.read_text().splitlines()) for p in limited.log_folder.glob("*.jsonl"))
    saved = limited.home / "saved_log"
    limited.log_folder.rename(saved)
    limited.log_folder.write_text("a file where the log folder should be")
    try:
        response = limited.client.post("/predict", json=body)
        assert response.status_code == 503, response.text
        assert "cannot be written" in response.json()["error"]
        assert limited.client.get("/readyz").status_code == 503
    finally:
        limited.log_folder.unlink()
        saved.rename(limited.log_folder)
    assert limited.client.get("/readyz").status_code == 200
    assert limited.client.post("/predict", json=body).status_code == 200
    logged = sum(len(p.read_text().splitlines()) for p in limited.log_folder.glob("*.jsonl"))
    assert logged == lines + 1  # the refused request left nothing; the served ones are all there


def test_the_document_has_get_model_card_and_list_details(limited):
    doc = limited.client.get("/docs.json").json()
    assert "get" in doc["paths"]["/model_card"]
    bad = doc["paths"]["/predict"]["post"]["responses"]["400"]["content"]["application/json"]
    assert bad["schema"]["anyOf"][0]["properties"]["detail"]["type"] == "array"
    assert "413" in doc["paths"]["/predict"]["post"]["responses"]


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_5xx_and_no_mismatch(limited, mode):
    # Schemathesis's Python API on the live server's own document (its pytest plugin's
    # from_fixture does not work with this pytest). Negative mode sends invalid requests.
    schema = schemathesis.openapi.from_url(f"{limited.url}/docs.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/predict", "/model_card", "/readyz"}
    for operation in operations:
        if mode == GenerationMode.NEGATIVE and operation.method.upper() != "POST":
            continue  # a GET without parameters has no invalid form

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,  # the same cases every run: a failure here reproduces
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS)

        conforms()
