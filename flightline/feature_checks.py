"""Checks of the stored feature table: no nulls where features always exist, no leakage."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

from flightline.feature_table import (
    FEATURES_TABLE,
    build_month_features,
    read_month_history,
    read_planes,
    stored_months,
    stored_vocabulary,
)
from flightline.features import (
    AGGREGATE_FEATURES,
    CALENDAR_FEATURES,
    CATEGORICAL_FEATURES,
    FEATURE_COLUMNS,
    LABEL,
    SCHEDULE_FEATURES,
    Vocabulary,
)
from flightline.training_data import MONTH_COLUMN
from flightline.warehouse import read_table

# Features that exist for every historical flight: a null here means the feature code is broken.
# Weather and plane attributes may be missing in the source data (LightGBM handles NaN).
NOT_NULL_FEATURES: list[str] = [
    "flight_id",
    *CATEGORICAL_FEATURES,
    *CALENDAR_FEATURES,
    *SCHEDULE_FEATURES,
    *AGGREGATE_FEATURES,
]


def null_counts(
    conn: duckdb.DuckDBPyConnection, columns: Sequence[str] = NOT_NULL_FEATURES
) -> dict[str, int]:
    """Nulls per column of the stored feature table, for the columns that must have none."""
    select = ", ".join(f'count(*) - count("{c}")' for c in columns)
    counts = conn.execute(f"SELECT {select} FROM {FEATURES_TABLE}").fetchone()
    return {c: int(n) for c, n in zip(columns, counts, strict=True) if n}


def point_in_time_mismatches(
    history: pl.DataFrame,
    planes: pl.DataFrame,
    stored: pl.DataFrame,
    month: str,
    vocabulary: Vocabulary,
) -> dict[str, int]:
    """Recompute ``month``'s features from flights up to that month alone; count differing cells.

    ``history``: fct_flights rows from :func:`history_start` of ``month`` up to ``month``.
    ``stored``: the stored feature rows of ``month``, possibly built with later months at hand;
    if any later data leaked into them, the recomputation differs.
    """
    upto = history.filter(pl.col(MONTH_COLUMN) <= month)
    recomputed = build_month_features(upto, planes, [month], vocabulary).sort("flight_id")
    stored = stored.filter(pl.col(MONTH_COLUMN) == month).sort("flight_id")
    if recomputed.height != stored.height or not recomputed["flight_id"].equals(
        stored["flight_id"]
    ):
        return {"flight_id": abs(recomputed.height - stored.height) or stored.height}
    mismatches = {}
    for col in [*FEATURE_COLUMNS, LABEL]:
        a, b = stored[col].cast(pl.Float64), recomputed[col].cast(pl.Float64)
        same = (a == b) | (a.is_null() & b.is_null()) | ((a - b).abs() <= 1e-9)
        n = same.fill_null(False).not_().sum()
        if n:
            mismatches[col] = int(n)
    return mismatches


def stored_point_in_time_mismatches(conn: duckdb.DuckDBPyConnection) -> tuple[str, dict[str, int]]:
    """(month, mismatches) of :func:`point_in_time_mismatches` on the stored table.

    The month is the second-to-last one, the strongest test: a whole later month could leak in.
    """
    months = stored_months(conn)
    month = months[-2] if len(months) > 1 else months[-1]
    stored = read_table(conn, f"SELECT * FROM {FEATURES_TABLE} WHERE flight_month = ?", [month])
    mismatches = point_in_time_mismatches(
        read_month_history(conn, month, month),
        read_planes(conn),
        stored,
        month,
        stored_vocabulary(conn),
    )
    return month, mismatches
