"""The scale-out settings without a server: instance YAML, URLs, extension packages, pools."""

from __future__ import annotations

import duckdb
import pytest
from dagster._core.instance.config import dagster_instance_config

from flightline import lake, settings
from flightline.cli import install_instance_config


def test_both_instance_yamls_load_with_dagster_and_follow_the_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("FLIGHTLINE_POSTGRES_URL", raising=False)
    install_instance_config(tmp_path)
    config, _ = dagster_instance_config(str(tmp_path))
    assert "storage" not in config  # SQLite in DAGSTER_HOME: the default needs no server
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 1

    # With a URL the PostgreSQL template replaces the untouched default copy (the server need
    # not answer for the YAML to validate; `flightline` checks it is reachable separately).
    monkeypatch.setenv("FLIGHTLINE_DAGSTER_POSTGRES_URL", "postgresql+psycopg2://u@h:1/d")
    (tmp_path / "dagster.yaml").write_text(
        (settings.PROJECT_ROOT / "dagster.postgres.yaml").read_text()
    )
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["storage"]["postgres"]["postgres_url"] == {
        "env": "FLIGHTLINE_DAGSTER_POSTGRES_URL"
    }
    assert config["concurrency"]["runs"]["max_concurrent_runs"] > 1
    assert config["run_monitoring"]["enabled"] is True


def test_an_edited_instance_yaml_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.delenv("FLIGHTLINE_POSTGRES_URL", raising=False)
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    install_instance_config(tmp_path)
    assert (tmp_path / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_unreachable_postgres_is_named_in_the_error(tmp_path, monkeypatch):
    from bench.local_servers import free_port

    url = f"postgresql://postgres@127.0.0.1:{free_port()}/flightline"  # nothing listens there
    monkeypatch.setenv("FLIGHTLINE_POSTGRES_URL", url)
    with pytest.raises(lake.LakeUnavailable, match=r"PostgreSQL unreachable at 127\.0\.0\.1:\d+"):
        install_instance_config(tmp_path)


def test_urls_become_what_each_client_expects():
    url = "postgresql://ann:s%40cret@db.example:6543/lake"
    assert lake.libpq_dsn(url) == "dbname=lake host=db.example port=6543 user=ann password=s@cret"
    assert (
        settings.dagster_postgres_url(url)
        == "postgresql+psycopg2://ann:s%40cret@db.example:6543/lake"
    )
    with pytest.raises(ValueError, match="FLIGHTLINE_POSTGRES_URL"):
        settings.dagster_postgres_url("mysql://x@y/z")


def test_warehouse_setting_is_checked_and_the_lake_needs_a_catalog(monkeypatch):
    monkeypatch.setenv("FLIGHTLINE_WAREHOUSE", "sqlite")
    with pytest.raises(ValueError, match="FLIGHTLINE_WAREHOUSE='sqlite'"):
        settings.warehouse_kind()
    monkeypatch.setenv("FLIGHTLINE_WAREHOUSE", "ducklake")
    monkeypatch.delenv("FLIGHTLINE_POSTGRES_URL", raising=False)
    monkeypatch.delenv("FLIGHTLINE_LAKE_CATALOG", raising=False)
    with pytest.raises(ValueError, match="needs a PostgreSQL catalog"):
        settings.lake_catalog()
    monkeypatch.setenv("FLIGHTLINE_POSTGRES_URL", "postgresql://a@h:1/instance")
    assert settings.lake_catalog().endswith("/instance")
    monkeypatch.setenv("FLIGHTLINE_LAKE_CATALOG", "postgresql://a@h:1/catalog")
    assert settings.lake_catalog().endswith("/catalog")


def test_packaged_extensions_install_and_load_offline(tmp_path):
    """The PyPI packages' binaries match the pinned duckdb, and load by name once installed."""
    lake.install_extensions(tmp_path)
    lake.install_extensions(tmp_path)  # idempotent
    config = {"extension_directory": str(tmp_path), "autoinstall_known_extensions": False}
    with duckdb.connect(config=config) as conn:
        conn.execute("LOAD ducklake")
        conn.execute("LOAD postgres_scanner")
        loaded = dict(
            conn.execute("SELECT extension_name, loaded FROM duckdb_extensions()").fetchall()
        )
    assert loaded["ducklake"] and loaded["postgres_scanner"]


def test_a_duckdb_version_without_packaged_binaries_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(duckdb, "__version__", "9.9.9")
    with pytest.raises(
        lake.LakeUnavailable, match=r"extension version mismatch: duckdb is 9\.9\.9"
    ):
        lake._package_file("ducklake")


def test_dbt_and_python_pools_follow_the_warehouse():
    # Imported without FLIGHTLINE_WAREHOUSE (the test session's default): the file's one pool.
    from assets.policies import DBT_POOL, WAREHOUSE_POOL

    assert WAREHOUSE_POOL == DBT_POOL == "duckdb"
