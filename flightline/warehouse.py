"""Reading and writing warehouse tables as Polars frames (through Arrow, never pandas)."""

from __future__ import annotations

import duckdb
import polars as pl


def read_table(
    conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None
) -> pl.DataFrame:
    return pl.from_arrow(conn.execute(sql, params or []).fetch_arrow_table())


def replace_table(conn: duckdb.DuckDBPyConnection, name: str, df: pl.DataFrame) -> None:
    """Create or replace ``schema.table`` with ``df`` in one transaction."""
    schema = name.split(".")[0]
    conn.register("_frame", df.to_arrow())
    try:
        conn.execute("BEGIN TRANSACTION")
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _frame")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("_frame")
