"""Configurable resources: the DuckDB warehouse, the landing zone and dbt."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from flightline import settings
from resources.dbt import dbt_project


class LandingZone(dg.ConfigurableResource):
    """Folder where source files arrive (``<data>/landing`` by default)."""

    root: str

    @property
    def path(self) -> Path:
        return Path(self.root)


def build_resources() -> dict[str, object]:
    """Resources for the current environment; all paths come from ``flightline.settings``."""
    settings.export_environment()
    return {
        "warehouse": DuckDBResource(database=settings.duckdb_path()),
        "landing": LandingZone(root=str(settings.paths().landing)),
        "dbt": DbtCliResource(project_dir=dbt_project),
    }
