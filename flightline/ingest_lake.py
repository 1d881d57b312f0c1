"""``load_files`` on DuckLake, where a commit can conflict with another run's (see ``ingest``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from flightline.ingest import RAW_SCHEMA, LoadResult, _column_defs, create_tables_sql, insert_files
from flightline.raw_schemas import RawTable
from flightline.warehouse import retry_on_conflict, rollback_quietly


def load_files_lake(
    conn: duckdb.DuckDBPyConnection,
    table: RawTable,
    files: list[tuple[Path, str]],
    landing_root: Path,
    max_reject_rate: float | None,
    loaded_at: dt.datetime,
) -> list[LoadResult]:
    """``load_files`` on DuckLake: validate every file into TEMP tables first (outside any lake
    transaction, in parallel with other runs), then replace the partitions in one short
    transaction, retried when a concurrent run's commit on the same table conflicts."""
    typed, rejects = _column_defs(table)
    ready = ("_ready_rows", "_ready_rejects")
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {ready[0]} ({', '.join(typed)})")
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {ready[1]} ({', '.join(rejects)})")
    try:
        results = insert_files(conn, table, files, landing_root, max_reject_rate, loaded_at, ready)
        partitions = [r.partition for r in results]
        target, rejects_table = f"{RAW_SCHEMA}.{table.name}", f"{RAW_SCHEMA}.{table.rejects_table}"

        def commit() -> None:
            conn.execute("BEGIN TRANSACTION")
            try:
                for stmt in create_tables_sql(table):
                    conn.execute(stmt)
                for name, temp in ((target, ready[0]), (rejects_table, ready[1])):
                    conn.execute(
                        f"DELETE FROM {name} WHERE _partition IN (SELECT UNNEST(?))", [partitions]
                    )
                    conn.execute(f"INSERT INTO {name} BY NAME SELECT * FROM {temp}")
                conn.execute("COMMIT")
            except BaseException:
                rollback_quietly(conn)
                raise

        retry_on_conflict(conn, commit)
    finally:
        for temp in ready:
            conn.execute(f"DROP TABLE IF EXISTS {temp}")
    return results
