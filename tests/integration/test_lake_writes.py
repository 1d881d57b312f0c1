"""Writes on DuckLake (real PostgreSQL catalog, fixture ``postgres_url``): no primary keys, so
reruns stay idempotent by replacing rows by key, and a conflicting commit is retried."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from bench.pg_cluster import create_database
from flightline import lake, settings
from flightline.ingest import load_files
from flightline.raw_schemas import FLIGHTS
from flightline.warehouse import is_lake, read_table, replace_rows, retry_on_conflict


@pytest.fixture
def lake_conn(postgres_url, tmp_path, monkeypatch):
    """A connection to a fresh lake (its own catalog database and data folder)."""
    monkeypatch.setenv("FLIGHTLINE_WAREHOUSE", "ducklake")
    monkeypatch.setenv(
        "FLIGHTLINE_LAKE_CATALOG", create_database(postgres_url, tmp_path.name[-40:])
    )
    monkeypatch.setenv("FLIGHTLINE_LAKE_DATA_PATH", str(tmp_path / "lake"))
    with lake.connect() as conn:
        yield conn


def test_reloading_a_month_on_the_lake_replaces_it(lake_conn, landed_2013):
    assert is_lake(lake_conn)
    jan = [(landed_2013 / "flights" / "flights_2013-01.csv", "2013-01")]
    feb = [(landed_2013 / "flights" / "flights_2013-02.csv", "2013-02")]
    for files in (jan, feb, jan):  # January twice: replaced, not appended
        load_files(lake_conn, FLIGHTS, files, landed_2013)
    assert lake_conn.execute(
        "SELECT _partition, count(*) FROM raw.flights GROUP BY 1 ORDER BY 1"
    ).fetchall() == [("2013-01", 27_004), ("2013-02", 24_951)]
    # The rows are Parquet files under the data path, not in a DuckDB file.
    assert list(Path(settings.lake_data_path()).rglob("*.parquet"))


def test_a_commit_that_conflicts_with_another_writer_is_retried(lake_conn):
    frame = pl.DataFrame({"month": ["2013-01", "2013-01", "2013-02"], "n": [1, 2, 4]})
    replace_rows(lake_conn, "features.t", frame, "month", ["2013-01", "2013-02"])
    other = lake.connect()  # another writer (its own DuckDB instance, as another process)
    attempts = []

    def work() -> None:
        attempts.append(1)
        lake_conn.execute("BEGIN TRANSACTION")
        lake_conn.execute("DELETE FROM features.t WHERE month = '2013-02'")
        if len(attempts) == 1:  # meanwhile the other writer commits to the same table
            other.execute("INSERT INTO features.t VALUES ('2013-03', 9)")
        lake_conn.execute("INSERT INTO features.t VALUES ('2013-02', 5)")
        lake_conn.execute("COMMIT")

    try:
        retry_on_conflict(lake_conn, work)
    finally:
        other.close()
    assert len(attempts) == 2  # the first commit was refused, the second went through
    assert read_table(lake_conn, "SELECT month, sum(n) AS n FROM features.t GROUP BY 1 ORDER BY 1")[
        "n"
    ].to_list() == [3, 5, 9]


def test_counts_on_a_lake_nothing_has_written_yet(postgres_url, tmp_path, monkeypatch):
    from flightline.cli import LAYERS, row_counts

    monkeypatch.setenv("FLIGHTLINE_WAREHOUSE", "ducklake")
    monkeypatch.setenv("FLIGHTLINE_LAKE_CATALOG", create_database(postgres_url, "lake_empty"))
    monkeypatch.setenv("FLIGHTLINE_LAKE_DATA_PATH", str(tmp_path / "lake"))
    counts = row_counts(LAYERS)  # a read-only attach of a catalog that does not exist yet
    assert counts["raw"]["raw.flights"] is None and counts["marts"]["marts.fct_flights"] is None
