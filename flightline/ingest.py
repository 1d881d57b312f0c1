"""Load landing files into ``raw.<table>``: validate, type, and replace their partitions atomically.

Policy (also in the README, "Bad input: the policy"):

* Whole-file faults stop the load and change nothing: a missing or empty file, data that is not
  UTF-8 comma-separated text (compressed, binary, another encoding or delimiter), a missing or
  repeated column, a column in which no value has the expected type, no rows at all, or more
  rejected rows than ``max_reject_rate`` allows. The error names the file, the column and the
  problem.
* Row-level faults reject just that row, into ``raw.<table>_rejects`` with its line number and
  reason: a line that is not a row (truncated, too many fields, not UTF-8, broken quoting), a
  value that does not parse as its column's type or breaks its column's domain
  (``flightline.raw_schemas``), a row that breaks a rule across columns (a calendar date, times
  that agree), a row of another month than the file's, or a key already seen with other values.
* Tolerated and reported: a UTF-8 byte-order mark, empty strings (null), columns the table does
  not have (ignored, listed in the result), exact duplicate rows (dropped, counted).
* The partitions of one call are replaced in one transaction, checked before it commits: reloading
  never duplicates rows, and a failed load (any file) leaves every previous version in place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from flightline.landing import file_sha256
from flightline.landing_read import LandingFileError, check_header, sniff_header, stage_file
from flightline.months import parse_month
from flightline.raw_schemas import LOAD_COLUMNS, Column, RawTable
from flightline.warehouse import is_lake, rollback_quietly

RAW_SCHEMA = "raw"
FULL_PARTITION = "full"
DEFAULT_MAX_REJECT_RATE = 0.01  # share of a file's rows that may be rejected

__all__ = ["LandingFileError", "LoadResult", "RejectRateError", "load_file", "load_files"]


class RejectRateError(LandingFileError):
    """Too many rows of a file were rejected: the file is not loaded."""

    result: LoadResult  # the figures of the load that was refused


@dataclass
class LoadResult:
    table: str
    partition: str
    source_file: str
    file_hash: str
    rows_read: int  # data lines in the file (blank lines aside)
    rows_loaded: int
    rows_rejected: int
    reject_reasons: dict[str, int] = field(default_factory=dict)  # by column (or row, encoding)
    duplicates_dropped: int = 0  # exact copies of an earlier row
    extra_columns: list[str] = field(default_factory=list)  # in the file, not in the table

    @property
    def reject_rate(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def typed_ref(column: str, duck_type: str) -> str:
    """The column's typed value in ``_typed``: the text itself for VARCHAR, else its cast."""
    return q(column) if duck_type == "VARCHAR" else q(f"_t_{column}")


def _shown(text_sql: str, limit: int = 40) -> str:
    """SQL quoting a text value for a reason, shortened so a huge value stays out of messages."""
    return (
        f"CASE WHEN length({text_sql}) > {limit} THEN '''' || left({text_sql}, {limit}) "
        f"|| '''... (' || {_str(f'length({text_sql})')} || ' characters)' ELSE '''' || {text_sql} || '''' END"
    )


def _str(sql: str) -> str:
    return f"CAST({sql} AS VARCHAR)"


def _bound(col: Column, value: float) -> str:
    return str(int(value)) if col.type == "INTEGER" else repr(float(value))


def column_reason_sql(name: str, col: Column, required: bool) -> str:
    """SQL: the reasons one column's value is invalid, NULL when it is valid."""
    text, typed, label = q(name), typed_ref(name, col.type), _lit(f"{name}: ")
    checks: list[tuple[str, str]] = []
    if required:
        checks.append((f"{text} IS NULL", "'missing required value'"))
    if col.type != "VARCHAR":
        checks.append(
            (
                f"{text} IS NOT NULL AND {typed} IS NULL",
                f"'cannot parse ' || {_shown(text)} || ' as {col.type}'",
            )
        )
    if col.min is not None and col.max is not None:
        lo, hi = _bound(col, col.min), _bound(col, col.max)
        checks.append(
            (f"NOT ({typed} BETWEEN {lo} AND {hi})", f"{_str(typed)} || ' is outside [{lo}, {hi}]'")
        )
    if col.hhmm:
        checks.append(
            (
                f"{typed} % 100 >= 60",
                f"{_str(typed)} || ' is not a clock time (HHMM, minutes 00-59)'",
            )
        )
    if col.max_length is not None:
        checks.append(
            (
                f"length({text}) > {col.max_length}",
                f"{_str(f'length({text})')} || ' characters, at most {col.max_length}'",
            )
        )
    if col.pattern is not None:
        short = f"length({text}) <= {col.max_length}" if col.max_length else "true"
        checks.append(
            (
                f"{short} AND NOT regexp_full_match({text}, {_lit(col.pattern)})",
                f"{_shown(text)} || ' does not have the shape {_lit(col.pattern)[1:-1]}'",
            )
        )
    if col.values:
        allowed = ", ".join(_lit(v) for v in col.values)
        checks.append(
            (
                f"{text} NOT IN ({allowed})",
                f"{_shown(text)} || ' is not one of {', '.join(col.values)}'",
            )
        )
    cases = ", ".join(f"CASE WHEN {cond} THEN {label} || {msg} END" for cond, msg in checks)
    return f"nullif(concat_ws('; ', {cases}), '')" if cases else "NULL"


def reject_reason_sql(table: RawTable, partition: str) -> str:
    """SQL over ``_cols`` (text columns plus ``_r_<column>`` reasons): the row's reasons, ''
    when the row is valid. Cross-column rules run only on rows whose columns they use are valid."""
    typed = {c: typed_ref(c, t) for c, t in table.columns.items()}
    parts = [f'"_r_{c}"' for c in table.columns]
    for rule in table.rules:
        valid = " AND ".join(f'"_r_{c}" IS NULL' for c in rule.uses)
        cond, msg = rule.violated.format(**typed), rule.message.format(**typed)
        parts.append(f"CASE WHEN {valid} AND ({cond}) THEN {_lit(rule.column + ': ')} || {msg} END")
    if table.monthly:  # a monthly file holds its own month only
        year, month = parse_month(partition)
        parts.append(
            f'CASE WHEN "_r_year" IS NULL AND "_r_month" IS NULL AND ({typed["year"]} <> {year}'
            f" OR {typed['month']} <> {month}) THEN 'month: row is for ' || printf('%d-%02d', "
            f"{typed['year']}, {typed['month']}) || ', not {partition}' END"
        )
    return f"concat_ws('; ', {', '.join(parts)})"


def _column_defs(table: RawTable) -> tuple[list[str], list[str]]:
    """Column definitions of ``raw.<table>`` and of its rejects table."""
    typed = [f"{q(c)} {t}" for c, t in {**table.columns, **LOAD_COLUMNS}.items()]
    rejects = (
        ["_line INTEGER", "_reason VARCHAR"]
        + [f"{q(c)} VARCHAR" for c in table.columns]
        + [f"{q(c)} {t}" for c, t in LOAD_COLUMNS.items()]
        + ["_raw_line VARCHAR"]  # the line as read, for lines that are not a row
    )
    return typed, rejects


def create_tables_sql(table: RawTable) -> list[str]:
    typed, rejects = _column_defs(table)
    rejects_table = f"{RAW_SCHEMA}.{table.rejects_table}"
    return [
        f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}",
        f"CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{table.name} ({', '.join(typed)})",
        f"CREATE TABLE IF NOT EXISTS {rejects_table} ({', '.join(rejects)})",
        # warehouses created before _raw_line existed
        f"ALTER TABLE {rejects_table} ADD COLUMN IF NOT EXISTS _raw_line VARCHAR",
    ]


def _check_whole_columns(conn: duckdb.DuckDBPyConnection, table: RawTable, path: Path) -> None:
    typed = {c: t for c, t in table.columns.items() if t != "VARCHAR"}
    if not typed:
        return
    counts = ", ".join(
        f"count({q(c)}), count({typed_ref(c, t)}), any_value(left({q(c)}, 40))"
        for c, t in typed.items()
    )
    row = conn.execute(f"SELECT {counts} FROM _typed").fetchone()
    for i, (col, duck_type) in enumerate(typed.items()):
        present, parsed, example = row[3 * i : 3 * i + 3]
        if present and not parsed:
            raise LandingFileError(
                path, f"wrong type: expected {duck_type}, no value parses (e.g. {example!r})", col
            )


def _type_rows(conn: duckdb.DuckDBPyConnection, table: RawTable) -> int:
    """Build ``_typed``: one row per distinct row of ``_stage`` (its first line), with each typed
    column cast once as ``_t_<column>``; return the number of exact duplicates dropped."""
    cols = ", ".join(q(c) for c in table.columns)
    casts = "".join(
        f", TRY_CAST({q(c)} AS {t}) AS {typed_ref(c, t)}"
        for c, t in table.columns.items()
        if t != "VARCHAR"
    )
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE _typed AS SELECT _line, {cols}{casts} FROM "
        f"(SELECT min(_line) AS _line, {cols} FROM _stage GROUP BY ALL)"
    )
    staged = conn.execute("SELECT count(*) FROM _stage").fetchone()[0]
    return staged - conn.execute("SELECT count(*) FROM _typed").fetchone()[0]


def _check_rows(conn: duckdb.DuckDBPyConnection, table: RawTable, partition: str) -> None:
    """Build ``_checked`` from ``_typed``: every row with ``_reason`` ('' when valid)."""
    cols = ", ".join(q(c) for c in table.columns)
    typed = "".join(f", {typed_ref(c, t)}" for c, t in table.columns.items() if t != "VARCHAR")
    reasons = ", ".join(
        f'{column_reason_sql(c, col, c in table.required)} AS "_r_{c}"'
        for c, col in table.schema.items()
    )
    key = ", ".join(q(c) for c in table.key)
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _checked AS "
        f"WITH _cols AS (SELECT _line, {cols}{typed}, {reasons} FROM _typed), "
        f"r AS (SELECT _line, {cols}{typed}, {reject_reason_sql(table, partition)} AS _reason "
        "FROM _cols)"
        " SELECT * EXCLUDE (_dup, _first_line) REPLACE (CASE WHEN _reason = '' AND _dup > 1 "
        f"THEN 'key: (' || concat_ws(', ', {key}) || ') is already on line ' || _first_line "
        "|| ' with other values' ELSE _reason END AS _reason) FROM ("
        f"  SELECT *, row_number() OVER (PARTITION BY _reason = '', {key} ORDER BY _line) AS _dup,"
        f"  min(_line) OVER (PARTITION BY _reason = '', {key}) AS _first_line FROM r)"
    )


def _reject_error(
    path: Path, result: LoadResult, max_rate: float, examples: list
) -> RejectRateError:
    top = max(result.reject_reasons, key=result.reject_reasons.get)
    reasons = ", ".join(f"{k}: {n}" for k, n in result.reject_reasons.items())
    first = "; ".join(f"line {line}: {reason}" for line, reason in examples)
    error = RejectRateError(
        path,
        f"{result.rows_rejected} of {result.rows_read} rows rejected ({result.reject_rate:.2%}), "
        f"more than max_reject_rate {max_rate:.2%}: not loaded, the previous version is kept. "
        f"Rejected by {reasons}. First: {first}",
        column=top if top not in ("row", "encoding", "key", "month") else None,
    )
    error.result = result
    return error


def _load_one(
    conn: duckdb.DuckDBPyConnection,
    table: RawTable,
    path: Path,
    landing_root: Path,
    partition: str,
    max_reject_rate: float | None,
    loaded_at: dt.datetime,
    targets: tuple[str, str] | None = None,
) -> LoadResult:
    """Validate one file and insert its rows into ``targets`` (rows, rejects), by default
    ``raw.<table>`` and its rejects table after deleting the partition's previous rows."""
    if not path.is_file():
        raise LandingFileError(path, "no landing file: land it first (flightline land)")
    source = str(path.resolve().relative_to(landing_root.resolve()))
    file_hash = file_sha256(path)
    header = check_header(table, sniff_header(path), path)
    staged = stage_file(conn, table, path, header)
    if staged.data_lines == 0:
        raise LandingFileError(path, "file has a header but no rows")
    duplicates = _type_rows(conn, table)
    _check_whole_columns(conn, table, path)
    _check_rows(conn, table, partition)
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _rejected AS "
        f"SELECT _line, _reason, {', '.join(q(c) for c in table.columns)}, NULL AS _raw_line "
        "FROM _checked WHERE _reason <> '' UNION ALL BY NAME "
        "SELECT _line, _reason, _raw_line FROM _line_rejects"
    )
    reasons = dict(
        conn.execute(
            "SELECT split_part(_reason, ':', 1) AS kind, count(*) FROM _rejected "
            "GROUP BY kind ORDER BY count(*) DESC, kind"
        ).fetchall()
    )
    rejected = sum(reasons.values())
    result = LoadResult(
        table=table.name,
        partition=partition,
        source_file=source,
        file_hash=file_hash,
        rows_read=staged.data_lines,
        rows_loaded=staged.data_lines - rejected - duplicates,
        rows_rejected=rejected,
        reject_reasons=reasons,
        duplicates_dropped=duplicates,
        extra_columns=staged.extra_columns,
    )
    if max_reject_rate is not None and result.reject_rate > max_reject_rate:
        examples = conn.execute(
            "SELECT _line, left(_reason, 200) FROM _rejected ORDER BY _line LIMIT 3"
        ).fetchall()
        raise _reject_error(path, result, max_reject_rate, examples)

    load = [source, file_hash, loaded_at, partition]
    load_cols = "?::VARCHAR AS _source_file, ?::VARCHAR AS _file_hash, "
    load_cols += "?::TIMESTAMPTZ AS _loaded_at, ?::VARCHAR AS _partition"
    typed = ", ".join(f"{typed_ref(c, t)} AS {q(c)}" for c, t in table.columns.items())
    if targets is None:
        target, rejects = f"{RAW_SCHEMA}.{table.name}", f"{RAW_SCHEMA}.{table.rejects_table}"
        conn.execute(f"DELETE FROM {target} WHERE _partition = ?", [partition])
        conn.execute(f"DELETE FROM {rejects} WHERE _partition = ?", [partition])
    else:
        target, rejects = targets
    conn.execute(
        f"INSERT INTO {target} BY NAME SELECT {typed}, {load_cols} FROM _checked "
        "WHERE _reason = '' ORDER BY _line",
        load,
    )
    conn.execute(
        f"INSERT INTO {rejects} BY NAME SELECT *, {load_cols} FROM _rejected ORDER BY _line", load
    )
    for temp in ("_stage", "_typed", "_checked", "_rejected", "_line_rejects"):
        conn.execute(f"DROP TABLE {temp}")
    return result


def load_files(
    conn: duckdb.DuckDBPyConnection,
    table: RawTable,
    files: list[tuple[Path, str]],
    landing_root: Path,
    max_reject_rate: float | None = DEFAULT_MAX_REJECT_RATE,
) -> list[LoadResult]:
    """Validate each ``(path, partition)`` and replace that partition of ``raw.<table>`` with
    its valid rows, all in one transaction: if any file fails (a whole-file fault, or more
    rejected rows than ``max_reject_rate``), no partition changes. ``None`` disables the rate."""
    loaded_at = dt.datetime.now(dt.UTC)
    if is_lake(conn):
        from flightline.ingest_lake import load_files_lake

        return load_files_lake(conn, table, files, landing_root, max_reject_rate, loaded_at)
    conn.execute("BEGIN TRANSACTION")
    try:
        for stmt in create_tables_sql(table):
            conn.execute(stmt)
        results = [
            _load_one(conn, table, path, landing_root, partition, max_reject_rate, loaded_at)
            for path, partition in files
        ]
        conn.execute("COMMIT")
    except BaseException:
        rollback_quietly(conn)
        raise
    return results


def load_file(
    conn: duckdb.DuckDBPyConnection,
    table: RawTable,
    path: Path,
    landing_root: Path,
    partition: str = FULL_PARTITION,
    max_reject_rate: float | None = DEFAULT_MAX_REJECT_RATE,
) -> LoadResult:
    """Validate ``path`` and replace ``partition`` of ``raw.<table>`` with its valid rows."""
    return load_files(conn, table, [(path, partition)], landing_root, max_reject_rate)[0]
