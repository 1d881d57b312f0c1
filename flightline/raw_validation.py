"""Validation of staged landing rows in DuckDB: types, domains, rules across columns, keys.

SQL built from the schemas of ``flightline.raw_schemas``; it runs over the temp tables that
``flightline.ingest`` stages (``_stage``: every file's rows as text, tagged with the file's
index ``_file``; ``_files``: each file's partition) and says why each row is invalid, or ''.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from flightline.landing_read import LandingFileError, q
from flightline.raw_schemas import Column, RawTable


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


def reject_reason_sql(table: RawTable) -> str:
    """SQL over ``_cols`` (text columns, ``_r_<column>`` reasons and the row's file's
    ``_partition``, ``_p_year``, ``_p_month``): the row's reasons, '' when the row is valid.
    Cross-column rules run only on rows whose columns they use are valid."""
    typed = {c: typed_ref(c, t) for c, t in table.columns.items()}
    parts = [f'"_r_{c}"' for c in table.columns]
    for rule in table.rules:
        valid = " AND ".join(f'"_r_{c}" IS NULL' for c in rule.uses)
        cond, msg = rule.violated.format(**typed), rule.message.format(**typed)
        parts.append(f"CASE WHEN {valid} AND ({cond}) THEN {_lit(rule.column + ': ')} || {msg} END")
    if table.monthly:  # a monthly file holds its own month only
        parts.append(
            f'CASE WHEN "_r_year" IS NULL AND "_r_month" IS NULL AND ({typed["year"]} <> _p_year'
            f" OR {typed['month']} <> _p_month) THEN 'month: row is for ' || printf('%d-%02d', "
            f"{typed['year']}, {typed['month']}) || ', not ' || _partition END"
        )
    return f"concat_ws('; ', {', '.join(parts)})"


def check_whole_columns(
    conn: duckdb.DuckDBPyConnection, table: RawTable, paths: list[Path]
) -> None:
    """A typed column in which no value of a file parses fails that file."""
    typed = {c: t for c, t in table.columns.items() if t != "VARCHAR"}
    if not typed:
        return
    counts = ", ".join(
        f"count({q(c)}), count({typed_ref(c, t)}), any_value(left({q(c)}, 40))"
        for c, t in typed.items()
    )
    rows = conn.execute(f"SELECT _file, {counts} FROM _typed GROUP BY _file ORDER BY _file")
    for file, *row in rows.fetchall():
        for i, (col, duck_type) in enumerate(typed.items()):
            present, parsed, example = row[3 * i : 3 * i + 3]
            if present and not parsed:
                raise LandingFileError(
                    paths[file],
                    f"wrong type: expected {duck_type}, no value parses (e.g. {example!r})",
                    col,
                )


def type_rows(conn: duckdb.DuckDBPyConnection, table: RawTable) -> dict[int, int]:
    """Build ``_typed``: one row per distinct row of a file in ``_stage`` (its first line),
    with each typed column cast once as ``_t_<column>``; return the exact duplicates dropped,
    by file."""
    cols = ", ".join(q(c) for c in table.columns)
    casts = "".join(
        f", TRY_CAST({q(c)} AS {t}) AS {typed_ref(c, t)}"
        for c, t in table.columns.items()
        if t != "VARCHAR"
    )
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE _typed AS SELECT _file, _line, {cols}{casts} FROM "
        f"(SELECT _file, min(_line) AS _line, {cols} FROM _stage GROUP BY ALL)"
    )
    return dict(
        conn.execute(
            "SELECT _file, s.n - coalesce(t.n, 0) FROM "
            "(SELECT _file, count(*) AS n FROM _stage GROUP BY _file) s "
            "LEFT JOIN (SELECT _file, count(*) AS n FROM _typed GROUP BY _file) t USING (_file)"
        ).fetchall()
    )


def check_rows(conn: duckdb.DuckDBPyConnection, table: RawTable) -> None:
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
        f"WITH _cols AS (SELECT _file, _line, {cols}{typed}, {reasons}, _partition, _p_year, "
        "_p_month FROM _typed JOIN _files USING (_file)), "
        f"r AS (SELECT _file, _line, {cols}{typed}, {reject_reason_sql(table)} AS _reason "
        "FROM _cols)"
        " SELECT * EXCLUDE (_dup, _first_line) REPLACE (CASE WHEN _reason = '' AND _dup > 1 "
        f"THEN 'key: (' || concat_ws(', ', {key}) || ') is already on line ' || _first_line "
        "|| ' with other values' ELSE _reason END AS _reason) FROM ("
        "  SELECT *, row_number() OVER "
        f"(PARTITION BY _file, _reason = '', {key} ORDER BY _line) AS _dup,"
        f"  min(_line) OVER (PARTITION BY _file, _reason = '', {key}) AS _first_line FROM r)"
    )
