"""The bento over real HTTP: `bentoml serve <bento_tag>` in a subprocess (fixture: ``trained``).

Parity: probabilities served for the test month equal batch scoring of the same fct_flights rows
with a state built from all history. Plus provenance, the model card, unknown codes, weather
filling, row limits, and 4xx answers that name the field and the row without hurting the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import bentoml
import duckdb
import httpx
import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from bench.local_servers import start_bento_server, stop_bento_server, wait_until_ready
from bench.serving import request_body as as_request
from flightline.bento_store import (
    bento_for_model,
    build_bento,
    latest_bento_tag,
    save_model_to_bentoml,
)
from flightline.features import build_feature_state
from flightline.prediction_schema import DEFAULT_MAX_ROWS, EXAMPLE_FLIGHT, Flight
from flightline.scoring import (
    SERVING_NUM_THREADS,
    ScoringModel,
    load_scoring_model,
    score_flights,
)
from flightline.warehouse import read_table

READY_TIMEOUT_S = 90


@dataclass
class Served:
    url: str
    client: httpx.Client
    process: subprocess.Popen
    model: ScoringModel
    folder: Path
    model_tag: str
    bento_tag: str
    bento_size: int

    def predict(self, body) -> httpx.Response:
        return self.client.post("/predict", json=body)


@pytest.fixture(scope="module")
def served(trained, tmp_path_factory):
    registry = trained.resources["artifacts"].registry
    folder = registry.version_dir(registry.champion())
    model_tag = str(save_model_to_bentoml(folder))
    bento_tag, size = build_bento(model_tag)
    workdir = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "BENTOML_DO_NOT_TRACK": "true"}
    process, url, log = start_bento_server(bento_tag, workdir, env)
    try:
        wait_until_ready(url, process, log, READY_TIMEOUT_S)
        with httpx.Client(base_url=url, timeout=60) as client:
            yield Served(
                url, client, process, load_scoring_model(folder), folder, model_tag, bento_tag, size
            )
    finally:
        stop_bento_server(process)


# --------------------------------------------------------------------------------------------


def test_served_probabilities_equal_batch_scoring(served, trained):
    with duckdb.connect(str(trained.home / "warehouse.duckdb"), read_only=True) as conn:
        fct = read_table(conn, "SELECT * FROM marts.fct_flights ORDER BY flight_id")
        planes = read_table(conn, "SELECT * FROM marts.dim_planes")
    first = served.model.state.first_complete_day
    day = pl.col("sched_dep_local").dt.date()
    month = fct.filter((pl.col("flight_month") == "2013-03") & (day >= first))
    requests = [as_request(r) for r in month.iter_rows(named=True)]
    valid = []
    for request in requests:
        try:
            Flight.model_validate(request)
            valid.append(request)
        except ValidationError:
            pass
    assert len(valid) >= 1_000 and len(valid) >= 0.99 * len(requests)

    response = served.predict({"flights": valid})
    assert response.status_code == 200, response.text[:2000]
    online = pl.DataFrame(response.json()["predictions"])

    ids = [r["flight_id"] for r in valid]
    rows = month.filter(pl.col("flight_id").is_in(ids))
    full_state = build_feature_state(fct, planes)
    batch = score_flights(served.model, rows, state=full_state)
    unnarrowed = score_flights(served.model, rows, state=full_state, narrow_state=False)
    assert batch.equals(unnarrowed)
    joined = batch.join(online, on="flight_id", how="inner", suffix="_http")
    assert joined.height == len(valid) == online.height
    assert online["flight_id"].to_list() == ids  # input order kept
    diff = (joined["delay_probability"] - joined["delay_probability_http"]).abs().max()
    assert diff <= 1e-9, diff
    assert (joined["delayed"] == joined["delayed_http"]).all()
    assert (joined["weather_from_snapshot"] == joined["weather_from_snapshot_http"]).all()
    for flag in ("carrier_unknown", "origin_unknown", "dest_unknown", "tailnum_unknown"):
        assert (joined[flag] == joined[f"{flag}_http"]).all(), flag
    assert not online["history_incomplete"].any()


def test_one_flight_requests_through_the_c_api_equal_booster_predict(served, trained):
    # One-flight requests are scored by LightGBM's single-row C API (flightline/row_predict.py):
    # over the whole test month with the real champion it must give booster.predict's answers.
    with duckdb.connect(str(trained.home / "warehouse.duckdb"), read_only=True) as conn:
        fct = read_table(conn, "SELECT * FROM marts.fct_flights ORDER BY flight_id")
    first = served.model.state.first_complete_day
    day = pl.col("sched_dep_local").dt.date()
    month = fct.filter((pl.col("flight_month") == "2013-03") & (day >= first))
    requests, flights = [], []
    for row in month.iter_rows(named=True):
        with contextlib.suppress(ValidationError):
            flights.append(Flight.model_validate(as_request(row)))
            requests.append(as_request(row))
    model = served.model
    assert model.row_predictor is not None and len(flights) >= 1_000
    rows = [model.fast.assemble([f]).matrix for f in flights]
    got = np.concatenate([model.row_predictor.predict(r) for r in rows])
    expected = model.booster.predict(np.vstack(rows), num_threads=SERVING_NUM_THREADS)
    assert np.abs(got - expected).max() <= 1e-9

    # Served one flight per request, one at a time (each leads its own batch) and 8 at once
    # (batched together on a worker): each as the same flights in one request.
    sample = requests[:40]
    together = served.predict({"flights": sample}).json()["predictions"]

    def alone(request: dict) -> float:
        response = served.predict({"flights": [request]})
        assert response.status_code == 200, response.text
        (one,) = response.json()["predictions"]
        return one["delay_probability"]

    with ThreadPoolExecutor(8) as pool:
        at_once = list(pool.map(alone, sample * 3))
    one_at_a_time = [alone(r) for r in sample]
    expected_each = [p["delay_probability"] for p in together]
    for got_each in (one_at_a_time, at_once[:40], at_once[40:80], at_once[80:]):
        assert np.abs(np.array(got_each) - expected_each).max() <= 1e-9


def test_one_flight_with_provenance_and_the_model_card(served):
    response = served.predict({"flights": [EXAMPLE_FLIGHT]})
    assert response.status_code == 200, response.text
    body = response.json()
    (prediction,) = body["predictions"]
    assert 0 < prediction["delay_probability"] < 1
    assert prediction["delayed"] == (prediction["delay_probability"] >= served.model.threshold)
    assert prediction["weather_from_snapshot"] is False
    card = served.model.card
    provenance = body["provenance"]
    assert provenance["model_version"] == card["version"]
    assert provenance["model_tag"] == served.model_tag
    assert provenance["bento_tag"] == served.bento_tag
    assert provenance["data_window"] == {
        "train_months": card["data_window"]["train_months"],
        "valid_month": card["data_window"]["valid_month"],
        "test_month": card["data_window"]["test_month"],
    }
    assert provenance["feature_snapshot"]["as_of"] == served.model.state.as_of.isoformat()
    assert provenance["feature_snapshot"]["version"] == card["online_features"]["version"]

    for response in (served.client.get("/model_card"), served.client.post("/model_card")):
        assert response.status_code == 200
        got = response.json()
        assert got["version"] == card["version"]
        assert got["metrics"] == card["metrics"] and got["features"] == card["features"]
        assert got["data_window"] == card["data_window"]
        assert got["serving"]["bento_tag"] == served.bento_tag
        assert got["serving"]["max_rows"] == DEFAULT_MAX_ROWS


def test_unknown_codes_are_flagged_and_missing_weather_is_filled(served):
    unknown = {**EXAMPLE_FLIGHT, "carrier": "ZZ", "dest": "XQX", "tailnum": "N0NE00"}
    no_weather = {k: v for k, v in EXAMPLE_FLIGHT.items() if k != "weather"}
    no_weather["scheduled_departure"] = "2013-03-31T18:00:00"
    response = served.predict({"flights": [unknown, no_weather]})
    assert response.status_code == 200, response.text
    first, second = response.json()["predictions"]
    assert first["carrier_unknown"] and first["dest_unknown"] and first["tailnum_unknown"]
    assert not first["origin_unknown"] and 0 < first["delay_probability"] < 1
    assert second["weather_from_snapshot"] and not second["carrier_unknown"]
    assert not second["history_incomplete"] and second["state_stale_days"] == 0


def test_max_rows_is_served_and_one_more_is_refused(served):
    flights = [{**EXAMPLE_FLIGHT, "scheduled_departure": "2013-03-30T08:00:00"}] * DEFAULT_MAX_ROWS
    response = served.predict({"flights": flights})
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == DEFAULT_MAX_ROWS
    response = served.predict({"flights": [*flights, EXAMPLE_FLIGHT]})
    assert response.status_code == 400
    assert "flights: at most 10000 flights per request" in response.text


def bad(row: int, **changes) -> dict:
    flights = [dict(EXAMPLE_FLIGHT) for _ in range(row + 1)]
    flights[row].update(changes)
    for key in [k for k, v in changes.items() if v is ...]:
        del flights[row][key]
    return {"flights": flights}


BAD_REQUESTS = [
    ("bad carrier", bad(3, carrier="U$"), ["flights", 3, "carrier"], "flights[3].carrier: must be"),
    (
        "bad origin",
        bad(3, origin="NEWARK"),
        ["flights", 3, "origin"],
        "flights[3].origin: must be a 3-letter airport code",
    ),
    ("bad dest", bad(0, dest="12A"), ["flights", 0, "dest"], "flights[0].dest: must be a 3-letter"),
    (
        "bad tailnum",
        bad(2, tailnum="N 1!"),
        ["flights", 2, "tailnum"],
        "flights[2].tailnum: must be",
    ),
    (
        "impossible date",
        bad(1, scheduled_departure="2013-02-30T05:15:00"),
        ["flights", 1, "scheduled_departure"],
        "flights[1].scheduled_departure: must be a valid date",
    ),
    (
        "impossible time",
        bad(1, scheduled_departure="2013-03-01T24:30:00"),
        ["flights", 1, "scheduled_departure"],
        "flights[1].scheduled_departure: must be a valid date",
    ),
    (
        "missing field",
        bad(4, origin=...),
        ["flights", 4, "origin"],
        "flights[4].origin: is required",
    ),
    (
        "wrong type",
        bad(2, flight="fifteen"),
        ["flights", 2, "flight"],
        "flights[2].flight: must be a whole number",
    ),
    (
        "wrong weather type",
        bad(1, weather={"temp": "warm"}),
        ["flights", 1, "weather", "temp"],
        "flights[1].weather.temp: must be a number",
    ),
    ("empty list", {"flights": []}, ["flights"], "flights: must hold at least one flight"),
    ("no flights key", {"flight": [EXAMPLE_FLIGHT]}, ["flights"], "flights: is required"),
    ("not an object", [EXAMPLE_FLIGHT], [], "body: must be an object"),
]


@pytest.mark.parametrize(
    ("name", "body", "loc", "message"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS]
)
def test_bad_requests_get_4xx_naming_field_and_row(served, name, body, loc, message):
    response = served.predict(body)
    assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
    details = response.json()["detail"]
    assert any(d["loc"] == loc and d["msg"].startswith(message) for d in details), details
    assert served.process.poll() is None
    assert served.predict({"flights": [EXAMPLE_FLIGHT]}).status_code == 200


def test_malformed_json_and_the_server_keeps_serving(served):
    response = served.client.post(
        "/predict", content=b'{"flights": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "Invalid JSON" in response.text
    assert served.client.get("/readyz").status_code == 200
    assert served.predict({"flights": [EXAMPLE_FLIGHT]}).status_code == 200
    assert served.process.poll() is None


def test_the_bento_pins_the_model_and_saving_is_idempotent(served):
    bento = bentoml.bentos.get(served.bento_tag)
    assert bento.info.args == {"model_tag": served.model_tag}
    assert ":latest" not in served.model_tag
    assert [m.tag for s in bento.info.services for m in s.models] == [
        bentoml.Tag.from_taglike(served.model_tag)
    ]
    assert latest_bento_tag() == served.bento_tag
    assert bento_for_model(served.model_tag) == served.bento_tag
    assert served.bento_size > 0
    assert str(save_model_to_bentoml(served.folder)) == served.model_tag
    model = bentoml.models.get(served.model_tag)
    card = json.loads((served.folder / "model_card.json").read_text())
    assert model.info.labels["model_version"] == card["version"]
    assert model.info.labels["dagster_run_id"] == card["dagster_run_id"]
    assert model.info.metadata["metrics"]["model"]["auc"] == pytest.approx(
        card["metrics"]["model"]["auc"]
    )
    assert model.info.metadata["upstream_data_versions"] == card["upstream_data_versions"]
    assert {"model.txt", "model_card.json", "online_features"} <= {
        p.name for p in Path(model.path).iterdir()
    }
