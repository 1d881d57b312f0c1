"""Training and evaluation of the delay model: plain functions, no Dagster, no BentoML.

Evaluation is time-split only: train on months before the validation month, stop early on the
validation month, report on the test month (by default the last one). The same run scores two
baselines on the same test rows: a smoothed historical rate (carrier x scheduled hour, from the
training months) and a logistic regression on the same features.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from flightline.baselines import fit_logistic, predict_logistic, rate_baseline
from flightline.calibration import Calibrator, choose_calibrator
from flightline.features import (
    CATEGORICAL_FEATURES,
    FEATURE_COLUMNS,
    LABEL,
    MODEL_FEATURES,
    feature_matrix,
    forbidden_columns_present,
)
from flightline.metrics import evaluate, reliability_curve
from flightline.training_data import DEFAULT_TRAIN_ROWS, MonthSplit, SplitTables, labels

if TYPE_CHECKING:  # imported where a model is trained or read (flightline/__init__.py says why)
    import lightgbm as lgb

# Chosen on time-split folds that never touch the final test month (test Sep/Oct/Nov 2013, each
# early-stopped on the month before): extra_trees and strong leaf minimums generalize across days
# better than the usual settings (mean fold AUC 0.690 vs 0.681). Learning rate 0.06 with a
# patience of 50 rounds scored the same as 0.03 with 150 on the rolling-origin folds (as-served
# AUC 0.6865 vs 0.6860) in a third of the training time (BENCHMARKS.md).
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "metric": "auc",  # early stopping reads it; nothing else reads a per-round metric
    "learning_rate": 0.06,
    "num_leaves": 31,
    "min_data_in_leaf": 500,
    "extra_trees": True,
    "feature_fraction": 0.5,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    "max_bin": 255,
    "cat_smooth": 20.0,
    "min_data_per_group": 200,
    "max_cat_threshold": 32,
    # A cap on the training time: real data stops early at 100-300 rounds. On the scaled
    # benchmark data, whose simulated years repeat 2013's days, validation AUC keeps creeping up
    # and training would otherwise run for thousands of rounds.
    "num_boost_round": 500,
    "early_stopping_rounds": 50,
}
# Always applied on top of the caller's params: same inputs -> same model string.
DETERMINISM_PARAMS: dict[str, Any] = {
    "deterministic": True,
    "force_row_wise": True,  # ~5x faster than col-wise on the flight table
    "num_threads": 2,
    "verbosity": -1,
}


def lightgbm_params(params: Mapping[str, Any] | None, seed: int) -> dict[str, Any]:
    """Defaults, then the caller's params, then seeds and the determinism switches."""
    merged = {**DEFAULT_PARAMS, **(params or {})}
    merged.update(DETERMINISM_PARAMS)
    merged.update(
        seed=seed,
        bagging_seed=seed + 1,
        feature_fraction_seed=seed + 2,
        data_random_seed=seed + 3,
        objective_seed=seed + 4,
        extra_seed=seed + 5,
    )
    if (params or {}).get("force_col_wise"):  # the caller may prefer col-wise; never both
        merged.pop("force_row_wise")
        merged["force_col_wise"] = True
    return merged


def _dataset(
    df: pl.DataFrame, features: Sequence[str], reference: lgb.Dataset | None = None
) -> lgb.Dataset:
    bad = forbidden_columns_present(features)
    if bad:
        raise ValueError(f"refusing to train on outcome columns: {bad}")
    categorical = [c for c in CATEGORICAL_FEATURES if c in features]
    import lightgbm as lgb

    return lgb.Dataset(
        feature_matrix(df, features),
        label=labels(df),
        feature_name=list(features),
        categorical_feature=categorical,
        reference=reference,
        free_raw_data=False,
    )


PROGRESS_EVERY = 50  # rounds between progress lines in the run log


def _progress(log: Callable[[str], None]) -> Callable[[Any], None]:
    def callback(env: Any) -> None:
        if (env.iteration + 1) % PROGRESS_EVERY == 0 and env.evaluation_result_list:
            _, metric, value, _ = env.evaluation_result_list[0]
            log(f"LightGBM round {env.iteration + 1}: validation {metric} {value:.4f}")

    return callback


def train_lightgbm(
    train: pl.DataFrame,
    valid: pl.DataFrame | None,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    features: Sequence[str] = MODEL_FEATURES,
    log: Callable[[str], None] | None = None,
) -> lgb.Booster:
    """A deterministic booster; with ``valid``, early stopping keeps the best iteration.

    ``params`` may include ``num_boost_round`` and ``early_stopping_rounds``. ``log`` receives a
    progress line every PROGRESS_EVERY rounds.
    """
    import lightgbm as lgb

    p = lightgbm_params(params, seed)
    rounds = int(p.pop("num_boost_round"))
    stopping = int(p.pop("early_stopping_rounds"))
    train_set = _dataset(train, features)
    callbacks, valid_sets = [], []
    if valid is not None and valid.height > 0:
        valid_sets = [_dataset(valid, features, reference=train_set)]
        callbacks = [lgb.early_stopping(stopping, first_metric_only=True, verbose=False)]
        if log is not None:
            callbacks.append(_progress(log))
    booster = lgb.train(
        p,
        train_set,
        num_boost_round=rounds,
        valid_sets=valid_sets or None,
        valid_names=["valid"] if valid_sets else None,
        callbacks=callbacks,
    )
    if valid_sets:  # keep only the trees up to the best validation iteration
        booster = lgb.Booster(
            model_str=booster.model_to_string(num_iteration=booster.best_iteration)
        )
    return booster


def predict(booster: lgb.Booster, df: pl.DataFrame) -> np.ndarray:
    """Probabilities of a 15+ minute arrival delay for feature rows."""
    return booster.predict(feature_matrix(df, booster.feature_name()))


def feature_importance(booster: lgb.Booster, top: int | None = 20) -> pl.DataFrame:
    """Gain importance (total and share) and split counts, largest gain first."""
    gain = booster.feature_importance(importance_type="gain")
    total = float(gain.sum()) or 1.0
    table = pl.DataFrame(
        {
            "feature": booster.feature_name(),
            "gain": gain.astype(np.float64),
            "gain_share": gain / total,
            "splits": booster.feature_importance(importance_type="split").astype(np.int64),
        }
    ).sort("gain", descending=True)
    return table.head(top) if top else table


@dataclass
class TrainingResult:
    booster: lgb.Booster
    calibrator: Calibrator
    calibration_report: dict[str, Any]
    split: MonthSplit
    params: dict[str, Any]
    train_rows: str
    best_iteration: int
    # model (as served, calibrated: the headline), model_uncalibrated, model_day_before,
    # model_valid, rate_baseline, logistic_baseline; each with AUC, PR-AUC, log loss, Brier, ECE.
    metrics: dict[str, dict[str, float]]
    reliability: dict[str, list[dict[str, Any]]]  # before/after calibration, test as served
    importance: pl.DataFrame
    # flight_id, label, p_model (calibrated, as served), p_uncalibrated, p_day_before, baselines
    test_predictions: pl.DataFrame
    train_seconds: float
    features: list[str] = field(default_factory=lambda: list(MODEL_FEATURES))

    def card(self) -> dict[str, Any]:
        """JSON-ready summary for the model card."""
        return {
            "split": {
                "train": list(self.split.train),
                "valid": self.split.valid,
                "test": self.split.test,
            },
            "params": self.params,
            "train_rows": self.train_rows,
            "best_iteration": self.best_iteration,
            "evaluation": (
                "metrics.model: the test month as served (features from the snapshot as of the "
                "end of the validation month, for every test flight), calibrated; "
                "metrics.model_day_before: the same flights with features of the day before each "
                "(what batch predictions see)"
            ),
            "metrics": self.metrics,
            "calibration": self.calibrator.to_json(),
            "calibration_selection": self.calibration_report,
            "reliability": self.reliability,
            "train_seconds": round(self.train_seconds, 2),
            "features": self.features,
            "categorical_features": [c for c in CATEGORICAL_FEATURES if c in self.features],
            "top_features": self.importance.head(15).to_dicts(),
        }


def train_and_evaluate(
    tables: SplitTables,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    features: Sequence[str] = MODEL_FEATURES,
    baselines: bool = True,
    train_rows: str = DEFAULT_TRAIN_ROWS,
    log: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Fit on ``tables.train``, early-stop and calibrate on the validation month as served, and
    score the model and the baselines on the test month as served (and day before).

    No refit on train + validation: the validation month calibrates the model, so the model
    must not have seen it (and the refit's AUC gain was within noise; BENCHMARKS.md).
    """
    started = time.perf_counter()
    booster = train_lightgbm(tables.train, tables.valid, params, seed, features, log)
    seconds = time.perf_counter() - started
    valid, test = tables.valid, tables.test
    p_valid = predict(booster, valid)
    calibrator, report = choose_calibrator(
        p_valid, labels(valid), valid.get_column("day_of_year").to_numpy()
    )
    y_test = labels(test)
    p_raw = predict(booster, test)
    p_model = calibrator.apply(p_raw)
    p_day_before = calibrator.apply(predict(booster, tables.test_day_before))
    metrics = {
        "model": evaluate(y_test, p_model),
        "model_uncalibrated": evaluate(y_test, p_raw),
        "model_day_before": evaluate(labels(tables.test_day_before), p_day_before),
        "model_valid": evaluate(labels(valid), calibrator.apply(p_valid)),
    }
    preds = {
        "flight_id": test.get_column("flight_id"),
        LABEL: y_test,
        "p_model": p_model,
        "p_uncalibrated": p_raw,
        "p_day_before": p_day_before,
    }
    if baselines:
        p_rate = rate_baseline(tables.train, test)
        logistic = fit_logistic(tables.train, FEATURE_COLUMNS)
        p_logit = predict_logistic(logistic, test, FEATURE_COLUMNS)
        metrics["rate_baseline"] = evaluate(y_test, p_rate)
        metrics["logistic_baseline"] = evaluate(y_test, p_logit)
        preds |= {"p_rate_baseline": p_rate, "p_logistic": p_logit}
    return TrainingResult(
        booster=booster,
        calibrator=calibrator,
        calibration_report=report,
        split=tables.split,
        params=lightgbm_params(params, seed),
        train_rows=train_rows,
        best_iteration=booster.current_iteration(),
        metrics=metrics,
        reliability={
            "uncalibrated": reliability_curve(y_test, p_raw),
            "calibrated": reliability_curve(y_test, p_model),
        },
        importance=feature_importance(booster, top=None),
        test_predictions=pl.DataFrame(preds),
        train_seconds=seconds,
        features=list(features),
    )
