"""Where Flightline keeps its state.

Everything lives under one data folder, ``<project>/data`` unless ``FLIGHTLINE_HOME`` points
elsewhere. The DuckDB path is also exported as ``FLIGHTLINE_DUCKDB_PATH`` because dbt runs as a
subprocess and reads it from its profile: Python and dbt must open the same file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
# DuckDB takes 80% of RAM by default; a bound keeps the whole platform within its memory budget
# (DuckDB spills to disk beyond it). dbt's profile sets the same limit.
DUCKDB_CONFIG = {"memory_limit": "4GB"}


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def duckdb(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"

    @property
    def models(self) -> Path:
        return self.home / "models"

    @property
    def bentoml_home(self) -> Path:
        return self.home / "bentoml"


def paths() -> Paths:
    home = os.environ.get("FLIGHTLINE_HOME") or PROJECT_ROOT / "data"
    return Paths(Path(home).resolve())


def duckdb_path() -> str:
    """The warehouse file; ``FLIGHTLINE_DUCKDB_PATH`` overrides the one under the data folder."""
    return str(Path(os.environ.get("FLIGHTLINE_DUCKDB_PATH") or paths().duckdb).resolve())


def export_environment() -> None:
    """Expose the resolved paths to subprocesses (dbt, bentoml) started from this process."""
    os.environ["FLIGHTLINE_DUCKDB_PATH"] = duckdb_path()
    os.environ.setdefault("FLIGHTLINE_HOME", str(paths().home))  # the service's prediction log
    os.environ.setdefault("BENTOML_HOME", str(paths().bentoml_home))
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
