"""Serving assets (group ``serving``): the champion in the BentoML store, its bento, and batch
predictions. None of them runs when the validation gate fails: they follow ``champion_model``.
"""

import datetime as dt
import json

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.event_log import latest_metadata
from assets.metadata import DIGITS
from assets.model import champion_model
from assets.partitions import monthly_partitions
from assets.policies import WAREHOUSE_POOL
from flightline.bento_store import build_bento, save_model_to_bentoml
from flightline.feature_table import read_month_history, read_planes
from flightline.features import build_feature_state
from flightline.months import month_of
from flightline.scoring import load_scoring_model, score_flights
from flightline.warehouse import rename_columns, replace_rows
from resources import ArtifactStore

PREDICTIONS_TABLE = "predictions.flight_predictions"


def champion_folder(artifacts: ArtifactStore):
    registry = artifacts.registry
    version = registry.champion()
    if version is None:
        raise dg.Failure("no validated champion model yet: materialize the model group first")
    return version, registry.version_dir(version)


@dg.asset(
    key=["serving", "bento_model"],
    group_name="serving",
    deps=[champion_model],
    kinds={"bentoml"},
    description="The champion model with its online feature snapshot, saved in the BentoML model store.",
)
def bento_model(
    context: dg.AssetExecutionContext, artifacts: ArtifactStore
) -> dg.MaterializeResult:
    version, folder = champion_folder(artifacts)
    tag = save_model_to_bentoml(folder)
    return dg.MaterializeResult(metadata={"bentoml_model_tag": str(tag), "model_version": version})


@dg.asset(
    key=["serving", "delay_service_bento"],
    group_name="serving",
    deps=[bento_model],
    kinds={"bentoml"},
    description=(
        "A bento built from bentos/service.py, pinned to the exact model tag it was built with. "
        "Serve it with `make serve`."
    ),
)
def delay_service_bento(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    model_tag = latest_metadata(context.instance, bento_model.key)["bentoml_model_tag"]
    bento_tag, size = build_bento(model_tag, labels={"dagster_run_id": context.run.run_id})
    return dg.MaterializeResult(
        metadata={
            "bento_tag": str(bento_tag),
            "bentoml_model_tag": model_tag,
            "size_kb": round(size / 1024, 1),
            "serve": f"bentoml serve {bento_tag}",
        }
    )


# Score each month once its arrivals land (so its live performance follows), not every month
# again whenever a new champion is promoted; nothing before the first champion exists.
SCORES_LANDED_MONTHS = (
    dg.AutomationCondition.any_deps_updated()
    .ignore(dg.AssetSelection.assets(champion_model))
    .since_last_handled()
    & ~dg.AutomationCondition.any_deps_missing()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("scores each landed month")


class FlightPredictionsConfig(dg.Config):
    explain: bool = False  # also write each flight's top 5 feature contributions (JSON, log-odds)


@dg.asset(
    key=["serving", "flight_predictions"],
    group_name="serving",
    deps=[champion_model, dg.AssetKey(["marts", "fct_flights"])],
    partitions_def=monthly_partitions,
    kinds={"lightgbm", "duckdb"},
    pool=WAREHOUSE_POOL,
    automation_condition=SCORES_LANDED_MONTHS,
    description=(
        "The champion's predictions for every flight of a month, in DuckDB "
        "`predictions.flight_predictions`, with the model version on every row. Features come "
        "from the same code as training and serving."
    ),
)
def flight_predictions(
    context: dg.AssetExecutionContext,
    config: FlightPredictionsConfig,
    warehouse: DuckDBResource,
    artifacts: ArtifactStore,
) -> dg.MaterializeResult:
    version, folder = champion_folder(artifacts)
    model = load_scoring_model(folder)
    months = sorted(month_of(k) for k in context.partition_keys)
    with warehouse.get_connection() as conn:
        flights = read_month_history(conn, months[0], months[-1])
        planes = read_planes(conn)
    rows = flights.filter(pl.col("flight_month").is_in(months))
    # A state from the history the months' windows reach, not the model's 35-day snapshot: every
    # flight of the months gets complete windows, and each still sees only what was known the
    # night before it.
    state = build_feature_state(flights, planes)
    scored = (
        score_flights(model, rows, state=state, explain=config.explain)
        .join(
            rows.select("flight_id", "flight_month", "flight_date", "is_delayed"),
            on="flight_id",
            how="left",
            maintain_order="left",
        )
        .with_columns(
            pl.lit(version).alias("model_version"),
            pl.lit(dt.datetime.now(dt.UTC)).alias("scored_at"),
        )
    )
    # One JSON document per flight (DuckDB's json functions read it); null unless asked for, so
    # the table keeps one schema.
    explanations = (
        [json.dumps(e) for e in scored["explanation"].to_list()]
        if config.explain
        else [None] * scored.height
    )
    scored = scored.with_columns(pl.Series("explanation", explanations, dtype=pl.String))
    with warehouse.get_connection() as conn:
        rename_columns(conn, PREDICTIONS_TABLE, {"weather_filled": "weather_from_snapshot"})
        replace_rows(conn, PREDICTIONS_TABLE, scored, "flight_month", months)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": scored.height,
            "model_version": version,
            "months": ", ".join(months),
            "mean_probability": round(float(scored["delay_probability"].mean()), DIGITS),
            "predicted_delayed": int(scored["delayed"].sum()),
        }
    )
