"""The rows a model is fit and judged on: month splits, labels and the training tables."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl

from flightline.features import (
    LABEL,
    WEATHER_FEATURES,
)

MONTH_COLUMN = "flight_month"
# Months of training data before the validation month: a year covers every season and keeps
# training time and memory flat however long the history grows.
DEFAULT_TRAIN_MONTHS = 12


@dataclass(frozen=True)
class MonthSplit:
    train: tuple[str, ...]
    valid: str
    test: str


def month_split(
    months: Iterable[str], test_month: str | None = None, train_months: int | None = None
) -> MonthSplit:
    """Test = ``test_month`` (default: the last month), valid = the month before, train = earlier
    (the last ``train_months`` of them when given: a window that does not grow with history)."""
    ordered = sorted(set(months))
    test = test_month or ordered[-1]
    if test not in ordered:
        raise ValueError(f"test month {test} not among {ordered}")
    before = [m for m in ordered if m < test]
    if len(before) < 2:
        raise ValueError(f"need at least two months before {test} (train + validation)")
    train = before[:-1][-train_months:] if train_months else before[:-1]
    return MonthSplit(train=tuple(train), valid=before[-1], test=test)


def split_frame(
    table: pl.DataFrame, split: MonthSplit, month_col: str = MONTH_COLUMN
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(train, valid, test) rows of ``table``; rows without a label are dropped."""
    labelled = table.filter(pl.col(LABEL).is_not_null())
    month = pl.col(month_col)
    return (
        labelled.filter(month.is_in(list(split.train))),
        labelled.filter(month == split.valid),
        labelled.filter(month == split.test),
    )


def training_table(flights: pl.DataFrame, features: pl.DataFrame) -> pl.DataFrame:
    """Features joined to the label and month of each flight (by ``flight_id``)."""
    keys = flights.select("flight_id", MONTH_COLUMN, pl.col(LABEL))
    return features.join(keys, on="flight_id", how="inner", maintain_order="left")


def labels(df: pl.DataFrame) -> np.ndarray:
    return df.get_column(LABEL).cast(pl.Int8).to_numpy()


# Which rows the model is fit on: features of the day before each flight, features as served
# from the month-start snapshot, or both (each training flight twice, with state_stale_days
# telling them apart). See BENCHMARKS.md for what each gave.
TRAIN_ROWS = ("day_before", "as_served", "both")
DEFAULT_TRAIN_ROWS = "both"
# Share of as-served training rows fit without their weather: a request may omit it and the
# snapshot's last observation may be too old, so the model must have learned what "no weather"
# means on ordinary flights (else it reads NaN as the rare outages of the source data).
WEATHER_DROPOUT = 0.05


def without_weather_sometimes(rows: pl.DataFrame, share: float = WEATHER_DROPOUT) -> pl.DataFrame:
    """``rows`` with the weather features blanked on a fixed ``share`` of flights (by id hash)."""
    if rows.height == 0 or share <= 0:
        return rows
    blank = (pl.col("flight_id").hash(seed=0) % 10_000) < int(share * 10_000)
    exprs = [pl.when(blank).then(None).otherwise(pl.col(c)).alias(c) for c in WEATHER_FEATURES]
    if "weather_missing" in rows.columns:
        exprs.append((pl.col("weather_missing") | blank).alias("weather_missing"))
    return rows.with_columns(exprs)


@dataclass(frozen=True)
class SplitTables:
    """The rows of one time split.

    ``train``: the rows the model (and the baselines) are fit on; ``train_served``: the training
    months as served; ``valid``/``test``: the validation and test months as served (early
    stopping, calibration, the headline figures); ``test_day_before``: the test month with
    day-before features (what batch predictions see).
    """

    split: MonthSplit
    train: pl.DataFrame
    train_served: pl.DataFrame
    valid: pl.DataFrame
    test: pl.DataFrame
    test_day_before: pl.DataFrame


def split_tables(
    day_before: pl.DataFrame,
    served: pl.DataFrame,
    split: MonthSplit,
    train_rows: str = DEFAULT_TRAIN_ROWS,
    first_month: str | None = None,
) -> SplitTables:
    """Labelled rows of each part of ``split`` (both tables: rows of :func:`training_table`).

    ``first_month``: the first month of all history. Its as-served rows are not fit on: the
    snapshot at its start holds no history at all, which no served month will ever see again.
    """
    if train_rows not in TRAIN_ROWS:
        raise ValueError(f"train_rows must be one of {TRAIN_ROWS}, got {train_rows!r}")
    db_train, _, db_test = split_frame(day_before, split)
    sv_train, sv_valid, sv_test = split_frame(served, split)
    if first_month is not None:
        sv_train = sv_train.filter(pl.col(MONTH_COLUMN) != first_month)
    sv_train = without_weather_sometimes(sv_train)
    fit = {
        "day_before": db_train,
        "as_served": sv_train,
        "both": pl.concat([db_train, sv_train], how="vertical_relaxed"),
    }[train_rows]
    return SplitTables(
        split, fit, sv_train, sv_valid, sv_test.sort("flight_id"), db_test.sort("flight_id")
    )
