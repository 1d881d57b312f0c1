"""Time partitions shared by every monthly asset."""

import dagster as dg

# Flights and weather arrive by month. No end date: simulated and newly landed months after 2013
# get partitions of their own.
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date="2013-01-01")

# The DuckDB file takes one writer at a time: every asset that opens it runs in this pool.
WAREHOUSE_POOL = "duckdb"


def month_key(partition_key: str) -> str:
    """'2013-01-01' (a MonthlyPartitionsDefinition key) -> '2013-01'."""
    return partition_key[:7]
