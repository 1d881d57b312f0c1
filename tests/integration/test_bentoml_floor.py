"""The serving benchmark's no-work BentoML services, each under a real ``bentoml serve``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.floor import ANSWER
from bench.local_servers import start_bento_server, stop_bento_server, wait_until_ready

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VALID = b'{"flights": [{"carrier": "UA"}]}'
_JSON = {"content-type": "application/json"}

pytestmark = pytest.mark.slow  # two bentoml serve processes; the benchmark's own services


@pytest.fixture(scope="module", params=["NoWorkApi", "NoWorkPlain"])
def served(request, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """(service class, base URL) of ``bentoml serve bench.bentoml_floor:<class>``."""
    workdir = tmp_path_factory.mktemp(request.param)
    target = f"bench.bentoml_floor:{request.param}"
    process, url, log = start_bento_server(target, workdir, dict(os.environ), PROJECT_ROOT)
    try:
        wait_until_ready(url, process, log, 120)
        yield request.param, url
    finally:
        stop_bento_server(process)


def test_predict_answers_the_floor_document(served):
    _, url = served
    response = httpx.post(f"{url}/predict", content=VALID, headers=_JSON)
    assert (response.status_code, response.content) == (200, ANSWER)


def test_only_the_api_parses_the_body(served):
    # BentoML's API wrapper parses the body (400 for one that is not JSON); the plain route,
    # ahead of it, answers without reading it.
    service, url = served
    response = httpx.post(f"{url}/predict", content=b"not json", headers=_JSON)
    if service == "NoWorkApi":
        assert response.status_code == 400
    else:
        assert (response.status_code, response.content) == (200, ANSWER)
