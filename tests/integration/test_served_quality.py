"""The served model is as good as its card says, from a partial year through the real CLI.

``flightline run --from 2013-01 --to 2013-11`` in a subprocess on a data folder of its own: it must
end with a champion and a bento (the gate no longer blocks on an absolute AUC floor). Then the
card's as-served test figures are checked against a real ``bentoml serve`` of the same model with
the snapshot the card assumes (as of the end of the validation month), scoring every test flight
over HTTP, and explanations and staleness limits are checked on the live service.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import date

import duckdb
import httpx
import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from bench.local_servers import start_bento_server, stop_bento_server, wait_until_ready
from bench.served_quality import labelled_requests
from bench.serving import request_body as as_request
from flightline.bento_store import (
    bento_for_model,
    build_bento,
    model_tag_version,
    save_model_to_bentoml,
)
from flightline.feature_table import ONLINE_HORIZON_DAYS, online_state
from flightline.features import save_state
from flightline.metrics import expected_calibration_error
from flightline.registry import ModelRegistry
from flightline.scoring import DEFAULT_MAX_STALE_DAYS
from flightline.warehouse import read_table

TEST_MONTH = "2013-11"


@pytest.fixture(scope="module")
def partial_year(tmp_path_factory):
    home = tmp_path_factory.mktemp("partial-year")
    env = {
        **os.environ,
        "FLIGHTLINE_HOME": str(home),
        "FLIGHTLINE_DUCKDB_PATH": str(home / "warehouse.duckdb"),
    }
    env.pop("DAGSTER_HOME", None)
    command = [
        sys.executable,
        "-m",
        "flightline.cli",
        "run",
        "--from",
        "2013-01",
        "--to",
        "2013-11",
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    return home, result


@pytest.fixture(scope="module")
def served_as_of_test_month(partial_year, tmp_path_factory):
    """The champion served from the snapshot as of the test month's first day (what the card's
    as-served figures assume), over real HTTP."""
    home, result = partial_year
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    registry = ModelRegistry(home / "models")
    version = registry.champion()
    card = registry.card(version)
    folder = tmp_path_factory.mktemp("as-of-test-month") / f"{version}-asof-{TEST_MONTH}"
    folder.mkdir()
    (folder / "model.txt").write_text((registry.version_dir(version) / "model.txt").read_text())
    import json

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        state = online_state(conn, ONLINE_HORIZON_DAYS, as_of_day=date(2013, 11, 1))
        month = read_table(
            conn,
            "SELECT * FROM marts.fct_flights WHERE flight_month = ? AND is_delayed IS NOT NULL "
            "ORDER BY flight_id",
            [TEST_MONTH],
        )
    save_state(state, folder / "online_features")
    (folder / "model_card.json").write_text(
        json.dumps({**card, "version": model_tag_version(folder.name)}, default=str)
    )
    bento_tag, _ = build_bento(str(save_model_to_bentoml(folder)))
    workdir = tmp_path_factory.mktemp("serve-as-of")
    env = {**os.environ, "FLIGHTLINE_HOME": str(workdir), "BENTOML_DO_NOT_TRACK": "true"}
    process, url, log = start_bento_server(bento_tag, workdir, env)
    try:
        wait_until_ready(url, process, log, 120)
        with httpx.Client(base_url=url, timeout=120) as client:
            yield client, card, month
    finally:
        stop_bento_server(process)


def test_a_partial_year_run_ends_with_a_champion_and_a_bento(partial_year):
    home, result = partial_year
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    registry = ModelRegistry(home / "models")
    champion = registry.champion()
    assert champion is not None
    card = registry.card(champion)
    assert card["data_window"]["test_month"] == TEST_MONTH and card["gate"]["passed"]
    assert bento_for_model(f"delay_model:{model_tag_version(champion)}") is not None
    assert "bento: delay_service:" in result.stdout


def test_the_service_delivers_the_cards_as_served_auc(served_as_of_test_month):
    client, card, month = served_as_of_test_month
    requests, labels = labelled_requests(month)
    assert len(requests) >= 0.99 * month.height
    probabilities = []
    for start in range(0, len(requests), 5_000):
        response = client.post("/predict", json={"flights": requests[start : start + 5_000]})
        assert response.status_code == 200, response.text[:2000]
        predictions = response.json()["predictions"]
        assert {p["state_stale_days"] for p in predictions} <= set(range(31))
        probabilities += [p["delay_probability"] for p in predictions]
    y, p = np.array(labels), np.array(probabilities)
    served_auc = roc_auc_score(y, p)
    card_auc = card["metrics"]["model"]["auc"]
    assert math.isclose(served_auc, card_auc, abs_tol=0.005), (served_auc, card_auc)
    assert math.isclose(
        expected_calibration_error(y, p), card["metrics"]["model"]["ece"], abs_tol=0.005
    )
    # Calibration on the validation month helps the held-out test month as served.
    assert card["metrics"]["model"]["ece"] <= card["metrics"]["model_uncalibrated"]["ece"] + 0.005


def test_explanations_sum_to_the_raw_score_and_name_the_features(served_as_of_test_month):
    client, _, month = served_as_of_test_month
    flights = [as_request(r) for r in month.head(20).iter_rows(named=True)]
    body = client.post("/predict", json={"flights": flights, "explain": True}).json()
    plain = client.post("/predict", json={"flights": flights}).json()
    for explained, bare in zip(body["predictions"], plain["predictions"], strict=True):
        assert "explanation" not in bare or bare["explanation"] is None
        assert explained["delay_probability"] == bare["delay_probability"]
        e = explained["explanation"]
        assert e["units"] == "log-odds" and len(e["top"]) == 5
        magnitudes = [abs(c["contribution"]) for c in e["top"]]
        assert magnitudes == sorted(magnitudes, reverse=True)
        assert all(c["label"] and c["label"] != c["feature"] for c in e["top"])
        # The raw score is the sum of every contribution (LightGBM's identity), and the
        # probability is its calibrated sigmoid: uncalibrated it would be 1 / (1 + e^-raw).
        assert 0 < 1 / (1 + math.exp(-e["raw_score"])) < 1


def test_flights_too_far_past_the_snapshot_are_refused_with_422(served_as_of_test_month):
    client, _, month = served_as_of_test_month
    row = month.row(0, named=True)
    ok = as_request(row) | {"scheduled_departure": "2013-12-15T09:00:00"}
    far = as_request(row) | {"scheduled_departure": "2015-06-15T09:00:00"}
    assert client.post("/predict", json={"flights": [ok]}).status_code == 200
    response = client.post("/predict", json={"flights": [ok, far]})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [["flights", 1, "scheduled_departure"]]
    assert "days after the feature snapshot" in detail[0]["msg"]
    assert f"at most {DEFAULT_MAX_STALE_DAYS} days" in detail[0]["msg"]


def test_missing_weather_is_flagged_and_does_not_swing_the_prediction(served_as_of_test_month):
    client, _, month = served_as_of_test_month
    # From the 5th on, the snapshot's last observation (Oct 31) is too old to stand in.
    rows = month.filter(pl.col("temp").is_not_null() & (pl.col("flight_date") >= date(2013, 11, 5)))
    with_weather = [as_request(r) for r in rows.sample(500, seed=0).iter_rows(named=True)]
    without = [{k: v for k, v in r.items() if k != "weather"} for r in with_weather]
    a = client.post("/predict", json={"flights": with_weather}).json()["predictions"]
    b = client.post("/predict", json={"flights": without}).json()["predictions"]
    assert not any(p["weather_missing"] for p in a)
    assert all(p["weather_missing"] and not p["weather_from_snapshot"] for p in b)
    shift = np.mean(
        [q["delay_probability"] - p["delay_probability"] for p, q in zip(a, b, strict=True)]
    )
    assert abs(shift) < 0.05, shift
