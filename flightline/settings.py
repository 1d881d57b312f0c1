"""Where Flightline keeps its state.

Everything lives under one data folder, ``<project>/data`` unless ``FLIGHTLINE_HOME`` points
elsewhere. The DuckDB path is also exported as ``FLIGHTLINE_DUCKDB_PATH`` because dbt runs as a
subprocess and reads it from its profile: Python and dbt must open the same file.

Scale-out settings (all unset by default: nothing but the data folder is needed):

* ``FLIGHTLINE_WAREHOUSE``: ``duckdb`` (the file, default) or ``ducklake`` (a DuckLake lake).
* ``FLIGHTLINE_POSTGRES_URL``: ``postgresql://user@host:port/db``; the Dagster instance's run,
  event-log and schedule storage, and the lake's catalog unless ``FLIGHTLINE_LAKE_CATALOG``.
* ``FLIGHTLINE_LAKE_CATALOG`` / ``FLIGHTLINE_LAKE_DATA_PATH``: the lake's catalog database (a
  PostgreSQL URL) and where its Parquet files live (``<data>/lake/`` by default; a shared folder
  or an object-store URL such as ``s3://bucket/lake/``).
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
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def duckdb_extensions(self) -> Path:
        return self.home / "duckdb_extensions"

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


WAREHOUSES = ("duckdb", "ducklake")


def warehouse_kind() -> str:
    """``duckdb`` (the file, the default) or ``ducklake``, from ``FLIGHTLINE_WAREHOUSE``."""
    kind = (os.environ.get("FLIGHTLINE_WAREHOUSE") or "duckdb").strip().lower()
    if kind not in WAREHOUSES:
        raise ValueError(f"FLIGHTLINE_WAREHOUSE={kind!r}: expected one of {', '.join(WAREHOUSES)}")
    return kind


def postgres_url() -> str | None:
    """The PostgreSQL URL of the Dagster instance (and default lake catalog), or None."""
    return os.environ.get("FLIGHTLINE_POSTGRES_URL") or None


def lake_catalog() -> str:
    """The DuckLake catalog's PostgreSQL URL: ``FLIGHTLINE_LAKE_CATALOG``, else the instance's."""
    url = os.environ.get("FLIGHTLINE_LAKE_CATALOG") or postgres_url()
    if not url:
        raise ValueError(
            "FLIGHTLINE_WAREHOUSE=ducklake needs a PostgreSQL catalog: set FLIGHTLINE_POSTGRES_URL "
            "(or FLIGHTLINE_LAKE_CATALOG) to postgresql://user@host:port/database"
        )
    return url


def lake_data_path() -> str:
    """Where the lake's Parquet files live, ending in '/': a folder or an object-store URL."""
    path = os.environ.get("FLIGHTLINE_LAKE_DATA_PATH") or str(paths().lake)
    if "://" not in path:
        path = str(Path(path).resolve())
    return path.rstrip("/") + "/"


def dagster_postgres_url(url: str) -> str:
    """``url`` for dagster-postgres's SQLAlchemy engine, with the driver it installs (psycopg2):
    SQLAlchemy 2.1 maps a plain ``postgresql://`` to psycopg 3, which is not installed."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql", "postgresql+psycopg2"):
        raise ValueError(
            f"FLIGHTLINE_POSTGRES_URL={url!r}: expected postgresql://user@host:port/db"
        )
    return f"postgresql+psycopg2://{rest}"


def export_environment() -> None:
    """Expose the resolved paths to subprocesses (dbt, bentoml) started from this process."""
    os.environ["FLIGHTLINE_DUCKDB_PATH"] = duckdb_path()
    os.environ["FLIGHTLINE_WAREHOUSE"] = warehouse_kind()
    os.environ["FLIGHTLINE_DUCKDB_EXTENSIONS"] = str(paths().duckdb_extensions)
    if postgres_url():
        os.environ["FLIGHTLINE_DAGSTER_POSTGRES_URL"] = dagster_postgres_url(postgres_url())
    if warehouse_kind() == "ducklake":
        from flightline.lake import attach_path, install_extensions

        install_extensions()
        os.environ["FLIGHTLINE_LAKE_ATTACH"] = attach_path()
        os.environ["FLIGHTLINE_LAKE_DATA_PATH"] = lake_data_path()
    os.environ.setdefault("FLIGHTLINE_HOME", str(paths().home))  # the service's prediction log
    os.environ.setdefault("BENTOML_HOME", str(paths().bentoml_home))
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
