"""The feedback loop (group ``monitoring``): what the service served, and how it did once the
flights landed."""

from pathlib import Path

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.partitions import FOLLOWS_UPSTREAM, WAREHOUSE_POOL
from flightline.drift import live_performance
from flightline.prediction_log import LOG_DIR, join_outcomes, read_prediction_log
from flightline.warehouse import read_table, replace_table
from resources import ArtifactStore

SERVED_TABLE = "monitoring.served_predictions"


@dg.asset(
    key=["monitoring", "served_predictions"],
    group_name="monitoring",
    deps=[dg.AssetKey(["marts", "fct_flights"])],
    kinds={"polars", "duckdb"},
    pool=WAREHOUSE_POOL,
    # Refreshed whenever a month's actual arrivals land in fct_flights.
    automation_condition=FOLLOWS_UPSTREAM,
    description=(
        "Every prediction the service served (the JSON Lines log in `<data>/prediction_log/`), "
        "joined with the actual arrival from `marts.fct_flights` on (date, carrier, flight "
        "number, origin): `monitoring.served_predictions`, replaced whole on each run. "
        "`is_delayed` is null until the flight has landed (and for cancelled or diverted "
        "flights). Metadata: live AUC, Brier score and calibration over rows with an outcome."
    ),
)
def served_predictions(warehouse: DuckDBResource, artifacts: ArtifactStore) -> dg.MaterializeResult:
    log = read_prediction_log(Path(artifacts.root) / LOG_DIR)
    days = log["sched_dep_local"].dt.date().unique().drop_nulls().to_list()
    with warehouse.get_connection() as conn:
        flights = read_table(
            conn,
            "SELECT flight_date, carrier, flight_number, origin, is_delayed "
            "FROM marts.fct_flights WHERE flight_date IN (SELECT UNNEST(?::DATE[]))",
            [days],
        )
        served = join_outcomes(log, flights)
        replace_table(conn, SERVED_TABLE, served)
    known = served.filter(pl.col("is_delayed").is_not_null())
    performance = live_performance(
        known["is_delayed"].cast(pl.Float64).to_numpy(), known["delay_probability"].to_numpy()
    )
    return dg.MaterializeResult(
        metadata={
            "rows_served": served.height,
            "rows_with_outcome": known.height,
            "requests": served["request_id"].n_unique(),
            "model_versions": ", ".join(sorted(served["model_version"].unique().drop_nulls())),
            "live_auc": performance["auc"],
            "live_brier": performance["brier"],
            "calibration_in_the_large": performance["calibration_in_the_large"],
            "mean_predicted": performance["mean_predicted"],
            "observed_rate": performance["observed_rate"],
            "table": SERVED_TABLE,
        }
    )
