"""Asset jobs and the monitoring schedule."""

import dagster as dg

from assets.partitions import monthly_partitions

ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups("raw", "staging", "marts"),
    partitions_def=monthly_partitions,
    description="Load landed months into raw.* and rebuild the dbt models for them.",
)

features_job = dg.define_asset_job(
    "features",
    selection=dg.AssetSelection.groups("features"),
    description="Bring the feature table up to date with fct_flights (new or changed months only) "
    "and rebuild the online snapshot.",
)

BACKTEST = dg.AssetKey(["model", "backtest"])

training_job = dg.define_asset_job(
    "training",
    selection=(
        dg.AssetSelection.groups("features", "model")
        | dg.AssetSelection.assets(["serving", "bento_model"], ["serving", "delay_service_bento"])
    )
    - dg.AssetSelection.assets(BACKTEST),
    description="Features → LightGBM model → validation gate → champion → BentoML model and bento.",
)

backtest_job = dg.define_asset_job(
    "backtest",
    selection=dg.AssetSelection.assets(BACKTEST),
    description="Rolling-origin backtest of the last landed months (trains one model per month).",
)

scoring_job = dg.define_asset_job(
    "scoring",
    selection=dg.AssetSelection.assets(["serving", "flight_predictions"]),
    partitions_def=monthly_partitions,
    description="Score the selected months with the champion into predictions.flight_predictions.",
)

monitoring_job = dg.define_asset_job(
    "monitoring",
    selection=dg.AssetSelection.assets(["monitoring", "feature_drift"]),
    partitions_def=monthly_partitions,
    description="Feature drift of the selected months against the same months a year earlier.",
)

live_performance_job = dg.define_asset_job(
    "live_performance",
    selection=dg.AssetSelection.assets(
        ["serving", "flight_predictions"],
        ["monitoring", "model_performance"],
        ["monitoring", "served_predictions"],
    ),
    partitions_def=monthly_partitions,
    description="Score the selected months with the champion and measure, per model version, how "
    "the batch and the served predictions did against the actual arrivals. The automation sensor "
    "runs the same assets on its own when a month's arrivals land.",
)


@dg.schedule(
    job=monitoring_job,
    cron_schedule="0 6 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every morning: feature drift of the latest landed month against the champion.",
)
def monitoring_schedule(context: dg.ScheduleEvaluationContext):
    landed = sorted(context.instance.get_materialized_partitions(dg.AssetKey(["raw", "flights"])))
    if not landed:
        return dg.SkipReason("no flights landed yet")
    return dg.RunRequest(run_key=f"drift:{landed[-1]}", partition_key=landed[-1])
