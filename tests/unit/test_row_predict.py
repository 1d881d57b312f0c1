"""LightGBM's single-row C API gives booster.predict's probabilities (synthetic models, no server)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest

from flightline.features import CATEGORICAL_FEATURES, LABEL, MODEL_FEATURES, feature_matrix
from flightline.row_predict import MAX_ROWS, SingleRowPredictor
from flightline.scoring import SERVING_NUM_THREADS, load_scoring_model
from flightline.serving_fast import score_requests
from flightline.training_data import MONTH_COLUMN
from tests.unit import test_scoring
from tests.unit.test_serving_snapshot import edge_flights, parsed
from tests.unit.training_tables import FAST, synthetic_table

model_folder = test_scoring.model_folder  # the synthetic model's fixture, shared


def month_matrix(table: pl.DataFrame, month: str) -> np.ndarray:
    """A month's feature rows, some values missing (NaN) as served flights' often are."""
    matrix = np.ascontiguousarray(
        feature_matrix(table.filter(pl.col(MONTH_COLUMN) == month), MODEL_FEATURES)
    )
    rng = np.random.default_rng(1)
    matrix[rng.random(matrix.shape) < 0.05] = np.nan
    return matrix


@pytest.fixture(scope="module")
def early_stopped() -> tuple[lgb.Booster, np.ndarray]:
    """A booster whose best iteration is below its last (as early stopping leaves it) and its
    test month."""
    table = synthetic_table(n_per_month=1500)
    train = table.filter(pl.col(MONTH_COLUMN).is_in(["2013-01", "2013-02", "2013-03"]))
    params = {
        k: v for k, v in FAST.items() if k not in ("num_boost_round", "early_stopping_rounds")
    }
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "num_threads": 1, **params},
        lgb.Dataset(
            feature_matrix(train, MODEL_FEATURES),
            label=train[LABEL].cast(pl.Int8).to_numpy(),
            feature_name=MODEL_FEATURES,
            categorical_feature=CATEGORICAL_FEATURES,
        ),
        num_boost_round=40,
    )
    booster.best_iteration = 25
    return booster, month_matrix(table, "2013-04")


def test_a_whole_test_month_row_by_row_equals_booster_predict(early_stopped):
    booster, month = early_stopped
    assert 0 < booster.best_iteration < booster.current_iteration()  # the cut matters here
    predictor = SingleRowPredictor(booster, num_threads=1)
    expected = booster.predict(month, num_threads=1)
    got = np.concatenate([predictor.predict(month[i : i + 1]) for i in range(len(month))])
    assert len(month) == 1500
    assert np.abs(got - expected).max() <= 1e-9
    assert not np.array_equal(expected, booster.predict(month, num_iteration=-1, num_threads=1))


def test_up_to_max_rows_row_by_row_and_the_rest_to_booster_predict(early_stopped, monkeypatch):
    booster, month = early_stopped
    predictor = SingleRowPredictor(booster, num_threads=1)
    expected = booster.predict(month[:100], num_threads=1)
    calls = []
    real = booster.predict
    monkeypatch.setattr(booster, "predict", lambda *a, **k: calls.append(1) or real(*a, **k))
    for n in (1, 2, 5, MAX_ROWS):
        got = predictor.predict(month[:n])
        assert got.shape == (n,) and got.dtype == np.float64
        assert np.abs(got - expected[:n]).max() <= 1e-9
    assert calls == []
    assert np.abs(predictor.predict(month[: MAX_ROWS + 1]) - expected[: MAX_ROWS + 1]).max() == 0
    assert np.abs(predictor.predict(month[:2].astype(np.float64)) - expected[:2]).max() == 0
    assert np.abs(predictor.predict(np.asfortranarray(month[:3])) - expected[:3]).max() == 0
    assert len(calls) == 3  # more rows, float64, column-major: booster.predict
    one = predictor.predict(month[:1])
    assert predictor.predict(month[1:2]) is not one and one[0] == expected[0]  # never shared


def test_one_flight_requests_take_the_c_api_and_equal_the_batch(model_folder, monkeypatch):
    model = load_scoring_model(model_folder)
    assert model.row_predictor is not None
    assert model.row_predictor.num_threads == SERVING_NUM_THREADS
    flights = [f for f in parsed(*edge_flights(seed=3, n=300)) if model.fast.assemble([f])]
    assert len(flights) >= 100
    batch = score_requests(model, [flights], num_threads=SERVING_NUM_THREADS)[0]
    calls = []
    real = model.booster.predict
    monkeypatch.setattr(model.booster, "predict", lambda *a, **k: calls.append(1) or real(*a, **k))
    alone = [score_requests(model, [[f]], num_threads=SERVING_NUM_THREADS)[0] for f in flights]
    few = score_requests(model, [[f] for f in flights[:5]], num_threads=SERVING_NUM_THREADS)
    assert calls == []  # one-flight requests, alone or a few together: through the C API
    assert [one.probability.tolist() for one in few] == [a.probability.tolist() for a in alone[:5]]
    assert all(one.fast for one in alone) and batch.fast
    got = np.concatenate([one.probability for one in alone])
    assert np.abs(got - batch.probability).max() <= 1e-9
    assert [d for one in alone for d in one.delayed.tolist()] == batch.delayed.tolist()
