"""Readers while a run writes: retry, then a plain message instead of DuckDB's lock traceback.

The writer is a real second process holding a read-write DuckDB connection, as a run's step does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from flightline import cli, warehouse
from flightline.warehouse import WarehouseBusy, connect_reader

HOLD = (
    "import duckdb, sys\n"
    "conn = duckdb.connect(sys.argv[1])\n"
    "conn.execute('CREATE SCHEMA IF NOT EXISTS raw')\n"
    "conn.execute('CREATE OR REPLACE TABLE raw.flights AS SELECT range AS id FROM range(7)')\n"
    "print('holding', flush=True)\n"
    "sys.stdin.readline()\n"  # hold the lock until told to stop
)


@pytest.fixture
def writer(tmp_path):
    """A process with the warehouse open for writing; ``writer.stdin.write`` ends it."""
    path = tmp_path / "warehouse.duckdb"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "holding\n"
    process.path = path
    yield process
    process.kill()
    process.wait()


def release(process: subprocess.Popen) -> None:
    process.stdin.write("done\n")
    process.stdin.flush()
    process.wait(30)


def test_a_reader_gives_up_with_a_plain_message(writer):
    with pytest.raises(WarehouseBusy) as exc:
        connect_reader(str(writer.path), delays=(0.01, 0.01))
    message = str(exc.value)
    assert message.startswith("a run holds the warehouse")
    assert f"process {writer.pid}" in message and "DuckDB allows one writer" in message
    assert "tried 3 times" in message


def test_a_reader_gets_in_once_the_writer_closes(writer, monkeypatch):
    sleeps = []

    def sleep(seconds: float) -> None:  # the writer finishes during the reader's first wait
        sleeps.append(seconds)
        release(writer)

    monkeypatch.setattr(warehouse, "time", SimpleNamespace(sleep=sleep))
    with connect_reader(str(writer.path)) as conn:
        assert conn.execute("SELECT count(*) FROM raw.flights").fetchone() == (7,)
    assert sleeps == [warehouse.READ_RETRY_DELAYS_S[0]]


def test_other_errors_are_not_retried(tmp_path: Path):
    with pytest.raises(duckdb.IOException, match="database does not exist"):
        connect_reader(str(tmp_path / "missing.duckdb"), delays=(60,))


def test_counts_during_a_run_says_so_without_a_traceback(writer, monkeypatch, capsys):
    monkeypatch.setenv("FLIGHTLINE_DUCKDB_PATH", str(writer.path))
    monkeypatch.setattr(warehouse, "READ_RETRY_DELAYS_S", (0.01,))
    with pytest.raises(SystemExit) as exc:
        cli.main(["counts"])
    assert str(exc.value).startswith("row counts unavailable: a run holds the warehouse")
    assert "Traceback" not in capsys.readouterr().err

    release(writer)
    cli.main(["counts"])
    out = capsys.readouterr().out
    assert "raw.flights" in out and " 7" in out and "marts.fct_flights" in out


def test_an_outdated_derived_table_is_dropped_and_a_current_one_kept(tmp_path):
    import duckdb

    from flightline.warehouse import drop_if_outdated, table_exists

    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute("CREATE SCHEMA monitoring")
        conn.execute("CREATE TABLE monitoring.t AS SELECT 1 AS feature, 0.1 AS psi")
        drop_if_outdated(conn, "monitoring.t", ["feature", "psi"])
        assert table_exists(conn, "monitoring.t")  # has every column: kept, rows and all
        drop_if_outdated(conn, "monitoring.t", ["feature", "psi", "reference_month"])
        assert not table_exists(conn, "monitoring.t")
        drop_if_outdated(conn, "monitoring.t", ["feature"])  # absent: nothing to do
