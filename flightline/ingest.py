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
from flightline.landing_read import LandingFileError, check_header, sniff_header, stage_files
from flightline.months import parse_month
from flightline.raw_schemas import LOAD_COLUMNS, RawTable
from flightline.raw_validation import check_rows, check_whole_columns, q, type_rows, typed_ref
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


# Files validated together in one pass of each statement, up to this many bytes: a month of 1x
# flights is ~2.5 MB, so a year goes in one pass instead of twelve small ones (each statement's
# fixed cost once, and rows enough for DuckDB to use both cores); a 30x month passes alone.
GROUP_BYTES = 32 << 20


def file_groups(
    files: list[tuple[Path, str]], limit: int = GROUP_BYTES
) -> list[list[tuple[Path, str]]]:
    """``files`` in consecutive groups of at most ``limit`` bytes (at least one file each; a
    missing file counts as empty and is refused when its group is staged)."""
    groups: list[list[tuple[Path, str]]] = []
    size = 0
    for path, partition in files:
        n = path.stat().st_size if path.is_file() else 0
        if not groups or size + n > limit:
            groups.append([])
            size = 0
        groups[-1].append((path, partition))
        size += n
    return groups


@dataclass
class _Staged:
    path: Path
    partition: str
    source: str
    file_hash: str
    data_lines: int
    extra_columns: list[str]


def _stage_files(
    conn: duckdb.DuckDBPyConnection,
    table: RawTable,
    files: list[tuple[Path, str]],
    landing_root: Path,
) -> list[_Staged]:
    """Stage the files (a whole-file fault raises here) into ``_stage`` and ``_line_rejects``,
    their rows tagged with the file's index ``_file``; ``_files`` gets each file's partition and
    load columns."""
    headers = []
    for path, _ in files:
        if not path.is_file():
            raise LandingFileError(path, "no landing file: land it first (flightline land)")
        headers.append((path, check_header(table, sniff_header(path), path)))
    staged = []
    for (path, partition), lines in zip(files, stage_files(conn, table, headers), strict=True):
        if lines.data_lines == 0:
            raise LandingFileError(path, "file has a header but no rows")
        source = str(path.resolve().relative_to(landing_root.resolve()))
        staged.append(
            _Staged(
                path, partition, source, file_sha256(path), lines.data_lines, lines.extra_columns
            )
        )
    months = [parse_month(f.partition) if table.monthly else (None, None) for f in staged]
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _files AS SELECT * FROM (VALUES "
        + ", ".join("(?, ?, ?, ?, ?::INTEGER, ?::INTEGER)" for _ in staged)
        + ") AS f(_file, _partition, _source_file, _file_hash, _p_year, _p_month)",
        [
            v
            for i, (f, (year, month)) in enumerate(zip(staged, months, strict=True))
            for v in (i, f.partition, f.source, f.file_hash, year, month)
        ],
    )
    return staged


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


_TEMP_TABLES = ("_stage", "_line_rejects", "_files", "_typed", "_checked", "_rejected")


def _load_pass(
    conn: duckdb.DuckDBPyConnection,
    table: RawTable,
    files: list[tuple[Path, str]],
    landing_root: Path,
    max_reject_rate: float | None,
    loaded_at: dt.datetime,
    targets: tuple[str, str] | None = None,
) -> list[LoadResult]:
    """Validate ``(path, partition)`` files together and insert their rows into ``targets``
    (rows, rejects), by default ``raw.<table>`` and its rejects table after deleting the
    partitions' previous rows. Each file keeps its own figures, line numbers and refusals."""
    staged = _stage_files(conn, table, files, landing_root)
    duplicates = type_rows(conn, table)
    check_whole_columns(conn, table, [f.path for f in staged])
    check_rows(conn, table)
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _rejected AS "
        f"SELECT _file, _line, _reason, {', '.join(q(c) for c in table.columns)}, "
        "NULL AS _raw_line FROM _checked WHERE _reason <> '' UNION ALL BY NAME "
        "SELECT _file, _line, _reason, _raw_line FROM _line_rejects"
    )
    reasons: list[dict[str, int]] = [{} for _ in staged]
    for file, kind, n in conn.execute(
        "SELECT _file, split_part(_reason, ':', 1) AS kind, count(*) FROM _rejected "
        "GROUP BY _file, kind ORDER BY _file, count(*) DESC, kind"
    ).fetchall():
        reasons[file][kind] = n
    results = []
    for i, f in enumerate(staged):
        rejected = sum(reasons[i].values())
        result = LoadResult(
            table=table.name,
            partition=f.partition,
            source_file=f.source,
            file_hash=f.file_hash,
            rows_read=f.data_lines,
            rows_loaded=f.data_lines - rejected - duplicates.get(i, 0),
            rows_rejected=rejected,
            reject_reasons=reasons[i],
            duplicates_dropped=duplicates.get(i, 0),
            extra_columns=f.extra_columns,
        )
        if max_reject_rate is not None and result.reject_rate > max_reject_rate:
            examples = conn.execute(
                "SELECT _line, left(_reason, 200) FROM _rejected WHERE _file = ? "
                "ORDER BY _line LIMIT 3",
                [i],
            ).fetchall()
            raise _reject_error(f.path, result, max_reject_rate, examples)
        results.append(result)

    load_cols = "f._source_file, f._file_hash, ?::TIMESTAMPTZ AS _loaded_at, f._partition"
    typed = ", ".join(f"{typed_ref(c, t)} AS {q(c)}" for c, t in table.columns.items())
    if targets is None:
        target, rejects = f"{RAW_SCHEMA}.{table.name}", f"{RAW_SCHEMA}.{table.rejects_table}"
        partitions = [f.partition for f in staged]
        for name in (target, rejects):
            conn.execute(f"DELETE FROM {name} WHERE _partition IN (SELECT UNNEST(?))", [partitions])
    else:
        target, rejects = targets
    conn.execute(
        f"INSERT INTO {target} BY NAME SELECT {typed}, {load_cols} FROM _checked c "
        "JOIN _files f USING (_file) WHERE _reason = '' ORDER BY _file, _line",
        [loaded_at],
    )
    conn.execute(
        f"INSERT INTO {rejects} BY NAME SELECT r.* EXCLUDE (_file), {load_cols} FROM _rejected r "
        "JOIN _files f USING (_file) ORDER BY _file, _line",
        [loaded_at],
    )
    for temp in _TEMP_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {temp}")
    return results


def insert_files(
    conn: duckdb.DuckDBPyConnection,
    table: RawTable,
    files: list[tuple[Path, str]],
    landing_root: Path,
    max_reject_rate: float | None,
    loaded_at: dt.datetime,
    targets: tuple[str, str] | None = None,
) -> list[LoadResult]:
    """Validate the files and insert their rows into ``targets`` (see :func:`_load_pass`), in
    passes of at most ``GROUP_BYTES``; the caller owns the transaction."""
    results = []
    for group in file_groups(files):
        results += _load_pass(conn, table, group, landing_root, max_reject_rate, loaded_at, targets)
    return results


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
        results = insert_files(conn, table, files, landing_root, max_reject_rate, loaded_at)
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
