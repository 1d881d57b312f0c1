"""Monitoring assets (group ``monitoring``), per month: how far the features drift from the data
the champion was trained on, and how the model did once the actual arrivals landed."""

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.features import flight_features as flight_features_asset
from assets.partitions import WAREHOUSE_POOL, month_key, monthly_partitions
from assets.serving import PREDICTIONS_TABLE, champion_folder, flight_predictions
from flightline.drift import DRIFT_THRESHOLD, drift_summary, feature_psi, live_performance
from flightline.feature_table import FEATURES_TABLE
from flightline.features import AGGREGATE_FEATURES
from flightline.warehouse import read_table, replace_rows
from resources import ArtifactStore

DRIFT_TABLE = "monitoring.feature_drift"
# Not scored for drift: the calendar position moves by construction from month to month, and
# the rolling outcome aggregates take one value per day and move with the delays themselves
# (the model's live performance covers them). Drift is measured on the inputs: schedule,
# airports, carrier, plane and weather.
NOT_DRIFT_SCORED = {
    "month",
    "day_of_year",
    "days_to_next_holiday",
    "days_since_holiday",
    "state_stale_days",  # 0 in the day-before table drift reads: how old a snapshot is, not data
    *AGGREGATE_FEATURES,
}


@dg.asset(
    key=["monitoring", "feature_drift"],
    group_name="monitoring",
    deps=[flight_features_asset],
    partitions_def=monthly_partitions,
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    description=(
        "Population stability index of the model's input features (schedule, airports, carrier, "
        "plane, weather) in a month against the champion's training months (`monitoring.feature_drift`). PSI above 0.2 counts as drift; the "
        "retraining sensor reads `max_psi` from this asset's metadata."
    ),
)
def feature_drift(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, artifacts: ArtifactStore
) -> dg.MaterializeResult:
    version, _ = champion_folder(artifacts)
    card = artifacts.registry.card(version)
    window = card["data_window"]
    reference_months = [*window["train_months"], window["valid_month"]]
    month = month_key(context.partition_key)
    with warehouse.get_connection() as conn:
        rows = read_table(
            conn,
            f"SELECT * FROM {FEATURES_TABLE} WHERE flight_month IN (SELECT UNNEST(?))",
            [[*reference_months, month]],
        )
    current = rows.filter(pl.col("flight_month") == month)
    if current.is_empty():
        raise dg.Failure(f"no features for {month} yet: materialize features/flight_features first")
    features = [f for f in card["features"] if f not in NOT_DRIFT_SCORED]
    table = feature_psi(rows.filter(pl.col("flight_month") != month), current, features)
    summary = drift_summary(table, DRIFT_THRESHOLD)
    with warehouse.get_connection() as conn:
        replace_rows(
            conn,
            DRIFT_TABLE,
            table.with_columns(
                pl.lit(month).alias("flight_month"), pl.lit(version).alias("champion")
            ),
            "flight_month",
            [month],
        )
    return dg.MaterializeResult(
        metadata={
            "max_psi": summary["max_psi"],
            "max_feature": summary["max_feature"],
            "drifting_features": summary["n_drifting"],
            "threshold": DRIFT_THRESHOLD,
            "champion": version,
            "reference_months": ", ".join(reference_months),
            "rows": current.height,
            "top_drifting": dg.MetadataValue.md(
                "| feature | PSI |\n|---|---|\n"
                + "\n".join(f"| {t['feature']} | {t['psi']:.3f} |" for t in summary["top"])
            ),
        }
    )


@dg.asset(
    key=["monitoring", "model_performance"],
    group_name="monitoring",
    deps=[flight_predictions],
    partitions_def=monthly_partitions,
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    description=(
        "How the model that scored a month did once its actual arrivals landed: AUC, Brier score "
        "and calibration in the large, from `predictions.flight_predictions`. The retraining "
        "sensor reads `auc` from this asset's metadata."
    ),
)
def model_performance(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    month = month_key(context.partition_key)
    with warehouse.get_connection() as conn:
        scored = read_table(
            conn,
            f"SELECT is_delayed, delay_probability, model_version FROM {PREDICTIONS_TABLE} "
            "WHERE flight_month = ?",
            [month],
        )
    if scored.is_empty():
        raise dg.Failure(
            f"no predictions for {month}: materialize serving/flight_predictions first"
        )
    labelled = scored.filter(pl.col("is_delayed").is_not_null())
    performance = live_performance(
        labelled["is_delayed"].cast(pl.Int8).to_numpy(), labelled["delay_probability"].to_numpy()
    )
    return dg.MaterializeResult(
        metadata={
            **{k: v for k, v in performance.items() if v is not None},
            "model_versions": ", ".join(sorted(scored["model_version"].unique().to_list())),
            "rows_scored": scored.height,
        }
    )
