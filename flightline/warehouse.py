"""Reading and writing warehouse tables as Polars frames (through Arrow, never pandas)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl


def read_table(
    conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None
) -> pl.DataFrame:
    return pl.from_arrow(conn.execute(sql, params or []).fetch_arrow_table())


def _write(
    conn: duckdb.DuckDBPyConnection, df: pl.DataFrame, statements: list[tuple[str, list]]
) -> None:
    conn.register("_frame", df.to_arrow())
    try:
        conn.execute("BEGIN TRANSACTION")
        for sql, params in statements:
            conn.execute(sql, params)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("_frame")


def replace_table(conn: duckdb.DuckDBPyConnection, name: str, df: pl.DataFrame) -> None:
    """Create or replace ``schema.table`` with ``df`` in one transaction."""
    _write(
        conn,
        df,
        [
            (f"CREATE SCHEMA IF NOT EXISTS {name.split('.')[0]}", []),
            (f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _frame", []),
        ],
    )


def replace_rows(
    conn: duckdb.DuckDBPyConnection, name: str, df: pl.DataFrame, column: str, values: Sequence
) -> None:
    """Replace the rows of ``name`` whose ``column`` is in ``values`` with ``df``, atomically."""
    _write(
        conn,
        df,
        [
            (f"CREATE SCHEMA IF NOT EXISTS {name.split('.')[0]}", []),
            (f"CREATE TABLE IF NOT EXISTS {name} AS SELECT * FROM _frame LIMIT 0", []),
            (f"DELETE FROM {name} WHERE {column} IN (SELECT UNNEST(?))", [list(values)]),
            (f"INSERT INTO {name} BY NAME SELECT * FROM _frame", []),
        ],
    )
