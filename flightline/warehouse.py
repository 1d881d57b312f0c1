"""Reading and writing warehouse tables as Polars frames (through Arrow, never pandas)."""

from __future__ import annotations

import contextlib
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl


def read_table(
    conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None
) -> pl.DataFrame:
    return pl.from_arrow(conn.execute(sql, params or []).fetch_arrow_table())


T = TypeVar("T")

# DuckLake commits optimistically: a transaction that deletes from a table another one has
# written since it began is refused at COMMIT. Retrying the whole transaction is safe because
# every write here replaces rows by key (delete + insert), so it converges to the same rows.
CONFLICT_RETRIES = 8


def is_lake(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``conn``'s default catalog is a DuckLake lake (else a DuckDB file)."""
    row = conn.execute(
        "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return row is not None and row[0] == "ducklake"


def is_commit_conflict(exc: BaseException) -> bool:
    """A DuckLake transaction conflict (retryable), not a real error."""
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and "conflict" in text and "transaction" in text


def rollback_quietly(conn: duckdb.DuckDBPyConnection) -> None:
    """End the open transaction, if any (a failed COMMIT has already ended it)."""
    with contextlib.suppress(duckdb.Error):
        conn.execute("ROLLBACK")


def retry_on_conflict(
    conn: duckdb.DuckDBPyConnection, work: Callable[[], T], attempts: int = CONFLICT_RETRIES
) -> T:
    """Run ``work`` (which runs a whole transaction) again when its commit conflicts."""
    for attempt in range(attempts + 1):
        try:
            return work()
        except duckdb.Error as exc:
            if not is_commit_conflict(exc) or attempt == attempts:
                raise
            rollback_quietly(conn)
            time.sleep(min(0.1 * 2**attempt, 5.0) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def _write(
    conn: duckdb.DuckDBPyConnection, df: pl.DataFrame, statements: list[tuple[str, list]]
) -> None:
    def transaction() -> None:
        conn.execute("BEGIN TRANSACTION")
        try:
            for sql, params in statements:
                conn.execute(sql, params)
            conn.execute("COMMIT")
        except Exception:
            rollback_quietly(conn)
            raise

    conn.register("_frame", df.to_arrow())
    try:
        retry_on_conflict(conn, transaction)
    finally:
        conn.unregister("_frame")


def table_exists(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether ``schema.table`` exists."""
    schema, table = name.split(".")
    return bool(
        conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def drop_if_outdated(conn: duckdb.DuckDBPyConnection, name: str, columns: Sequence[str]) -> None:
    """Drop ``name`` when it lacks one of ``columns``: a derived table an older version wrote,
    rebuilt on the next write."""
    if table_exists(conn, name):
        have = set(read_table(conn, f"SELECT * FROM {name} LIMIT 0").columns)
        if not set(columns) <= have:
            conn.execute(f"DROP TABLE {name}")


def rename_columns(conn: duckdb.DuckDBPyConnection, name: str, renames: Mapping[str, str]) -> None:
    """Rename the columns of ``name`` an older version wrote under another name (old -> new),
    keeping its rows; does nothing where the table or the old column does not exist."""
    if not table_exists(conn, name):
        return
    have = set(read_table(conn, f"SELECT * FROM {name} LIMIT 0").columns)
    for old, new in renames.items():
        if old in have and new not in have:
            conn.execute(f'ALTER TABLE {name} RENAME COLUMN "{old}" TO "{new}"')


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


# A new DuckDB file is its header blocks (3 x 4 KiB) with the magic bytes at offset 8.
_HEADER_BYTES = 12_288
_MAGIC = b"DUCK"


def _interrupted_creation(path: Path) -> bool:
    """``path`` is what a process killed while creating a database leaves: no magic bytes,
    no larger than the header and no write-ahead log, so it holds no data."""
    wal = path.with_name(path.name + ".wal")
    if wal.exists() or path.stat().st_size > _HEADER_BYTES:
        return False
    with path.open("rb") as file:
        return file.read(12)[8:12] != _MAGIC


def ensure_database(path: str | Path) -> None:
    """Make sure the DuckDB file ``path`` exists and is whole.

    DuckDB creates a missing file in place, so a run killed at that moment leaves a file every
    later run refuses ("not a valid DuckDB database file"). Here a new file is created beside
    it and linked into place (never over a file another process just created), and a file an
    interrupted creation left behind is removed first.
    """
    path = Path(path)
    if path.exists():
        if not _interrupted_creation(path):
            return
        path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{uuid.uuid4().hex}.creating")
    duckdb.connect(str(draft)).close()
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process created it first: theirs is whole too
    finally:
        draft.unlink(missing_ok=True)


def connect_read_only(delays: Sequence[float] | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the configured warehouse: the DuckDB file or the lake.

    The file waits for its writer (one writer or many readers); the lake reads a committed
    snapshot while runs write.
    """
    from flightline import settings

    if settings.warehouse_kind() == "ducklake":
        from flightline import lake

        return lake.connect(read_only=True)
    return connect_reader(settings.duckdb_path(), delays, config=settings.DUCKDB_CONFIG)


class WarehouseBusy(RuntimeError):
    """The warehouse file is locked by a writer (a run) for longer than a reader waits."""


# A reader waits about 0.25 + 0.5 + 1 + 2 + 4 = 7.75 s: long enough for a step to commit and
# close, short enough not to look hung behind a run that writes for minutes.
READ_RETRY_DELAYS_S = (0.25, 0.5, 1.0, 2.0, 4.0)


def _lock_holder(message: str) -> str:
    """``'PID 1234'`` from DuckDB's "Conflicting lock is held in <exe> (PID 1234)" message."""
    match = re.search(r"\(PID (\d+)\)", message)
    return f"process {match.group(1)}" if match else "another process"


def connect_reader(
    path: str, delays: Sequence[float] | None = None, **kwargs
) -> duckdb.DuckDBPyConnection:
    """A read-only connection to ``path``, retried while a writer holds the file's lock.

    Raises :class:`WarehouseBusy` with a plain message (no DuckDB traceback) when the lock
    outlasts ``delays``; other errors (a missing file, a corrupt one) are raised as they are.
    """
    delays = READ_RETRY_DELAYS_S if delays is None else delays
    for attempt, delay in enumerate([*delays, None]):
        try:
            return duckdb.connect(path, read_only=True, **kwargs)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if delay is None:
                raise WarehouseBusy(
                    f"a run holds the warehouse ({_lock_holder(str(exc))} has {path} open for "
                    "writing; DuckDB allows one writer and no readers meanwhile). Try again when "
                    f"the run has finished (tried {attempt + 1} times)."
                ) from None
            time.sleep(delay)
    raise AssertionError("unreachable")
