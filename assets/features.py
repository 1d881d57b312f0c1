"""Feature assets (group ``features``): the training feature table and the online snapshot."""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.partitions import FOLLOWS_UPSTREAM, MONTHLY_DATA_FRESHNESS, WAREHOUSE_POOL
from flightline.feature_table import (
    NOT_NULL_FEATURES,
    build_feature_table,
    null_counts,
    point_in_time_mismatches,
    vocabulary_frame,
    vocabulary_from_frame,
)
from flightline.features import (
    FEATURE_COLUMNS,
    build_feature_state,
    forbidden_columns_present,
    save_state,
)
from flightline.warehouse import read_table, replace_table
from resources import ArtifactStore

FCT_FLIGHTS = dg.AssetKey(["marts", "fct_flights"])
DIM_PLANES = dg.AssetKey(["marts", "dim_planes"])
FEATURES_TABLE = "features.flight_features"
VOCABULARY_TABLE = "features.vocabulary"
# The online snapshot keeps this many days of daily sums: enough for every feature window.
ONLINE_HORIZON_DAYS = 35


def read_flights_and_planes(warehouse: DuckDBResource) -> tuple[pl.DataFrame, pl.DataFrame]:
    with warehouse.get_connection() as conn:
        return (
            read_table(conn, "SELECT * FROM marts.fct_flights ORDER BY flight_id"),
            read_table(conn, "SELECT * FROM marts.dim_planes"),
        )


def table_schema(df: pl.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(n, str(t)) for n, t in df.schema.items()])


@dg.asset(
    key=["features", "flight_features"],
    group_name="features",
    deps=[FCT_FLIGHTS, DIM_PLANES],
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    # Rebuilt after each monthly landing: stale when a month's data never reached the features.
    freshness_policy=MONTHLY_DATA_FRESHNESS,
    # New months reach the features (and so the drift monitor) without waiting for a retraining.
    automation_condition=FOLLOWS_UPSTREAM,
    description=(
        "Point-in-time features for every flight in fct_flights, with the label: written to "
        "DuckDB `features.flight_features`. Aggregates count only flights whose outcome was "
        "known at the prediction moment (local midnight starting the flight's day)."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            "no_unexpected_nulls", asset=["features", "flight_features"], blocking=True
        ),
        dg.AssetCheckSpec(
            "one_row_per_flight", asset=["features", "flight_features"], blocking=True
        ),
        dg.AssetCheckSpec(
            "no_forbidden_columns", asset=["features", "flight_features"], blocking=True
        ),
    ],
)
def flight_features(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    flights, planes = read_flights_and_planes(warehouse)
    table, vocabulary = build_feature_table(flights, planes)
    with warehouse.get_connection() as conn:
        replace_table(conn, FEATURES_TABLE, table)
        replace_table(conn, VOCABULARY_TABLE, vocabulary_frame(vocabulary))
    nulls = null_counts(table)
    forbidden = forbidden_columns_present(FEATURE_COLUMNS)
    months = table["flight_month"].unique().sort().to_list()
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.height,
            "dagster/column_schema": table_schema(table),
            "features": len(FEATURE_COLUMNS),
            "labelled_rows": table["is_delayed"].is_not_null().sum(),
            "delay_rate": float(table["is_delayed"].mean()),
            "months": f"{months[0]}..{months[-1]} ({len(months)})",
            "vocabulary_sizes": {k: len(v) for k, v in vocabulary.items()},
        }
    )
    yield dg.AssetCheckResult(
        check_name="no_unexpected_nulls",
        passed=not nulls,
        metadata={"null_counts": nulls, "checked_columns": len(NOT_NULL_FEATURES)},
    )
    yield dg.AssetCheckResult(
        check_name="one_row_per_flight",
        passed=table.height == flights.height and table["flight_id"].n_unique() == table.height,
        metadata={"feature_rows": table.height, "fct_flights_rows": flights.height},
    )
    yield dg.AssetCheckResult(
        check_name="no_forbidden_columns",
        passed=not forbidden,
        metadata={"forbidden_present": forbidden},
    )


@dg.asset_check(
    asset=flight_features,
    blocking=True,
    pool=WAREHOUSE_POOL,
    description=(
        "Recomputes the latest month's features from fct_flights up to that month alone and "
        "compares them with the stored ones: any difference means later data leaked in."
    ),
)
def features_point_in_time(warehouse: DuckDBResource) -> dg.AssetCheckResult:
    flights, planes = read_flights_and_planes(warehouse)
    with warehouse.get_connection() as conn:
        stored = read_table(conn, f"SELECT * FROM {FEATURES_TABLE}")
        vocabulary = vocabulary_from_frame(read_table(conn, f"SELECT * FROM {VOCABULARY_TABLE}"))
    months = sorted(stored["flight_month"].unique().to_list())
    # The second-to-last month is the strongest test: a whole later month could leak into it.
    month = months[-2] if len(months) > 1 else months[-1]
    mismatches = point_in_time_mismatches(flights, planes, stored, month, vocabulary)
    return dg.AssetCheckResult(
        passed=not mismatches,
        metadata={"month": month, "mismatched_cells": mismatches},
    )


@dg.asset(
    key=["features", "online_features"],
    group_name="features",
    deps=[FCT_FLIGHTS, DIM_PLANES],
    kinds={"polars", "parquet"},
    pool=WAREHOUSE_POOL,
    description=(
        "The as-of state serving needs, as of the end of the latest landed day: daily delay sums "
        "per carrier, origin, route, plane, ..., route distances, planes and the latest weather "
        "per origin. A versioned folder of parquet files, shipped with the model."
    ),
)
def online_features(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, artifacts: ArtifactStore
) -> dg.MaterializeResult:
    flights, planes = read_flights_and_planes(warehouse)
    state = build_feature_state(flights, planes, horizon_days=ONLINE_HORIZON_DAYS)
    version = f"{state.as_of_day.isoformat()}-{context.run.run_id[:8]}"
    folder = save_state(state, artifacts.online_features / version)
    size = sum(f.stat().st_size for f in Path(folder).iterdir())
    return dg.MaterializeResult(
        metadata={
            "snapshot_version": version,
            "snapshot_path": dg.MetadataValue.path(str(folder)),
            "as_of": state.as_of.isoformat(),
            "as_of_day": state.as_of_day.isoformat(),
            "horizon_days": ONLINE_HORIZON_DAYS,
            "rows_per_key": {k: df.height for k, df in state.daily.items()},
            "size_kb": round(size / 1024, 1),
            "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )
