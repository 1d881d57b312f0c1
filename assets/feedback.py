"""The feedback loop (group ``monitoring``): what the service served, and how it did once the
flights landed."""

from pathlib import Path

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.metadata import rounded_metadata
from assets.monitoring import headline, performance_table
from assets.partitions import monthly_partitions
from assets.policies import FOLLOWS_UPSTREAM, WAREHOUSE_POOL
from flightline.live_metrics import performance_by_version
from flightline.months import month_of
from flightline.prediction_log import LOG_DIR, join_outcomes, read_prediction_log
from flightline.warehouse import drop_if_outdated, read_table, replace_rows
from resources import ArtifactStore

SERVED_TABLE = "monitoring.served_predictions"


@dg.asset(
    key=["monitoring", "served_predictions"],
    group_name="monitoring",
    deps=[dg.AssetKey(["marts", "fct_flights"])],
    partitions_def=monthly_partitions,
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    # Refreshed whenever a month's actual arrivals land in fct_flights.
    automation_condition=FOLLOWS_UPSTREAM,
    description=(
        "What the service served for a month's flights (the JSON Lines log in "
        "`<data>/prediction_log/`), joined with the actual arrivals from `marts.fct_flights` on "
        "(date, carrier, flight number, origin): the month's rows of "
        "`monitoring.served_predictions`. `is_delayed` is null until the flight has landed (and "
        "for cancelled or diverted flights). Metadata: live AUC, Brier score and calibration "
        "per model version and over all of them, on rows with an outcome."
    ),
)
def served_predictions(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, artifacts: ArtifactStore
) -> dg.MaterializeResult:
    month = month_of(context.partition_key)
    log = read_prediction_log(Path(artifacts.root) / LOG_DIR)
    log = log.filter(pl.col("sched_dep_local").dt.strftime("%Y-%m") == month)
    days = log["sched_dep_local"].dt.date().unique().drop_nulls().to_list()
    with warehouse.get_connection() as conn:
        flights = read_table(
            conn,
            "SELECT flight_date, carrier, flight_number, origin, is_delayed "
            "FROM marts.fct_flights WHERE flight_date IN (SELECT UNNEST(?::DATE[]))",
            [days],
        )
        served = join_outcomes(log, flights).with_columns(flight_month=pl.lit(month))
        drop_if_outdated(conn, SERVED_TABLE, served.columns)  # e.g. written before months
        replace_rows(conn, SERVED_TABLE, served, "flight_month", [month])
    rows = performance_by_version(served)
    return dg.MaterializeResult(
        metadata=rounded_metadata(
            {
                "rows_served": served.height,
                "rows_with_outcome": rows[-1]["n"],
                "requests": served["request_id"].n_unique(),
                "model_versions": ", ".join(sorted(served["model_version"].unique().drop_nulls())),
                **{f"live_{k}": v for k, v in headline(rows).items() if k != "n"},
                "by_model_version": performance_table(rows),
                "table": SERVED_TABLE,
            }
        )
    )
