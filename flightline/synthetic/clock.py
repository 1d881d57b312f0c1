"""Clock arithmetic on landing columns: HHMM times, local hours to UTC, number formats."""

from __future__ import annotations

import polars as pl

NY_TZ = "America/New_York"
TIME_HOUR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def hhmm_add(col: str | pl.Expr, minutes: pl.Expr) -> pl.Expr:
    """HHMM clock time plus minutes, wrapped to the day; midnight is written 2400 as in the data."""
    c = pl.col(col) if isinstance(col, str) else col
    total = ((c // 100) * 60 + c % 100 + minutes) % 1440
    hhmm = (total // 60) * 100 + total % 60
    return pl.when(hhmm == 0).then(2400).otherwise(hhmm)


def local_to_utc(year: int, month: int, hour: pl.Expr, minute: pl.Expr | int = 0) -> pl.Expr:
    return (
        pl.datetime(year, month, pl.col("day"), hour, minute)
        .dt.replace_time_zone(NY_TZ, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )


def format_float(expr: pl.Expr, decimals: int) -> pl.Expr:
    return expr.round(decimals).cast(pl.String).str.replace(r"\.0$", "")
