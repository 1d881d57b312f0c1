"""Rolling-origin backtest: the model-quality figure that does not hang on one test month.

For each of the last ``folds`` months, train exactly as the ``delay_model`` asset does on the
months before it (validation = the month before), and score that month as served. The spread
across months says how much one month's AUC can be trusted.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import polars as pl

from flightline.training import train_and_evaluate
from flightline.training_data import DEFAULT_TRAIN_ROWS, MONTH_COLUMN, month_split, split_tables

DEFAULT_FOLDS = 3
FOLD_METRICS = ("auc", "pr_auc", "brier", "ece")


def backtest_months(months: list[str], folds: int) -> list[str]:
    """The last ``folds`` months that have at least two months before them."""
    ordered = sorted(set(months))
    return ordered[2:][-folds:]


def rolling_origin_backtest(
    day_before: pl.DataFrame,
    served: pl.DataFrame,
    *,
    folds: int = DEFAULT_FOLDS,
    train_months: int | None = None,
    train_rows: str = DEFAULT_TRAIN_ROWS,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    first_month: str | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> pl.DataFrame:
    """One row per test month: model and rate-baseline figures as served, and the model's
    day-before AUC. ``day_before``/``served``: feature rows of every month involved;
    ``first_month``: the first month of all history (see :func:`split_tables`)."""
    months = served.get_column(MONTH_COLUMN).unique().to_list()
    rows = []
    for test_month in backtest_months(months, folds):
        split = month_split(months, test_month, train_months)
        log(f"backtest fold {test_month}: train {split.train[0]}..{split.train[-1]}")
        tables = split_tables(day_before, served, split, train_rows, first_month)
        result = train_and_evaluate(tables, params, seed, train_rows=train_rows)
        m = result.metrics
        rows.append(
            {
                "test_month": test_month,
                "train_months": len(split.train),
                "n": int(m["model"]["n"]),
                "delay_rate": round(m["model"]["positive_rate"], 4),
                **{k: round(m["model"][k], 4) for k in FOLD_METRICS},
                "auc_day_before": round(m["model_day_before"]["auc"], 4),
                "rate_baseline_auc": round(m["rate_baseline"]["auc"], 4),
                "logistic_baseline_auc": round(m["logistic_baseline"]["auc"], 4),
                "calibration": result.calibrator.method,
            }
        )
    return pl.DataFrame(rows)


def backtest_summary(folds: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Mean and (sample) standard deviation of each metric over the folds."""
    out = {}
    for metric in (*FOLD_METRICS, "auc_day_before"):
        values = folds.get_column(metric).to_list()
        out[metric] = {
            "mean": round(statistics.fmean(values), 4),
            "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
        }
    return out


def backtest_plot_png(folds: pl.DataFrame) -> bytes:
    """AUC per test month: the model as served and day before, and the rate baseline."""
    from matplotlib.figure import Figure

    from flightline.figures import png_bytes

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    months = folds.get_column("test_month").to_list()
    for column, label in (
        ("auc", "model, as served"),
        ("auc_day_before", "model, day-before features"),
        ("rate_baseline_auc", "rate baseline"),
    ):
        ax.plot(months, folds.get_column(column).to_list(), marker="o", label=label)
    ax.set(xlabel="test month", ylabel="AUC", title="Rolling-origin backtest")
    ax.legend(fontsize=8)
    return png_bytes(fig)
