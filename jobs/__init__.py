"""Asset jobs."""

import dagster as dg

from assets.partitions import monthly_partitions

ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups("raw", "staging", "marts"),
    partitions_def=monthly_partitions,
    description="Load landed months into raw.* and rebuild the dbt models for them.",
)

training_job = dg.define_asset_job(
    "training",
    selection=dg.AssetSelection.groups("features", "model"),
    description="Features → LightGBM model → validation gate → champion (and what serves it).",
)
