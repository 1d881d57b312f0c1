"""What the assets share: monthly partitions, freshness, automation, the warehouse pool."""

import datetime as dt

import dagster as dg

from flightline import settings

# Flights and weather arrive by month. No end date: simulated and newly landed months after 2013
# get partitions of their own.
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date="2013-01-01")

# Data lands monthly: warn when a month is overdue, fail when two are.
MONTHLY_DATA_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(days=62), warn_window=dt.timedelta(days=35)
)

# Declarative automation: materialize after an upstream asset updates. Not `eager()`: its
# "no missing upstream partition" rule never holds with open-ended monthly partitions, and its
# "newly missing" trigger would build an asset before its upstream exists.
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


def month_key(partition_key: str) -> str:
    """'2013-01-01' (a MonthlyPartitionsDefinition key) -> '2013-01'."""
    return partition_key[:7]
