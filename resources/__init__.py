"""Configurable resources: the DuckDB warehouse, the landing zone and dbt."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from flightline import settings
from flightline.warehouse import ensure_database
from resources.dbt import DbtCli, dbt_project

if TYPE_CHECKING:
    from flightline.registry import ModelRegistry


class Warehouse(DuckDBResource):
    """The warehouse: the DuckDB file ``database`` (default), or the DuckLake lake when
    ``lake`` is set (``FLIGHTLINE_WAREHOUSE=ducklake``; its catalog and data path come from
    ``flightline.settings``). Assets take it as a ``DuckDBResource``: the same SQL runs on both."""

    lake: bool = False

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.lake:
            ensure_database(self.database)
            with super().get_connection() as conn:
                try:
                    yield conn
                finally:
                    # dagster-duckdb closes it only when the step succeeds; a failed step's
                    # traceback would keep the file open (and locked) for the rest of the process.
                    conn.close()
            return
        from flightline import lake

        conn = lake.connect()
        try:
            yield conn
        finally:
            conn.close()


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
        # LightGBM and its dependencies load only for the assets that read or write models.
        from flightline.registry import ModelRegistry

        return ModelRegistry(Path(self.root) / "models")


def build_resources() -> dict[str, object]:
    """Resources for the current environment; all paths come from ``flightline.settings``."""
    settings.export_environment()
    return {
        "warehouse": Warehouse(
            database=settings.duckdb_path(),
            connection_config=settings.DUCKDB_CONFIG,
            lake=settings.warehouse_kind() == "ducklake",
        ),
        "landing": LandingZone(root=str(settings.paths().landing)),
        "dbt": DbtCli(project_dir=dbt_project),
        "artifacts": ArtifactStore(root=str(settings.paths().home)),
    }
