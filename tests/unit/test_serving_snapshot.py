"""The per-flight fast path equals the general path, bit for bit (synthetic model, no server)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from flightline import features as F
from flightline.prediction_log import prediction_rows
from flightline.prediction_schema import (
    EXAMPLE_FLIGHT,
    Prediction,
    PredictRequest,
    PredictResponse,
    Provenance,
    requests_frame,
)
from flightline.scoring import load_scoring_model, score_flights, score_request_batch
from flightline.serving_fast import RequestScores, score_requests
from flightline.serving_snapshot import FLAGS
from tests.unit import test_scoring
from tests.unit.test_scoring import AS_OF_DAY, CARRIERS, DESTS, ORIGINS

model_folder = test_scoring.model_folder  # the synthetic model's fixture, shared


def frame(r: RequestScores) -> pl.DataFrame:
    """The scores as ``score_flights`` returns them (same columns, types and values)."""
    columns = {
        "flight_id": pl.Series(r.flight_ids, dtype=pl.String),
        "delay_probability": pl.Series(r.probability, dtype=pl.Float64),
        "delayed": pl.Series(r.delayed, dtype=pl.Boolean),
    }
    for name in FLAGS:
        dtype = pl.Int32 if name == "state_stale_days" else pl.Boolean
        columns[name] = pl.Series(r.flags[name], dtype=dtype)
    if r.explanations is not None:
        columns["explanation"] = pl.Series(r.explanations)
    return pl.DataFrame(columns)


def parsed(*flights: dict) -> list:
    return PredictRequest.model_validate({"flights": list(flights)}).flights


def edge_flights(seed: int, n: int) -> list[dict]:
    """Flights on every covered day and after (stale), known and unknown keys, with and without
    weather (whole, partial, none), distance or not, tail number or not."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        day = AS_OF_DAY + timedelta(days=rng.randint(-34, 45))
        flight = {
            "flight_id": None if i % 7 == 0 else f"f{i}",
            "carrier": rng.choice([*CARRIERS, "ZZ"]),
            "flight": rng.choice([100, 105, 119, 4000]),
            "tailnum": rng.choice([None, "N3", "N24", "N999", "N1"]),
            "origin": rng.choice([*ORIGINS, "XYZ"]),
            "dest": rng.choice([*DESTS, "SFO"]),
            "scheduled_departure": f"{day}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
            "distance": rng.choice([None, 500, 512.5, 1400.4]),
        }
        kind = rng.random()
        if kind < 0.4:
            flight["weather"] = {
                **EXAMPLE_FLIGHT["weather"],
                "temp": rng.uniform(-10, 95),
                "dewp": rng.choice([None, rng.uniform(-20, 70)]),
                "wind_gust": rng.choice([None, 25.3]),
            }
        elif kind < 0.55:
            flight["weather"] = {"temp": 12.5}
        elif kind < 0.65:
            flight["weather"] = {}  # present but empty: filled from the snapshot
        out.append(flight)
    return out


def test_assembled_features_equal_flight_features(model_folder):
    model = load_scoring_model(model_folder)
    assert model.fast is not None
    flights = parsed(*edge_flights(seed=1, n=400))
    assembled = model.fast.assemble(flights)
    assert assembled is not None
    general = F.flight_feature_rows(requests_frame(flights), model.state, model.vocabulary)
    expected = F.feature_matrix(general, model.features)
    np.testing.assert_array_equal(assembled.matrix, expected)  # NaN == NaN here
    for name in F.FLAG_COLUMNS:
        np.testing.assert_array_equal(assembled.flags[name], general[name].to_numpy(), name)
    # The cases the generator promises are all there.
    for name in ("carrier_unknown", "tailnum_unknown", "weather_from_snapshot", "weather_missing"):
        assert assembled.flags[name].any() and not assembled.flags[name].all(), name
    assert (assembled.flags["state_stale_days"] > 0).any()
    assert assembled.flags["history_incomplete"].any()


def test_fast_scores_equal_the_general_path(model_folder):
    model = load_scoring_model(model_folder)
    requests = [parsed(*edge_flights(seed=s, n=1 + s % 5)) for s in range(30)]
    plain = F.load_state(model_folder / "online_features")  # no memo: windows per request
    for explain in (False, True):
        fast = score_requests(model, requests, explain=explain)
        general = score_request_batch(model, requests, explain=explain)
        assert all(r.fast for r in fast)
        for r, (_, scores) in zip(fast, general, strict=True):
            assert frame(r).equals(scores)
            one = score_flights(model, requests_frame(r.flights), state=plain)
            diff = np.abs(r.probability - one["delay_probability"].to_numpy()).max()
            assert diff <= 1e-9


def test_days_before_the_snapshot_take_the_general_path(model_folder):
    model = load_scoring_model(model_folder)
    old = {**EXAMPLE_FLIGHT, "scheduled_departure": "2013-01-20T08:00:00"}
    new = {**EXAMPLE_FLIGHT, "scheduled_departure": "2013-03-02T08:00:00"}
    requests = [parsed(old), parsed(new), parsed(new, old)]
    assert model.fast.assemble(requests[0]) is None
    scored = score_requests(model, requests)
    assert [r.fast for r in scored] == [False, True, False]
    for r, (_, scores) in zip(scored, score_request_batch(model, requests), strict=True):
        assert frame(r).equals(scores)


@pytest.mark.parametrize("n", [1, 30, 300])
def test_response_and_log_lines_are_the_schema_documents(model_folder, n):
    model = load_scoring_model(model_folder)
    flights = parsed(*edge_flights(seed=7, n=n))
    provenance = Provenance(**model.provenance(), model_tag="m:1", bento_tag="b:1")
    served_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    for explain in (False, True):
        (r,) = score_requests(model, [flights], explain=explain)
        predictions = [Prediction(**row) for row in frame(r).to_dicts()]
        expected = PredictResponse(predictions=predictions, provenance=provenance)
        got = r.response_json(provenance.model_dump_json().encode())
        assert json.loads(got) == json.loads(expected.model_dump_json())
        assert got.startswith(b'{"predictions":[{"flight_id":')
        kwargs = dict(model_version="v1", bento_tag="b:1", request_id="r", served_at=served_at)
        lines = r.log_lines(**kwargs)
        rows = prediction_rows(requests_frame(flights), frame(r), **kwargs)
        assert [json.loads(x) for x in lines.splitlines()] == [
            json.loads(x) for x in rows.write_ndjson().splitlines()
        ]


@pytest.mark.parametrize("days", [1, 5])
def test_fewer_covered_days_fall_back_earlier(model_folder, days):
    from flightline.serving_snapshot import build_snapshot_arrays

    model = load_scoring_model(model_folder)
    arrays = build_snapshot_arrays(model.state, model.vocabulary, model.features, days=days)
    inside = parsed({**EXAMPLE_FLIGHT, "scheduled_departure": f"{AS_OF_DAY}T08:00:00"})
    before = AS_OF_DAY - timedelta(days=days)
    outside = parsed({**EXAMPLE_FLIGHT, "scheduled_departure": f"{before}T08:00:00"})
    assert arrays.assemble(inside) is not None and arrays.assemble(outside) is None
    got = arrays.assemble(inside).matrix
    frame = F.flight_feature_rows(requests_frame(inside), model.state, model.vocabulary)
    np.testing.assert_array_equal(got, F.feature_matrix(frame, model.features))
    assert pl.Series(got[0]).null_count() == 0
