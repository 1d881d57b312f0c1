"""A run killed while DuckDB creates the warehouse file must not leave a file every later run
refuses: the file is created whole or not at all, and what an interrupted creation left behind
is replaced. Real DuckDB files in a temp folder."""

from __future__ import annotations

import threading

import duckdb
import pytest

from flightline.warehouse import ensure_database
from resources import Warehouse


def rows(path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute("SELECT * FROM raw.t ORDER BY 1").fetchall()


@pytest.mark.parametrize("left_behind", [b"", b"\0" * 4096, b"\0" * 12_288])
def test_a_file_an_interrupted_creation_left_is_replaced(tmp_path, left_behind):
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(left_behind)
    with pytest.raises(duckdb.IOException, match="not a valid DuckDB database file"):
        duckdb.connect(str(path)).close()  # what every run met before

    with Warehouse(database=str(path)).get_connection() as conn:
        conn.execute("CREATE SCHEMA raw; CREATE TABLE raw.t AS SELECT 1 AS x")
    assert rows(path) == [(1,)]


def test_a_missing_file_is_created_and_no_draft_is_left(tmp_path):
    path = tmp_path / "nested" / "warehouse.duckdb"
    ensure_database(path)
    with duckdb.connect(str(path)) as conn:
        assert conn.execute("SELECT 42").fetchone() == (42,)
    assert [p.name for p in path.parent.iterdir()] == ["warehouse.duckdb"]


def test_a_database_with_data_is_never_touched(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE SCHEMA raw; CREATE TABLE raw.t AS SELECT range AS x FROM range(3)")
    before = path.read_bytes()
    ensure_database(path)
    assert path.read_bytes() == before and rows(path) == [(0,), (1,), (2,)]


def test_a_foreign_file_is_kept_and_named_in_the_error(tmp_path):
    # Larger than a header: not something a creation left, so it may hold someone's data.
    path = tmp_path / "warehouse.duckdb"
    path.write_text("year,month\n" * 5_000)
    ensure_database(path)
    assert path.read_text().startswith("year,month")
    with pytest.raises(duckdb.IOException, match=str(path)):
        duckdb.connect(str(path)).close()


def test_concurrent_creators_end_with_one_whole_file(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    errors: list[BaseException] = []

    def create() -> None:
        try:
            ensure_database(path)
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert [p.name for p in tmp_path.iterdir()] == ["warehouse.duckdb"]
    duckdb.connect(str(path)).close()


def test_a_failed_step_does_not_keep_the_file_open(tmp_path):
    # A failed step's exception (kept by Dagster for its report) holds the frames that hold the
    # connection: unless it is closed, the file stays open for the rest of the process and a
    # reader with another configuration (or dbt, in another process) cannot open it.
    path = tmp_path / "warehouse.duckdb"
    warehouse = Warehouse(database=str(path), connection_config={"memory_limit": "1GB"})
    try:
        with warehouse.get_connection() as conn:
            conn.execute("CREATE SCHEMA raw; CREATE TABLE raw.t AS SELECT 1 AS x")
            raise ValueError("the step failed")
    except ValueError as exc:
        kept = exc  # noqa: F841 - as the run's failure event keeps it
        assert rows(path) == [(1,)]
