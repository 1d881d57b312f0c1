"""Request validation, request -> frame conversion and scoring on a tiny synthetic model (no server)."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from flightline import features as F
from flightline.explain import contributions
from flightline.prediction_schema import (
    EXAMPLE_FLIGHT,
    Flight,
    PredictRequest,
    error_path,
    requests_frame,
)
from flightline.scoring import (
    SCORE_COLUMNS,
    load_scoring_model,
    score_flights,
    score_request_batch,
    stale_flight_errors,
)

NY, UTC = ZoneInfo("America/New_York"), ZoneInfo("UTC")


def flight(**changes) -> dict:
    return {**EXAMPLE_FLIGHT, **changes}


def errors(body: dict, model: type[PredictRequest] = PredictRequest) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        model.model_validate_json(json.dumps(body))
    return info.value.errors()


def messages(body: dict) -> list[str]:
    return [e["msg"] for e in errors(body)]


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def test_the_contract_example_validates_and_normalizes():
    req = PredictRequest.model_validate_json(json.dumps({"flights": [flight(carrier="ua")]}))
    (f,) = req.flights
    assert (f.carrier, f.flight, f.tailnum, f.origin, f.dest) == (
        "UA",
        1545,
        "N14228",
        "EWR",
        "IAH",
    )
    assert f.scheduled_departure == datetime(2013, 1, 1, 5, 15)
    assert f.weather is not None and f.weather.wind_gust is None and f.weather.visib == 10


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"origin": "NEWARK"}, "flights[1].origin: must be a 3-letter airport code, got 'NEWARK'"),
        ({"dest": "J1K"}, "flights[1].dest: must be a 3-letter airport code"),
        ({"carrier": "U"}, "flights[1].carrier: must be a 2-character airline code"),
        ({"carrier": "U$"}, "flights[1].carrier: must be a 2-character airline code"),
        ({"tailnum": "N 14228!"}, "flights[1].tailnum: must be a tail number"),
        ({"flight": "abc"}, "flights[1].flight: must be a whole number"),
        ({"flight": 15.5}, "flights[1].flight: must be a whole number"),
        ({"flight": True}, "flights[1].flight: must be a number, got true"),
        ({"flight": 0}, "flights[1].flight: must be greater than or equal to 1"),
        ({"distance": "far"}, "flights[1].distance: must be a number"),
        ({"distance": -5}, "flights[1].distance: must be greater than 0"),
        ({"carrier": 12}, "flights[1].carrier: must be a string"),
        ({"weather": "sunny"}, "flights[1].weather: must be an object"),
        ({"weather": {"temp": "hot"}}, "flights[1].weather.temp: must be a number"),
        (
            {"weather": {"humid": 140}},
            "flights[1].weather.humid: must be less than or equal to 100",
        ),
        ({"weather": {"snow": 1}}, "flights[1].weather.snow: is not a known field"),
        ({"gate": "B12"}, "flights[1].gate: is not a known field"),
        (
            {"scheduled_departure": "2013-02-30T05:15:00"},
            "flights[1].scheduled_departure: must be a valid date and time",
        ),
        (
            {"scheduled_departure": "2013-01-01T25:00:00"},
            "flights[1].scheduled_departure: must be a valid date and time",
        ),
        (
            {"scheduled_departure": "2013-13-01T05:00:00"},
            "flights[1].scheduled_departure: must be a valid date and time",
        ),
        (
            {"scheduled_departure": "2013-01-01"},
            "flights[1].scheduled_departure: must be a date and time like",
        ),
        (
            {"scheduled_departure": 1357020900},
            "flights[1].scheduled_departure: must be a date and time like",
        ),
        (
            {"scheduled_departure": "9999-01-01T00:00:00"},
            "flights[1].scheduled_departure: must be between 1970 and 2100",
        ),
    ],
)
def test_a_bad_field_is_named_with_its_row(change, expected):
    found = errors({"flights": [flight(), flight(**change)]})
    assert len(found) == 1, found
    assert found[0]["msg"].startswith(expected), found[0]["msg"]
    assert found[0]["loc"][:2] == ("flights", 1)


def test_missing_required_fields_are_each_named():
    body = {
        "flights": [flight(), {k: v for k, v in flight().items() if k not in ("origin", "flight")}]
    }
    assert sorted(messages(body)) == [
        "flights[1].flight: is required",
        "flights[1].origin: is required",
    ]


def test_optional_fields_may_be_absent_or_null():
    body = {
        "flights": [
            {
                k: flight()[k]
                for k in ("carrier", "flight", "origin", "dest", "scheduled_departure")
            },
            flight(tailnum=None, distance=None, weather=None),
        ]
    }
    assert len(PredictRequest.model_validate_json(json.dumps(body)).flights) == 2


def test_empty_missing_and_oversized_lists():
    assert messages({"flights": []}) == ["flights: must hold at least one flight"]
    assert messages({}) == ["flights: is required"]
    assert messages({"flights": "UA1545"}) == ["flights: must be a list"]

    class Small(PredictRequest):
        max_rows = 3

    (err,) = errors({"flights": [flight()] * 4}, Small)
    assert err["msg"] == "flights: at most 3 flights per request, got 4: split the request"
    assert len(Small.model_validate_json(json.dumps({"flights": [flight()] * 3})).flights) == 3


def test_offsets_are_converted_to_new_york_local_time():
    req = PredictRequest.model_validate_json(
        json.dumps(
            {
                "flights": [
                    flight(scheduled_departure="2013-01-01T10:15:00Z"),  # EST: UTC-5
                    flight(scheduled_departure="2013-07-01T09:15:00+00:00"),  # EDT: UTC-4
                    flight(scheduled_departure="2013-07-01T05:15:00-04:00"),
                    flight(scheduled_departure="2013-07-01 05:15"),
                ]
            }
        )
    )
    assert [f.scheduled_departure for f in req.flights] == [
        datetime(2013, 1, 1, 5, 15),
        datetime(2013, 7, 1, 5, 15),
        datetime(2013, 7, 1, 5, 15),
        datetime(2013, 7, 1, 5, 15),
    ]
    assert all(f.scheduled_departure.tzinfo is None for f in req.flights)


def test_error_paths():
    assert error_path(("flights", 3, "weather", "temp")) == "flights[3].weather.temp"
    assert error_path(("flights",)) == "flights"
    assert error_path(()) == "body"


# --------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------


def test_requests_frame_has_the_feature_input_columns_in_order():
    req = PredictRequest.model_validate_json(
        json.dumps(
            {
                "flights": [
                    flight(flight_id="a", distance=1400.4),
                    flight(weather=None, tailnum=None, distance=None),
                    flight(weather={"temp": 12.5}),
                ]
            }
        )
    )
    df = requests_frame(req.flights)
    assert df.columns == [
        "flight_id",
        "carrier",
        "flight_number",
        "tailnum",
        "origin",
        "dest",
        "sched_dep_local",
        "distance_miles",
        *F.WEATHER_COLUMNS,
    ]
    assert df["flight_id"].to_list() == ["a", "1", "2"]
    assert df["distance_miles"].to_list() == [1400, None, 1400]
    assert df["tailnum"].to_list() == ["N14228", None, "N14228"]
    assert df.schema["sched_dep_local"] == pl.Datetime("us")
    assert df["temp"].to_list() == [39.02, None, 12.5]
    assert df.row(1, named=True)["pressure"] is None and df.row(2, named=True)["pressure"] is None


# --------------------------------------------------------------------------------------------
# Scoring on a tiny synthetic model folder
# --------------------------------------------------------------------------------------------

AS_OF_DAY = date(2013, 3, 1)
CARRIERS, ORIGINS, DESTS = ["AA", "B6", "UA"], ["EWR", "JFK", "LGA"], ["ATL", "BOS", "LAX", "ORD"]


def synthetic_history(days: int = 45, per_day: int = 60, seed: int = 3) -> pl.DataFrame:
    rng = random.Random(seed)
    rows = []
    for d in range(days):
        day = AS_OF_DAY - timedelta(days=days - d)
        for i in range(per_day):
            local = datetime(day.year, day.month, day.day, 6 + i % 16, 5 * (i % 12))
            utc = local.replace(tzinfo=NY).astimezone(UTC)
            delay = rng.choice([-10, 0, 5, 20, 60]) if rng.random() > 0.02 else None
            rows.append(
                {
                    "flight_id": f"{day:%Y%m%d}-{i}",
                    "carrier": CARRIERS[i % 3],
                    "flight_number": 100 + i % 20,
                    "tailnum": f"N{i % 25}",
                    "origin": ORIGINS[i % 3],
                    "dest": DESTS[i % 4],
                    "distance_miles": 500 + 10 * (i % 4),
                    "sched_dep_local": local,
                    **{c: float(rng.randint(1, 30)) for c in F.WEATHER_COLUMNS},
                    "arr_delay_minutes": delay,
                    "is_delayed": None if delay is None else delay >= 15,
                    "arrived_at_utc": None
                    if delay is None
                    else utc + timedelta(hours=3, minutes=delay),
                }
            )
    return pl.DataFrame(
        rows, schema_overrides={"flight_number": pl.Int32, "distance_miles": pl.Int32}
    )


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> Path:
    history = synthetic_history()
    planes = pl.DataFrame(
        {
            "tailnum": [f"N{i}" for i in range(20)],
            "year_built": [2000] * 20,
            "seats": [150] * 20,
            "engines": [2] * 20,
        }
    )
    vocabulary = F.build_vocabulary(history)
    full = F.build_feature_state(history, planes)
    table = (
        F.flight_feature_rows(history, full, vocabulary)
        .join(history.select("flight_id", "is_delayed"), on="flight_id")
        .drop_nulls("is_delayed")
    )
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "num_threads": 1, "min_data_in_leaf": 20},
        lgb.Dataset(
            F.feature_matrix(table, F.MODEL_FEATURES),
            label=table["is_delayed"].cast(pl.Int8).to_numpy(),
            feature_name=F.MODEL_FEATURES,
            categorical_feature=F.CATEGORICAL_FEATURES,
        ),
        num_boost_round=10,
    )
    folder = tmp_path_factory.mktemp("model") / "v1"
    folder.mkdir()
    booster.save_model(str(folder / "model.txt"))
    card = {
        "version": "v1",
        "threshold": 0.3,
        "vocabulary": vocabulary,
        "features": F.MODEL_FEATURES,
        "calibration": {"method": "platt", "a": 0.9, "b": -0.2},
        "online_features": {"version": "s1"},
        "data_window": {
            "train_months": ["2013-01"],
            "valid_month": "2013-02",
            "test_month": "2013-02",
        },
    }
    (folder / "model_card.json").write_text(json.dumps(card))
    F.save_state(
        F.build_feature_state(history, planes, horizon_days=35), folder / "online_features"
    )
    return folder


def request_frame(*flights: dict) -> pl.DataFrame:
    return requests_frame(PredictRequest.model_validate({"flights": list(flights)}).flights)


def test_load_scoring_model_and_provenance(model_folder):
    model = load_scoring_model(model_folder)
    assert model.version == "v1" and model.threshold == 0.3
    prov = model.provenance()
    assert prov["data_window"]["test_month"] == "2013-02"
    assert prov["feature_snapshot"] == {
        "version": "s1",
        "as_of": model.state.as_of.isoformat(),
        "as_of_day": "2013-03-01",
        "first_complete_day": "2013-02-22",
    }


def test_load_scoring_model_refuses_an_incomplete_folder(tmp_path):
    (tmp_path / "model.txt").write_text("")
    with pytest.raises(FileNotFoundError, match="online_features"):
        load_scoring_model(tmp_path)


def test_score_flights_keeps_order_flags_unknowns_and_fills_weather(model_folder):
    model = load_scoring_model(model_folder)
    base = dict(
        flight_id=None,
        tailnum="N3",
        origin="JFK",
        dest="LAX",
        carrier="AA",
        flight=101,
        scheduled_departure="2013-03-02T08:00:00",
        distance=None,
    )
    flights = request_frame(
        {**base, "flight_id": "known"},
        {**base, "carrier": "ZZ", "origin": "XYZ", "tailnum": "N999", "weather": {"temp": 1.0}},
        {**base, "scheduled_departure": "2013-02-01T08:00:00", "weather": None},
    )
    scores = score_flights(model, flights)
    assert scores.columns == SCORE_COLUMNS
    assert scores["flight_id"].to_list() == ["known", "1", "2"]
    p = scores["delay_probability"].to_numpy()
    assert ((p > 0) & (p < 1)).all()
    assert scores["delayed"].to_list() == list(p >= 0.3)
    assert scores["carrier_unknown"].to_list() == [False, True, False]
    assert scores["origin_unknown"].to_list() == [False, True, False]
    assert scores["tailnum_unknown"].to_list() == [False, True, False]
    assert scores["weather_from_snapshot"].to_list() == [True, False, True]
    assert scores["state_stale_days"].to_list() == [1, 1, 0]
    assert scores["history_incomplete"].to_list() == [False, False, True]
    records = scores.to_dicts()
    assert records[0]["weather_from_snapshot"] is True  # one name from table to response


def test_narrowing_the_state_changes_nothing(model_folder):
    model = load_scoring_model(model_folder)
    history = synthetic_history(days=8, seed=11).with_columns(
        pl.col("sched_dep_local") + pl.duration(days=10)
    )
    narrow = score_flights(model, history)
    wide = score_flights(model, history, narrow_state=False)
    assert narrow.equals(wide)
    np.testing.assert_array_equal(narrow["delay_probability"], wide["delay_probability"])


def test_score_flights_on_no_rows(model_folder):
    scores = score_flights(load_scoring_model(model_folder), request_frame(flight()).clear())
    assert scores.height == 0 and scores.columns == SCORE_COLUMNS


def test_the_memoized_snapshot_scores_like_the_general_path(model_folder):
    model = load_scoring_model(model_folder)  # memoizes the aggregates at the as-of day
    assert model.state.as_of_features_ready
    plain = F.load_state(model_folder / "online_features")
    tomorrow = synthetic_history(days=3, seed=5).with_columns(
        pl.col("sched_dep_local") + pl.duration(days=3)  # on and after the as-of day
    )
    for flights in (tomorrow, tomorrow.head(1), pl.concat([tomorrow, synthetic_history(days=4)])):
        fast = score_flights(model, flights)
        assert fast.equals(score_flights(model, flights, state=plain))
        assert fast.equals(score_flights(model, flights, state=plain, narrow_state=False))


def test_a_batch_of_requests_scores_like_each_request_alone(model_folder):
    model = load_scoring_model(model_folder)
    base = dict(EXAMPLE_FLIGHT, scheduled_departure="2013-03-02T08:00:00", carrier="AA")
    requests = [
        PredictRequest.model_validate({"flights": flights}).flights
        for flights in (
            [base],
            [{**base, "carrier": "ZZ", "tailnum": None}, {**base, "weather": None}],
            [{**base, "scheduled_departure": "2013-02-20T10:00:00", "flight_id": "past"}],
        )
    ]
    batch = score_request_batch(model, requests)
    assert [f.height for f, _ in batch] == [1, 2, 1]
    for flights, (frame, scores) in zip(requests, batch, strict=True):
        assert frame.equals(requests_frame(flights))
        assert scores.equals(score_flights(model, requests_frame(flights)))
    assert [s["flight_id"].to_list() for _, s in batch] == [["0"], ["0", "1"], ["past"]]
    assert score_request_batch(model, []) == []


def test_probabilities_are_calibrated_and_explanations_add_up(model_folder):
    model = load_scoring_model(model_folder)
    frame = request_frame(flight(), flight(carrier="ZZ"), flight(origin="LGA"))
    scores = score_flights(model, frame, explain=True)
    features = F.flight_feature_rows(frame, model.state, model.vocabulary)
    matrix = F.feature_matrix(features, model.features)
    raw = model.booster.predict(matrix, raw_score=True)
    expected = 1 / (1 + np.exp(-(0.9 * raw - 0.2)))  # Platt on the booster's log-odds
    assert np.allclose(scores["delay_probability"].to_numpy(), expected, atol=1e-9)
    for row, r in zip(scores["explanation"].to_list(), raw, strict=True):
        assert row["units"] == "log-odds" and row["raw_score"] == pytest.approx(r, abs=1e-9)
        top = row["top"]
        assert len(top) == 5 and all(c["label"] for c in top)
        magnitudes = [abs(c["contribution"]) for c in top]
        assert magnitudes == sorted(magnitudes, reverse=True)
    # The full contribution vector (LightGBM's identity): base value + contributions = raw.
    full = contributions(model.booster, matrix)
    assert np.allclose(full.sum(axis=1), raw, atol=1e-9)
    assert "explanation" not in score_flights(model, frame).columns


def test_flights_far_past_the_snapshot_are_named(model_folder):
    model = load_scoring_model(model_folder)
    day = model.state.as_of_day
    near = Flight.model_validate(flight(scheduled_departure=f"{day + timedelta(days=45)}T09:00:00"))
    far = Flight.model_validate(flight(scheduled_departure=f"{day + timedelta(days=46)}T09:00:00"))
    assert stale_flight_errors([near], day, 45) == []
    errors = stale_flight_errors([near, far], day, 45)
    assert [e["loc"] for e in errors] == [["flights", 1, "scheduled_departure"]]
    assert "46 days after" in errors[0]["msg"] and "at most 45 days" in errors[0]["msg"]
