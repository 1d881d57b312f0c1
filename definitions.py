"""The one Definitions object of Flightline."""

import dagster as dg

from assets.dbt import dbt_models, dbt_monthly_models
from assets.raw import raw_assets
from jobs import ingest_job
from resources import build_resources

defs = dg.Definitions(
    assets=[*raw_assets, dbt_models, dbt_monthly_models],
    jobs=[ingest_job],
    resources=build_resources(),
)
