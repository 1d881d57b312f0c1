"""How the assets are kept fresh and run: freshness, declarative automation, warehouse pools."""

import datetime as dt

import dagster as dg

from flightline import settings

# Data lands monthly: warn when a month is overdue, fail when two are.
MONTHLY_DATA_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(days=62), warn_window=dt.timedelta(days=35)
)

# Declarative automation: materialize after an upstream asset updates. Not `eager()`: its
# "newly missing" trigger would build a month's asset as soon as the month's partition is added,
# before its upstream exists.
FOLLOWS_UPSTREAM = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("follows upstream")

# The DuckDB file takes one writer at a time: every asset that opens it runs in pool "duckdb"
# (limit 1 in dagster.yaml). A DuckLake lake takes many writers (each commit is a snapshot; a
# conflicting commit is retried), so Python steps there run without a pool. dbt steps on the lake
# keep one of their own ("dbt", limit 1): two dbt builds replace the same staging views and
# dimension tables, so they take turns while ingest, features and training overlap freely.
_ON_LAKE = settings.warehouse_kind() == "ducklake"
WAREHOUSE_POOL: str | None = None if _ON_LAKE else "duckdb"
DBT_POOL = "dbt" if _ON_LAKE else "duckdb"
