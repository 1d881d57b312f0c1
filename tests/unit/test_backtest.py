"""flightline.backtest on a small synthetic table: folds, figures and their summary."""

from __future__ import annotations

import polars as pl

from flightline.backtest import backtest_months, backtest_summary, rolling_origin_backtest
from tests.unit.test_training import FAST, synthetic_table

MONTHS = ["2013-01", "2013-02", "2013-03", "2013-04", "2013-05"]


def test_folds_are_the_last_months_with_two_months_before_them() -> None:
    assert backtest_months(MONTHS, 3) == ["2013-03", "2013-04", "2013-05"]
    assert backtest_months(MONTHS, 10) == ["2013-03", "2013-04", "2013-05"]
    assert backtest_months(MONTHS[:2], 3) == []


def test_each_fold_trains_on_earlier_months_and_scores_its_month() -> None:
    table = synthetic_table(400, months=MONTHS)
    folds = rolling_origin_backtest(table, table, folds=2, params=FAST, first_month="2013-01")
    assert folds["test_month"].to_list() == ["2013-04", "2013-05"]
    assert folds["train_months"].to_list() == [2, 3]  # all months before the validation month
    assert (folds["n"] == 400).all() and (folds["auc"] > 0.6).all()
    summary = backtest_summary(folds)
    assert summary["auc"]["mean"] == round(folds["auc"].mean(), 4)
    assert summary["auc"]["std"] == round(folds["auc"].std(), 4)
    assert set(summary) == {"auc", "pr_auc", "brier", "ece", "auc_day_before"}
    assert folds.schema["calibration"] == pl.String
