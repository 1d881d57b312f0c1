"""Configurable resources: the DuckDB warehouse, the landing zone and dbt."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from flightline import settings
from flightline.registry import ModelRegistry
from resources.dbt import dbt_project


class LandingZone(dg.ConfigurableResource):
    """Folder where source files arrive (``<data>/landing`` by default)."""

    root: str

    @property
    def path(self) -> Path:
        return Path(self.root)


class ArtifactStore(dg.ConfigurableResource):
    """Files the platform writes besides the warehouse: models, their registry, feature snapshots."""

    root: str

    @property
    def online_features(self) -> Path:
        return Path(self.root) / "online_features"

    @property
    def registry(self) -> ModelRegistry:
        return ModelRegistry(Path(self.root) / "models")


def build_resources() -> dict[str, object]:
    """Resources for the current environment; all paths come from ``flightline.settings``."""
    settings.export_environment()
    return {
        "warehouse": DuckDBResource(
            database=settings.duckdb_path(), connection_config=settings.DUCKDB_CONFIG
        ),
        "landing": LandingZone(root=str(settings.paths().landing)),
        "dbt": DbtCliResource(project_dir=dbt_project),
        "artifacts": ArtifactStore(root=str(settings.paths().home)),
    }
