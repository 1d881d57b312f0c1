"""dbt models as Dagster assets: staging and marts, with dbt tests as asset checks.

The translator is the one place that decides keys, groups and automation: sources map onto the
raw assets' keys (``raw/<table>``) so the graph is connected, models are keyed and grouped by
layer, and every model follows its upstream (declarative automation).
"""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from assets.partitions import DBT_POOL, FOLLOWS_UPSTREAM, monthly_partitions
from resources.dbt import dbt_project

INCREMENTAL_SELECTOR = "config.materialized:incremental"


class FlightlineDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        return dg.AssetKey([layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return layer(dbt_resource_props)

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        # A model follows its upstream: a raw table reloaded from the UI updates its models too.
        return FOLLOWS_UPSTREAM


def layer(dbt_resource_props: Mapping[str, Any]) -> str:
    """'staging' or 'marts': the model's folder under models/ (and its DuckDB schema)."""
    fqn = dbt_resource_props.get("fqn", [])
    return fqn[1] if len(fqn) > 2 else dbt_resource_props.get("schema", "dbt")


def month_range_vars(window: dg.TimeWindow) -> str:
    """dbt --vars for the incremental models: the months in [min_date, max_date)."""
    return json.dumps(
        {"min_date": window.start.strftime("%Y-%m-%d"), "max_date": window.end.strftime("%Y-%m-%d")}
    )


translator = FlightlineDbtTranslator()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=INCREMENTAL_SELECTOR,
    dagster_dbt_translator=translator,
    pool=DBT_POOL,
    name="dbt_models",
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Staging views and dimension tables: rebuilt whole on every run."""
    yield from dbt.cli(["build"], context=context).stream()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=INCREMENTAL_SELECTOR,
    dagster_dbt_translator=translator,
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=DBT_POOL,
    name="dbt_monthly_models",
)
def dbt_monthly_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Incremental marts: each run replaces exactly the months of its partition range."""
    args = ["build", "--vars", month_range_vars(context.partition_time_window)]
    yield from dbt.cli(args, context=context).stream()
