"""The scale-out path on a real PostgreSQL (fixture ``postgres_url``): the Dagster instance's
storage in PostgreSQL and the warehouse on DuckLake (catalog in PostgreSQL, Parquet files)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import psycopg2
import pytest

from bench.pg_cluster import create_database
from flightline import settings
from flightline.cli import LAYERS, install_instance_config, row_counts
from flightline.landing import land
from flightline.months import month_range
from flightline.registry import ModelRegistry
from resources import Warehouse
from tests.integration.conftest import BACKTEST, SMALL_HISTORY_GATE, Pipeline, make_resources

DERIVED = (
    "FLIGHTLINE_DUCKDB_PATH",
    "FLIGHTLINE_LAKE_ATTACH",
    "FLIGHTLINE_DUCKDB_EXTENSIONS",
    "FLIGHTLINE_DAGSTER_POSTGRES_URL",
)


def lake_env(monkeypatch: pytest.MonkeyPatch, home: Path, instance_url: str, catalog: str) -> None:
    """This process on the lake at ``home``: the settings a user sets, then what they derive."""
    monkeypatch.setenv("FLIGHTLINE_WAREHOUSE", "ducklake")
    monkeypatch.setenv("FLIGHTLINE_POSTGRES_URL", instance_url)
    monkeypatch.setenv("FLIGHTLINE_LAKE_CATALOG", catalog)
    monkeypatch.setenv("FLIGHTLINE_LAKE_DATA_PATH", str(home / "lake"))
    for name in DERIVED:  # set by export_environment; monkeypatch restores them afterwards
        monkeypatch.setenv(name, "")
    settings.export_environment()


def postgres_instance(home: Path) -> dg.DagsterInstance:
    """The instance `flightline` builds from FLIGHTLINE_POSTGRES_URL (dagster.postgres.yaml)."""
    (home / "dagster_home").mkdir(parents=True, exist_ok=True)
    config = install_instance_config(home / "dagster_home")
    assert "postgres_url" in config.read_text()
    return dg.DagsterInstance.from_config(str(home / "dagster_home"))


def runs_in_postgres(url: str) -> list[tuple[str, str]]:
    """(job, status) of every run, read from the instance's own PostgreSQL table."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT pipeline_name, status FROM runs ORDER BY create_timestamp")
        return cur.fetchall()


def file_counts(path: Path) -> dict[str, dict[str, int]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return {
            layer: {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
            for layer, tables in LAYERS.items()
        }


def test_the_lake_on_postgres_gives_the_rows_and_model_of_the_duckdb_file(
    trained, postgres_url, tmp_path, monkeypatch
):
    """January–March 2013 end to end, then training, on PostgreSQL + DuckLake: the same row
    counts and the same model (hash) as the DuckDB file run of the ``trained`` fixture."""
    instance_url = create_database(postgres_url, "dagster_e2e")
    lake_env(monkeypatch, tmp_path, instance_url, create_database(postgres_url, "lake_e2e"))
    months = month_range("2013-01", "2013-03")
    land(tmp_path / "landing", months)
    resources = {**make_resources(tmp_path), "warehouse": Warehouse(database="unused", lake=True)}
    with postgres_instance(tmp_path) as instance:
        pipeline = Pipeline(tmp_path, instance, resources)
        ingest = pipeline.materialize(
            dg.AssetSelection.groups("raw", "staging", "marts"),
            tags={
                "dagster/asset_partition_range_start": f"{months[0]}-01",
                "dagster/asset_partition_range_end": f"{months[-1]}-01",
            },
        )
        assert ingest.success
        train = pipeline.materialize(
            dg.AssetSelection.groups("features", "model") - dg.AssetSelection.assets(BACKTEST),
            run_config=SMALL_HISTORY_GATE,
        )
        assert train.success

    # Nothing went to a DuckDB file: the lake's rows are Parquet files under its data path.
    assert not (tmp_path / "warehouse.duckdb").exists()
    assert list((tmp_path / "lake").rglob("*.parquet"))
    lake_counts = row_counts(LAYERS)
    assert lake_counts == file_counts(trained.home / "warehouse.duckdb")
    assert lake_counts["marts"]["marts.fct_flights"] == 27_004 + 24_951 + 28_834

    lake_registry = ModelRegistry(tmp_path / "models")
    file_registry = ModelRegistry(trained.home / "models")
    lake_card = lake_registry.card(lake_registry.champion())
    file_card = file_registry.card(file_registry.champion())
    assert lake_card["model_hash"] == file_card["model_hash"]
    assert lake_card["data_window"] == file_card["data_window"]

    # The instance's storage really is PostgreSQL: both runs are rows of its `runs` table.
    assert runs_in_postgres(instance_url) == [
        ("__ephemeral_asset_job__", "SUCCESS"),
        ("__ephemeral_asset_job__", "SUCCESS"),
    ]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "flightline.cli", *args]


def test_two_month_ingests_run_at_once_on_the_lake_while_readers_answer(
    postgres_url, landed_2013, tmp_path, monkeypatch
):
    """Two `flightline materialize` processes for January and February at the same time on one
    PostgreSQL instance and one lake: both land; `flightline counts` (another process) and a
    reader in this process answer while they write."""
    instance_url = create_database(postgres_url, "dagster_concurrent")
    lake_env(monkeypatch, tmp_path, instance_url, create_database(postgres_url, "lake_concurrent"))
    shutil.copytree(landed_2013, tmp_path / "landing")
    env = {**os.environ, "FLIGHTLINE_HOME": str(tmp_path), "PYTHONPATH": str(settings.PROJECT_ROOT)}
    env["DAGSTER_HOME"] = str(tmp_path / "dagster_home")
    for name in DERIVED:
        env.pop(name, None)
    # Create the instance's tables and the lake's catalog once, before two processes race to.
    with postgres_instance(tmp_path):
        pass
    from flightline import lake

    lake.connect().close()

    runs = [
        subprocess.Popen(
            cli("materialize", "--from", m, "--to", m),
            env=env,
            cwd=settings.PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for m in ("2013-01", "2013-02")
    ]
    answered_during_runs = 0
    try:
        # A few reads while the runs write (each `flightline counts` is a whole Python process:
        # polling without end would only slow the runs down on a small machine).
        while answered_during_runs < 3 and any(p.poll() is None for p in runs):
            counts = subprocess.run(
                cli("counts"), env=env, capture_output=True, text=True, cwd=settings.PROJECT_ROOT
            )
            assert counts.returncode == 0, counts.stdout + counts.stderr
            assert "raw.flights" in counts.stdout
            in_process = row_counts({"raw": ["raw.flights"]})  # a reader in this process
            assert in_process["raw"]["raw.flights"] in (None, 0, 27_004, 24_951, 51_955)
            answered_during_runs += any(p.poll() is None for p in runs)
        outputs = [p.communicate()[0] for p in runs]
    finally:
        for p in runs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in runs] == [0, 0], "\n\n".join(o[-3000:] for o in outputs)
    assert answered_during_runs >= 1

    with lake.connect(read_only=True) as conn:
        months = conn.execute(
            "SELECT flight_month, count(*) FROM marts.fct_flights GROUP BY 1 ORDER BY 1"
        ).fetchall()
        raw = conn.execute("SELECT _partition, count(*) FROM raw.flights GROUP BY 1 ORDER BY 1")
        assert raw.fetchall() == [("2013-01", 27_004), ("2013-02", 24_951)]
    assert months == [("2013-01", 27_004), ("2013-02", 24_951)]

    # Both runs are in PostgreSQL, and their recorded lifetimes overlap: they ran at once.
    assert runs_in_postgres(instance_url) == [("ingest", "SUCCESS"), ("ingest", "SUCCESS")]
    with postgres_instance(tmp_path) as instance:
        a, b = (instance.get_run_record_by_id(r.run_id) for r in instance.get_runs())
        assert a.start_time < b.end_time and b.start_time < a.end_time
