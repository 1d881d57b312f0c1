import shutil
from pathlib import Path

import pytest
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from resources import LandingZone
from resources.dbt import dbt_project


@pytest.fixture
def warehouse_env(tmp_path, landed_2013, monkeypatch) -> dict[str, object]:
    """Resources on a fresh DuckDB file and a private copy of the Jan–Feb 2013 landing zone.

    dbt runs as a subprocess and finds the same file through FLIGHTLINE_DUCKDB_PATH.
    """
    db = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("FLIGHTLINE_DUCKDB_PATH", str(db))
    zone = Path(shutil.copytree(landed_2013, tmp_path / "landing"))
    return {
        "warehouse": DuckDBResource(database=str(db)),
        "landing": LandingZone(root=str(zone)),
        "dbt": DbtCliResource(project_dir=dbt_project),
    }
