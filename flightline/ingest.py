"""Load one landing file into ``raw.<table>``: validate, type, and replace its partition atomically.

Policy (also in the README):

* Whole-file faults stop the load and change nothing: a missing file, no header, a missing,
  extra or repeated column, a line the CSV reader cannot parse, a column in which no value has
  the expected type, or no rows at all. The error names the file, the column and the problem.
* Row-level faults in an otherwise valid file reject just that row: a value that does not parse
  as its column's type, a missing required value, a row of another month than the file's, or a
  repeated key (the first occurrence is kept). Rejected rows go to ``raw.<table>_rejects`` with
  their line number and reason; the valid rows are loaded.
* A month (or a reference table) is replaced in one transaction, so reloading the same file never
  duplicates rows and a failed load leaves the previous version in place.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from flightline.landing import file_sha256, parse_month
from flightline.raw_schemas import LOAD_COLUMNS, RawTable

RAW_SCHEMA = "raw"
FULL_PARTITION = "full"


class LandingFileError(ValueError):
    """A whole-file fault: the file is refused and nothing already loaded changes."""

    def __init__(self, path: Path, problem: str, column: str | None = None):
        where = f"{path}" + (f", column '{column}'" if column else "")
        super().__init__(f"{where}: {problem}")
        self.path, self.column, self.problem = path, column, problem


@dataclass
class LoadResult:
    table: str
    partition: str
    source_file: str
    file_hash: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    reject_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def reject_rate(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        header = next(csv.reader(f), None)
    if not header or not any(h.strip() for h in header):
        raise LandingFileError(path, "file is empty: no header line")
    return [h.strip() for h in header]


def check_header(table: RawTable, header: list[str], path: Path) -> None:
    repeated = [c for c, n in Counter(header).items() if n > 1]
    if repeated:
        raise LandingFileError(path, "column appears more than once in the header", repeated[0])
    missing = [c for c in table.columns if c not in header]
    if missing:
        raise LandingFileError(path, f"missing column (expected {list(table.columns)})", missing[0])
    extra = [c for c in header if c not in table.columns]
    if extra:
        raise LandingFileError(
            path, f"unexpected column (expected {list(table.columns)})", extra[0]
        )


def cast_expr(column: str, duck_type: str) -> str:
    return q(column) if duck_type == "VARCHAR" else f"TRY_CAST({q(column)} AS {duck_type})"


def reject_reason_sql(table: RawTable, partition: str) -> str:
    """SQL expression giving a row's reasons for rejection ('' when the row is valid)."""
    parts = []
    for col, duck_type in table.columns.items():
        if duck_type != "VARCHAR":
            parts.append(
                f"CASE WHEN {q(col)} IS NOT NULL AND {cast_expr(col, duck_type)} IS NULL "
                f"THEN '{col}: cannot parse ''' || {q(col)} || ''' as {duck_type}' END"
            )
        if col in table.key or col in table.not_null:
            parts.append(f"CASE WHEN {q(col)} IS NULL THEN '{col}: missing required value' END")
    if table.monthly:
        year, month = parse_month(partition)
        parts.append(
            f"CASE WHEN TRY_CAST(year AS INTEGER) <> {year} OR TRY_CAST(month AS INTEGER) <> {month} "
            f"THEN 'month: row is for ' || year || '-' || lpad(month, 2, '0') || ', not {partition}' END"
        )
    return f"concat_ws('; ', {', '.join(parts)})"


def create_tables_sql(table: RawTable) -> list[str]:
    typed = [f"{q(c)} {t}" for c, t in {**table.columns, **LOAD_COLUMNS}.items()]
    rejects = (
        ["_line INTEGER", "_reason VARCHAR"]
        + [f"{q(c)} VARCHAR" for c in table.columns]
        + [f"{q(c)} {t}" for c, t in LOAD_COLUMNS.items()]
    )
    return [
        f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}",
        f"CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{table.name} ({', '.join(typed)})",
        f"CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{table.rejects_table} ({', '.join(rejects)})",
    ]


def _stage(conn: duckdb.DuckDBPyConnection, table: RawTable, path: Path) -> None:
    columns = ", ".join(f"{q(c)}: 'VARCHAR'" for c in read_header(path))
    try:
        conn.execute(
            "CREATE OR REPLACE TEMP TABLE _stage AS "
            "SELECT row_number() OVER () + 1 AS _line, * FROM read_csv(?, header = true, "
            f"columns = {{{columns}}}, nullstr = 'NA', delim = ',', quote = '\"', "
            "strict_mode = true, parallel = false)",
            [str(path)],
        )
    except duckdb.Error as e:
        raise LandingFileError(path, f"not a readable CSV file: {str(e).splitlines()[0]}") from e


def _check_whole_columns(conn: duckdb.DuckDBPyConnection, table: RawTable, path: Path) -> int:
    typed = {c: t for c, t in table.columns.items() if t != "VARCHAR"}
    counts = ", ".join(
        f"count({q(c)}), count({cast_expr(c, t)}), any_value({q(c)})" for c, t in typed.items()
    )
    row = conn.execute(f"SELECT count(*), {counts} FROM _stage").fetchone()
    if row[0] == 0:
        raise LandingFileError(path, "file has a header but no rows")
    for i, (col, duck_type) in enumerate(typed.items()):
        present, parsed, example = row[1 + 3 * i : 4 + 3 * i]
        if present and not parsed:
            raise LandingFileError(
                path, f"wrong type: expected {duck_type}, no value parses (e.g. {example!r})", col
            )
    return row[0]


def load_file(
    conn: duckdb.DuckDBPyConnection,
    table: RawTable,
    path: Path,
    landing_root: Path,
    partition: str = FULL_PARTITION,
) -> LoadResult:
    """Validate ``path`` and replace ``partition`` of ``raw.<table>`` with its valid rows."""
    if not path.is_file():
        raise LandingFileError(path, "no landing file: land it first (flightline land)")
    source = str(path.resolve().relative_to(landing_root.resolve()))
    file_hash = file_sha256(path)
    check_header(table, read_header(path), path)
    _stage(conn, table, path)
    rows_read = _check_whole_columns(conn, table, path)

    key = ", ".join(q(c) for c in table.key)
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _checked AS "
        f"WITH r AS (SELECT *, {reject_reason_sql(table, partition)} AS _reason FROM _stage) "
        "SELECT * REPLACE (CASE WHEN _reason = '' AND _dup > 1 "
        "THEN 'key: duplicate (' || concat_ws(', ', " + key + ") || ') first seen on line ' "
        "|| _first_line ELSE _reason END AS _reason) FROM ("
        f"  SELECT *, row_number() OVER (PARTITION BY _reason = '', {key} ORDER BY _line) AS _dup,"
        f"  min(_line) OVER (PARTITION BY _reason = '', {key}) AS _first_line FROM r)"
    )
    loaded_at = dt.datetime.now(dt.UTC)
    load_values = "?, ?, ?, ?"
    params = [source, file_hash, loaded_at, partition]
    typed = ", ".join(cast_expr(c, t) for c, t in table.columns.items())
    raw_cols = ", ".join(q(c) for c in table.columns)
    target = f"{RAW_SCHEMA}.{table.name}"
    rejects = f"{RAW_SCHEMA}.{table.rejects_table}"
    conn.execute("BEGIN TRANSACTION")
    try:
        for stmt in create_tables_sql(table):
            conn.execute(stmt)
        conn.execute(f"DELETE FROM {target} WHERE _partition = ?", [partition])
        conn.execute(f"DELETE FROM {rejects} WHERE _partition = ?", [partition])
        conn.execute(
            f"INSERT INTO {target} SELECT {typed}, {load_values} FROM _checked "
            "WHERE _reason = '' ORDER BY _line",
            params,
        )
        conn.execute(
            f"INSERT INTO {rejects} SELECT _line, _reason, {raw_cols}, {load_values} "
            "FROM _checked WHERE _reason <> '' ORDER BY _line",
            params,
        )
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    reasons = conn.execute(
        "SELECT split_part(_reason, ':', 1) AS kind, count(*) FROM _checked "
        "WHERE _reason <> '' GROUP BY kind ORDER BY count(*) DESC"
    ).fetchall()
    rows_rejected = sum(n for _, n in reasons)
    conn.execute("DROP TABLE _stage; DROP TABLE _checked")
    return LoadResult(
        table=table.name,
        partition=partition,
        source_file=source,
        file_hash=file_hash,
        rows_read=rows_read,
        rows_loaded=rows_read - rows_rejected,
        rows_rejected=rows_rejected,
        reject_reasons=dict(reasons),
    )
