"""flightline.training on small synthetic tables (fast, no files, no network)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from flightline.baselines import fit_logistic, predict_logistic, rate_baseline
from flightline.features import FEATURE_COLUMNS, LABEL, MODEL_FEATURES
from flightline.metrics import evaluate
from flightline.training import feature_importance, predict, train_and_evaluate, train_lightgbm
from flightline.training_data import (
    MONTH_COLUMN,
    labels,
    month_split,
    split_frame,
    split_tables,
    without_weather_sometimes,
)
from flightline.training_plots import calibration_plot_png, roc_plot_png
from tests.unit.training_tables import FAST, MONTHS, synthetic_table


def test_month_split_uses_the_month_before_test_for_validation() -> None:
    months = [f"2013-{m:02d}" for m in range(1, 13)]
    split = month_split(months)
    assert split.test == "2013-12" and split.valid == "2013-11"
    assert split.train == tuple(months[:10])
    assert month_split(months, "2013-06").train == tuple(months[:4])
    with pytest.raises(ValueError):
        month_split(["2013-01", "2013-02"])


def test_split_frame_drops_unlabelled_rows_and_keeps_months_apart() -> None:
    table = synthetic_table(100).with_columns(
        pl.when(pl.col("flight_id") == "f0").then(None).otherwise(pl.col(LABEL)).alias(LABEL)
    )
    train, valid, test = split_frame(table, month_split(MONTHS))
    assert train.height == 199 and valid.height == 100 and test.height == 100
    assert set(train[MONTH_COLUMN]) == {"2013-01", "2013-02"}
    assert set(test[MONTH_COLUMN]) == {"2013-04"}


def test_training_is_deterministic() -> None:
    table = synthetic_table(800)
    train, valid, _ = split_frame(table, month_split(MONTHS))
    a = train_lightgbm(train, valid, FAST, seed=3)
    b = train_lightgbm(train, valid, FAST, seed=3)
    assert a.model_to_string() == b.model_to_string()
    c = train_lightgbm(train, valid, {**FAST, "bagging_fraction": 0.7}, seed=4)
    assert c.model_to_string() != a.model_to_string()  # the check can fail


def test_real_signal_is_learned_and_shuffled_labels_give_chance_auc() -> None:
    table = synthetic_table(1500)
    train, valid, test = split_frame(table, month_split(MONTHS))
    booster = train_lightgbm(train, valid, FAST, seed=0)
    assert evaluate(labels(test), predict(booster, test))["auc"] > 0.7
    rng = np.random.default_rng(1)
    shuffled = [
        df.with_columns(pl.Series(LABEL, rng.permutation(df[LABEL].to_numpy())))
        for df in (train, valid)
    ]
    noise = train_lightgbm(*shuffled, FAST, seed=0)
    assert abs(evaluate(labels(test), predict(noise, test))["auc"] - 0.5) < 0.05


def test_training_refuses_outcome_columns() -> None:
    table = synthetic_table(100).with_columns(pl.lit(3.0).alias("arr_delay_minutes"))
    train, valid, _ = split_frame(table, month_split(MONTHS))
    with pytest.raises(ValueError, match="arr_delay_minutes"):
        train_lightgbm(train, valid, FAST, features=[*FEATURE_COLUMNS, "arr_delay_minutes"])


def test_baselines_and_reports() -> None:
    table = synthetic_table(600)
    train, _, test = split_frame(table, month_split(MONTHS))
    p_rate = rate_baseline(train, test)
    assert p_rate.shape == (test.height,) and 0 < p_rate.min() <= p_rate.max() < 1
    assert evaluate(labels(test), p_rate)["auc"] > 0.6  # hour carries signal
    p_log = predict_logistic(fit_logistic(train), test)
    assert evaluate(labels(test), p_log)["auc"] > 0.7
    booster = train_lightgbm(train, None, FAST, seed=0)
    top = feature_importance(booster, top=5)
    assert top.height == 5 and "precip" in top["feature"].to_list()
    png = roc_plot_png(labels(test), {"model": predict(booster, test), "rate": p_rate})
    assert png.startswith(b"\x89PNG")
    png = calibration_plot_png(labels(test), {"before": p_log, "after": p_rate})
    assert png.startswith(b"\x89PNG")


def test_train_and_evaluate_measures_as_served_and_calibrates() -> None:
    day_before = synthetic_table(500, seed=0)
    # "As served": the same flights, with a systematic shift the model must be calibrated for.
    served = day_before.with_columns(pl.col("precip") - 0.5)
    tables = split_tables(day_before, served, month_split(MONTHS), "both")
    assert tables.train.height == 2 * tables.train_served.height  # both kinds of rows
    result = train_and_evaluate(tables, params=FAST, seed=0)
    assert result.split.test == "2013-04"
    assert {"model", "model_uncalibrated", "model_day_before", "model_valid"} <= set(result.metrics)
    assert {"rate_baseline", "logistic_baseline"} <= set(result.metrics)
    assert result.test_predictions.height == result.metrics["model"]["n"] == 500
    # The as-served headline is computed on the served rows, the day-before one on the others.
    p_served = result.calibrator.apply(predict(result.booster, tables.test))
    assert np.allclose(result.test_predictions["p_model"].to_numpy(), p_served)
    assert result.metrics["model"]["auc"] != result.metrics["model_day_before"]["auc"]
    assert result.calibrator.method in ("platt", "isotonic")
    card = result.card()
    assert card["features"] == MODEL_FEATURES and card["best_iteration"] >= 1
    assert card["calibration"]["method"] == result.calibrator.method
    import json

    json.dumps(card)  # the card is JSON-ready


def test_a_fixed_share_of_as_served_training_rows_has_no_weather() -> None:
    table = synthetic_table(2000)
    blanked = without_weather_sometimes(table)
    gone = blanked["temp"].is_null()
    assert 0.03 < gone.mean() < 0.07  # about WEATHER_DROPOUT
    assert blanked.filter(gone).select(WEATHER).null_count().row(0) == (int(gone.sum()),) * 2
    kept = blanked.filter(~gone)
    assert kept.equals(table.filter(~gone))  # other rows untouched
    assert without_weather_sometimes(table).equals(blanked)  # the same rows every time
    tables = split_tables(table, table, month_split(MONTHS), "both")
    day_before_rows = tables.train.head(tables.train.height // 2)
    assert day_before_rows["temp"].null_count() == 0  # only the as-served copy is blanked


WEATHER = ["temp", "temp_dewp_spread"]
