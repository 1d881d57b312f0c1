"""Feature assets (group ``features``): the training feature table and the online snapshot."""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.metadata import rounded_metadata
from assets.policies import FOLLOWS_UPSTREAM, MONTHLY_DATA_FRESHNESS, WAREHOUSE_POOL
from flightline.explain import FEATURE_LABELS
from flightline.feature_checks import (
    NOT_NULL_FEATURES,
    null_counts,
    stored_point_in_time_mismatches,
)
from flightline.feature_table import (
    FEATURES_TABLE,
    ONLINE_HORIZON_DAYS,
    data_fingerprint,
    online_state,
    update_feature_table,
)
from flightline.features import FEATURE_COLUMNS, forbidden_columns_present, save_state
from flightline.warehouse import read_table
from resources import ArtifactStore

FCT_FLIGHTS = dg.AssetKey(["marts", "fct_flights"])
DIM_PLANES = dg.AssetKey(["marts", "dim_planes"])


# Columns of the feature table that are not features; the features are described by the
# readable names the service's explanations use.
OTHER_COLUMNS = {
    "flight_id": "Flight key, as in marts.fct_flights.",
    "flight_month": "'YYYY-MM' of the flight's local date: the month the row was built with.",
    "is_delayed": "Label: arrived 15+ minutes late (null for cancelled or diverted flights).",
}


def table_schema(df: pl.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(n, str(t), description=FEATURE_LABELS.get(n) or OTHER_COLUMNS.get(n))
            for n, t in df.schema.items()
        ]
    )


class FlightFeaturesConfig(dg.Config):
    full_rebuild: bool = False  # rebuild every month, not only new or changed ones


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
            name, asset=["features", "flight_features"], blocking=True, description=text
        )
        for name, text in [
            (
                "no_unexpected_nulls",
                "No null in the flight id, the categorical codes or the calendar, schedule and "
                "history-aggregate features (weather and plane columns may be null).",
            ),
            (
                "one_row_per_flight",
                "Exactly one feature row per flight of marts.fct_flights: as many rows as "
                "fct_flights and as many distinct flight_ids as rows.",
            ),
            (
                "no_forbidden_columns",
                "No outcome column (dep_*, arr_*, air_time, same-day outcomes) is a feature: "
                "they are unknown when a flight is scored.",
            ),
        ]
    ],
)
def flight_features(
    context: dg.AssetExecutionContext, config: FlightFeaturesConfig, warehouse: DuckDBResource
):
    with warehouse.get_connection() as conn:
        update = update_feature_table(conn, full_rebuild=config.full_rebuild, log=context.log.info)
        nulls = null_counts(conn)
        rows, flights, ids, labelled, delay_rate, months = conn.execute(
            f"SELECT (SELECT count(*) FROM {FEATURES_TABLE}), "
            "(SELECT count(*) FROM marts.fct_flights), "
            f"count(DISTINCT flight_id), count(is_delayed), avg(is_delayed::DOUBLE), "
            f"list(DISTINCT flight_month ORDER BY flight_month) FROM {FEATURES_TABLE}"
        ).fetchone()
        empty = read_table(conn, f"SELECT * FROM {FEATURES_TABLE} LIMIT 0")
        fingerprint = data_fingerprint(conn)
    forbidden = forbidden_columns_present(FEATURE_COLUMNS)
    rebuilt = update.rebuilt_months
    yield dg.MaterializeResult(
        metadata=rounded_metadata(
            {
                "dagster/row_count": rows,
                "dagster/column_schema": table_schema(empty),
                "features": len(FEATURE_COLUMNS),
                "labelled_rows": labelled,
                "delay_rate": float(delay_rate or 0.0),
                "months": f"{months[0]}..{months[-1]} ({len(months)})" if months else "none",
                "latest_month": months[-1] if months else "none",
                # what the retraining sensor keys on: one training per champion and data state
                "data_fingerprint": fingerprint,
                "rebuilt_months": f"{rebuilt[0]}..{rebuilt[-1]} ({len(rebuilt)})"
                if rebuilt
                else "none",
                "removed_months": update.removed_months,
                "rows_written": update.rows_written,
                "full_rebuild": update.full_rebuild,
                "vocabulary_sizes": {k: len(v) for k, v in update.vocabulary.items()},
            }
        )
    )
    yield dg.AssetCheckResult(
        check_name="no_unexpected_nulls",
        passed=not nulls,
        metadata={"null_counts": nulls, "checked_columns": len(NOT_NULL_FEATURES)},
    )
    yield dg.AssetCheckResult(
        check_name="one_row_per_flight",
        passed=rows == flights and ids == rows,
        metadata={"feature_rows": rows, "fct_flights_rows": flights, "distinct_flight_ids": ids},
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
        "Recomputes the second-to-last month's features from fct_flights up to that month alone "
        "and compares them with the stored ones: any difference means later data leaked in."
    ),
)
def features_point_in_time(warehouse: DuckDBResource) -> dg.AssetCheckResult:
    with warehouse.get_connection() as conn:
        month, mismatches = stored_point_in_time_mismatches(conn)
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
    with warehouse.get_connection() as conn:
        state = online_state(conn, ONLINE_HORIZON_DAYS)
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
