"""dbt models as Dagster assets: staging and marts, with dbt tests as asset checks.

The translator is the one place that decides keys, groups and automation: sources map onto the
raw assets' keys (``raw/<table>``) so the graph is connected, models are keyed and grouped by
layer, and every model follows its upstream (declarative automation).
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtProject, dbt_assets

from assets.metadata import rounded_metadata
from assets.partitions import month_window, monthly_partitions
from assets.policies import DBT_POOL, FOLLOWS_UPSTREAM
from resources.dbt import DbtCli, dbt_project

INCREMENTAL_SELECTOR = "config.materialized:incremental"


class FlightlineDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        return dg.AssetKey([layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # Intermediate models prepare staging rows for the marts: they load with staging.
        return {"intermediate": "staging"}.get(layer(dbt_resource_props), layer(dbt_resource_props))

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        # A model follows its upstream: a raw table reloaded from the UI updates its models too.
        return FOLLOWS_UPSTREAM

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        # Dagster shows "No description provided" for a check without one until it has run.
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=describe_test(manifest["nodes"][unique_id]))


def layer(dbt_resource_props: Mapping[str, Any]) -> str:
    """'staging', 'intermediate' or 'marts': the model's folder under models/ (and its schema)."""
    fqn = dbt_resource_props.get("fqn", [])
    return fqn[1] if len(fqn) > 2 else dbt_resource_props.get("schema", "dbt")


def _ref_name(ref: str) -> str:
    """ "ref('dim_airlines')" -> 'dim_airlines'."""
    return ref.split("'")[1] if "'" in ref else ref


def _generic_test_text(name: str, kwargs: Mapping[str, Any]) -> str | None:
    column = f"`{kwargs.get('column_name')}`"
    match name:
        case "not_null":
            return f"{column} is never null."
        case "unique":
            return f"{column} is unique: no two rows share a value."
        case "accepted_values":
            return f"{column} is one of {', '.join(map(str, kwargs.get('values', [])))}."
        case "relationships":
            to = f"`{_ref_name(kwargs.get('to', ''))}.{kwargs.get('field')}`"
            return f"Every non-null {column} exists in {to}."
        case "unique_combination_of_columns":
            columns = ", ".join(kwargs.get("combination_of_columns", []))
            return f"({columns}) is unique: no two rows share it."
        case "valid_hhmm":
            return (
                f"{column} is a clock time written HHMM (minutes 00-59; 2400 allowed); nulls pass."
            )
        case "within_domain":
            return (
                "Every row keeps the domains the raw load enforces (flightline/raw_schemas.py): "
                "required values, ranges, HHMM clock times and code shapes."
            )
    return None


def describe_test(test: Mapping[str, Any]) -> str:
    """What a dbt test asserts, in a sentence, and whether it blocks: its own description when
    it has one (singular tests: tests/_tests.yml), else written from the generic test's name and
    arguments."""
    metadata = test.get("test_metadata") or {}
    text = (test.get("description") or "").strip() or _generic_test_text(
        metadata.get("name", ""), metadata.get("kwargs", {})
    )
    text = text or f"dbt test `{test['name']}`: fails for every row its query returns."
    blocking = test.get("config", {}).get("severity", "error").lower() == "error"
    return text + (
        " Blocking: a failure stops the assets downstream." if blocking else " Warns only."
    )


def rounded_events(events: Iterable[Any]) -> Iterator[Any]:
    """dbt's events with their figures rounded: dagster-dbt reports durations to the microsecond."""
    for event in events:
        metadata = getattr(event, "metadata", None)
        if metadata and hasattr(event, "with_metadata"):
            event = event.with_metadata(rounded_metadata(metadata))
        yield event


def batch_window_env(partition_keys: Sequence[str]) -> dict[str, str]:
    """The months in [min_date, max_date) as dbt reads them (macros/batch_months.sql); empty
    without partitions: every month. Environment variables, not --vars: dbt re-parses the whole
    project whenever --vars change, which would be every new month."""
    if not partition_keys:
        return {}
    min_date, max_date = month_window(partition_keys)
    return {"FLIGHTLINE_BATCH_MIN_DATE": min_date, "FLIGHTLINE_BATCH_MAX_DATE": max_date}


def run_partition_keys(tags: Mapping[str, str]) -> list[str]:
    """The first and last partition keys a run targets, from its tags (none: not partitioned)."""
    first = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
    last = tags.get("dagster/asset_partition_range_end") or first
    return [first, last] if first else []


translator = FlightlineDbtTranslator()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=INCREMENTAL_SELECTOR,
    dagster_dbt_translator=translator,
    pool=DBT_POOL,
    name="dbt_models",
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCli):
    """Staging views and dimension tables: rebuilt whole on every run. In a run that loads months,
    the staging tests that carry `where: __batch_months__` test those months only."""
    window = batch_window_env(run_partition_keys(context.run.tags))
    yield from rounded_events(dbt.build(context, window))


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
def dbt_monthly_models(context: dg.AssetExecutionContext, dbt: DbtCli):
    """Incremental marts: each run replaces exactly the months of its partition range."""
    yield from rounded_events(dbt.build(context, batch_window_env(context.partition_keys)))
