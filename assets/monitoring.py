"""Monitoring assets (group ``monitoring``), per month: how far the features drift from the same
month a year earlier, and how the model did once the actual arrivals landed."""

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.features import flight_features as flight_features_asset
from assets.metadata import rounded_metadata
from assets.model import png_markdown
from assets.partitions import monthly_partitions
from assets.plots import distribution_svg, psi_by_month_svg
from assets.policies import FOLLOWS_UPSTREAM, WAREHOUSE_POOL
from assets.serving import PREDICTIONS_TABLE, flight_predictions
from flightline.drift import (
    DRIFT_THRESHOLD,
    drift_reference,
    drift_summary,
    feature_psi,
)
from flightline.drift_plots import histograms_png, psi_by_month_png, top_drifting
from flightline.feature_table import FEATURES_TABLE
from flightline.features import (
    AGGREGATE_FEATURES,
    AGGREGATE_FEATURES_BY_KEY,
    CATEGORICAL_FEATURES,
    FEATURE_COLUMNS,
    MAX_WINDOW_DAYS,
)
from flightline.live_metrics import performance_by_version
from flightline.months import month_of
from flightline.warehouse import drop_if_outdated, read_table, replace_rows, table_exists
from resources import ArtifactStore

DRIFT_TABLE = "monitoring.feature_drift"
# Not scored for drift: the calendar position moves by construction from month to month, and
# how old a snapshot is says nothing about the data.
NOT_DRIFT_SCORED = {
    "month",
    "day_of_year",
    "days_to_next_holiday",
    "days_since_holiday",
    "state_stale_days",
}
INPUT_FEATURES = [f for f in FEATURE_COLUMNS if f not in NOT_DRIFT_SCORED | set(AGGREGATE_FEATURES)]
# Rolling delay aggregates per carrier, route, plane, ... show a carrier or a route going bad.
# Overall and per-origin ones are left out: with one key (or three) they take one value per day,
# so a month is ~30 points and its PSI is noise; live performance covers the level of delays.
SCORED_AGGREGATES = [
    f
    for key, names in AGGREGATE_FEATURES_BY_KEY.items()
    if key not in ("all", "origin")
    for f in names
]


def drift_records(table: pl.DataFrame) -> list[dg.TableRecord]:
    return [
        dg.TableRecord({"feature": f, "psi": p, "drifting": p > DRIFT_THRESHOLD})
        for f, p in table.select("feature", "psi").iter_rows()
    ]


@dg.asset(
    key=["monitoring", "feature_drift"],
    group_name="monitoring",
    deps=[flight_features_asset],
    partitions_def=monthly_partitions,
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    description=(
        "Population stability index (PSI) of each model input in a month against a reference "
        "month that removes the season: the same month a year earlier, or, in the first year of "
        "data, the previous month (then the figures still carry a month of season). Rolling "
        "delay aggregates are scored only against a year-earlier month that had its full "
        "lookback history, and not the overall or per-origin ones (one value per day). Rows in "
        "`monitoring.feature_drift`; PSI above 0.2 counts as drift, and the retraining sensor "
        "reads `max_psi` from this asset's metadata."
    ),
)
def feature_drift(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    month = month_of(context.partition_key)
    with warehouse.get_connection() as conn:
        (months,) = conn.execute(
            f"SELECT list(DISTINCT flight_month) FROM {FEATURES_TABLE}"
        ).fetchone()
        if month not in (months or []):
            raise dg.Failure(
                f"no features for {month} yet: materialize features/flight_features first"
            )
        reference = drift_reference(month, months, MAX_WINDOW_DAYS)
        if reference is None:
            return dg.MaterializeResult(
                metadata={"reference": f"none: {month} is the first month of data"}
            )
        rows = read_table(
            conn,
            f"SELECT * FROM {FEATURES_TABLE} WHERE flight_month IN (?, ?)",
            [reference.month, month],
        )
    features = INPUT_FEATURES + (SCORED_AGGREGATES if reference.aggregates_comparable else [])
    current = rows.filter(pl.col("flight_month") == month)
    baseline = rows.filter(pl.col("flight_month") == reference.month)
    table = feature_psi(baseline, current, features, categorical=CATEGORICAL_FEATURES)
    summary = drift_summary(table, DRIFT_THRESHOLD)
    drift_rows = table.with_columns(
        flight_month=pl.lit(month),
        reference_month=pl.lit(reference.month),
        reference_kind=pl.lit(reference.kind),
    )
    with warehouse.get_connection() as conn:
        drop_if_outdated(conn, DRIFT_TABLE, drift_rows.columns)  # e.g. written before references
        replace_rows(conn, DRIFT_TABLE, drift_rows, "flight_month", [month])
        history = read_table(
            conn,
            f"SELECT flight_month, max(psi) AS max_psi FROM {DRIFT_TABLE} "
            "GROUP BY flight_month ORDER BY flight_month",
        )
    labels = (f"{reference.month} (reference)", month)
    drifting = top_drifting(baseline, current, table, set(CATEGORICAL_FEATURES))
    return dg.MaterializeResult(
        metadata=rounded_metadata(
            {
                "max_psi": summary["max_psi"],
                "max_feature": summary["max_feature"],
                "drifting_features": ", ".join(summary["drifting"]) or "none",
                "threshold": DRIFT_THRESHOLD,
                "reference": reference.describe(),
                "reference_month": reference.month,
                "aggregates_scored": reference.aggregates_comparable,
                "rows": current.height,
                "psi_by_feature": dg.MetadataValue.table(
                    drift_records(table),
                    schema=dg.TableSchema(
                        columns=[
                            dg.TableColumn("feature", "string"),
                            dg.TableColumn("psi", "float"),
                            dg.TableColumn("drifting", "bool"),
                        ]
                    ),
                ),
                **{
                    f"drift_{i + 1}_{f.feature}": distribution_svg(f, labels)
                    for i, f in enumerate(drifting)
                },
                "psi_by_month": psi_by_month_svg(
                    history["flight_month"].to_list(),
                    history["max_psi"].to_list(),
                    DRIFT_THRESHOLD,
                ),
                "plot_top_drifting_features": png_markdown(
                    "reference vs current",
                    histograms_png(drifting, labels),
                ),
                "plot_psi_by_month": png_markdown("PSI by month", psi_by_month_png(history)),
            }
        )
    )


def performance_table(rows: list[dict]) -> dg.MetadataValue:
    """Live figures per model version, as a table in the UI."""
    figures = ("n", "auc", "brier", "mean_predicted", "observed_rate", "calibration_in_the_large")
    return dg.MetadataValue.table(
        [
            dg.TableRecord(
                {
                    "model_version": r["model_version"],
                    **{k: r[k] for k in figures},
                }
            )
            for r in rows
        ],
        schema=dg.TableSchema(
            columns=[dg.TableColumn("model_version", "string")]
            + [dg.TableColumn(k, "int" if k == "n" else "float") for k in figures]
        ),
    )


def headline(rows: list[dict]) -> dict[str, float | int]:
    """The month's figures over every version that scored it (the last row)."""
    return {k: v for k, v in rows[-1].items() if k != "model_version" and v is not None}


@dg.asset(
    key=["monitoring", "model_performance"],
    group_name="monitoring",
    deps=[flight_predictions],
    partitions_def=monthly_partitions,
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    automation_condition=FOLLOWS_UPSTREAM,
    description=(
        "How the models that batch-scored a month did once its actual arrivals landed: AUC, "
        "Brier score and calibration in the large per model version and overall, from "
        "`predictions.flight_predictions`. Follows the month's predictions, which follow its "
        "arrivals. The retraining sensor reads `auc` from this asset's metadata."
    ),
)
def model_performance(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, artifacts: ArtifactStore
) -> dg.MaterializeResult:
    month = month_of(context.partition_key)
    with warehouse.get_connection() as conn:
        if not table_exists(conn, PREDICTIONS_TABLE):
            raise dg.Failure(
                f"{PREDICTIONS_TABLE} does not exist yet: materialize serving/flight_predictions "
                f"for {month} first (the scoring job)"
            )
        scored = read_table(
            conn,
            f"SELECT is_delayed, delay_probability, model_version FROM {PREDICTIONS_TABLE} "
            "WHERE flight_month = ?",
            [month],
        )
    if scored.is_empty():
        raise dg.Failure(
            f"no predictions for {month} in {PREDICTIONS_TABLE}: materialize "
            "serving/flight_predictions for that month first"
        )
    rows = performance_by_version(scored)
    champion = artifacts.registry.champion()
    trained_through = (
        artifacts.registry.card(champion)["data_window"]["test_month"] if champion else None
    )
    return dg.MaterializeResult(
        metadata=rounded_metadata(
            {
                **headline(rows),
                "by_model_version": performance_table(rows),
                "model_versions": ", ".join(sorted(scored["model_version"].unique().to_list())),
                "rows_scored": scored.height,
                # a month up to the champion's test month was seen in training or testing
                "after_champion_test_month": bool(trained_through and month > trained_through),
            }
        )
    )
