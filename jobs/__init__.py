"""Asset jobs."""

import dagster as dg

from assets.partitions import monthly_partitions

ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups("raw", "staging", "marts"),
    partitions_def=monthly_partitions,
    description="Load landed months into raw.* and rebuild the dbt models for them.",
)
