"""The warehouse on DuckLake: a catalog in PostgreSQL, Parquet data files under a data path.

DuckDB extensions come from the PyPI packages ``duckdb-extension-ducklake`` and
``duckdb-extension-postgres`` (no download from DuckDB's extension server): they are installed
once into an explicit extension directory under the data folder, where every process (Python
steps, dbt subprocesses, readers) then loads them by name.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb

from flightline import settings

LAKE = "lake"  # the catalog's name in every connection (Python and dbt)
# The package file is postgres.duckdb_extension, but LOAD derives the entry point from the file
# name and the extension is postgres_scanner: it must be installed under that name.
EXTENSIONS = {"ducklake": "ducklake", "postgres": "postgres_scanner"}


class LakeUnavailable(RuntimeError):
    """The lake cannot be opened: catalog unreachable, extensions missing or mismatched."""


def libpq_dsn(url: str) -> str:
    """``postgresql://user:pw@host:port/db`` -> ``dbname=db host=host port=port user=user ...``."""
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql") or not parsed.path.strip("/"):
        raise ValueError(f"not a PostgreSQL URL with a database: {url!r}")
    parts = {
        "dbname": unquote(parsed.path.lstrip("/")),
        "host": parsed.hostname,
        "port": parsed.port,
        "user": unquote(parsed.username) if parsed.username else None,
        "password": unquote(parsed.password) if parsed.password else None,
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


def attach_path() -> str:
    """The ATTACH path of the lake: ``ducklake:postgres:<libpq dsn of the catalog>``."""
    return f"ducklake:postgres:{libpq_dsn(settings.lake_catalog())}"


def _package_file(package: str) -> Path:
    spec = importlib.util.find_spec(f"duckdb_extension_{package}")
    if spec is None or not spec.submodule_search_locations:
        raise LakeUnavailable(
            f"the PyPI package duckdb-extension-{package} is not installed (uv sync installs it)"
        )
    root = Path(next(iter(spec.submodule_search_locations))) / "extensions"
    wanted = root / f"v{duckdb.__version__}" / f"{package}.duckdb_extension"
    if not wanted.is_file():
        shipped = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
        raise LakeUnavailable(
            f"extension version mismatch: duckdb is {duckdb.__version__} but "
            f"duckdb-extension-{package} ships binaries for {', '.join(shipped) or 'nothing'}; "
            "pin duckdb== to the extension packages' version (pyproject.toml)"
        )
    return wanted


def install_extensions(directory: Path | None = None) -> Path:
    """Install the packaged ducklake and postgres extensions into ``directory`` (idempotent)."""
    directory = directory or settings.paths().duckdb_extensions
    directory.mkdir(parents=True, exist_ok=True)
    # Several processes (two runs, dbt, a reader) may start at once: one installs, others wait.
    with open(directory / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _install(directory)
    return directory


def _install(directory: Path) -> None:
    with duckdb.connect(config={"extension_directory": str(directory)}) as conn:
        installed = {
            name
            for name, ok in conn.execute(
                "SELECT extension_name, installed FROM duckdb_extensions()"
            ).fetchall()
            if ok
        }
        for package, name in EXTENSIONS.items():
            if name in installed:
                continue
            source = _package_file(package)
            # INSTALL copies from a file named after the extension; give it that name.
            staged = directory / f"{name}.duckdb_extension.{os.getpid()}"
            staged.write_bytes(source.read_bytes())
            named = staged.with_name(f"{name}-{os.getpid()}") / f"{name}.duckdb_extension"
            named.parent.mkdir(exist_ok=True)
            staged.replace(named)
            try:
                conn.execute(f"INSTALL '{named}'")
            finally:
                named.unlink(missing_ok=True)
                named.parent.rmdir()


def connection_config() -> dict[str, object]:
    """DuckDB settings of a lake connection: the extension directory, no downloads."""
    return {
        **settings.DUCKDB_CONFIG,
        "extension_directory": str(settings.paths().duckdb_extensions),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": True,
    }


def check_postgres_reachable(
    url: str, purpose: str = "the DuckLake catalog", timeout_s: int = 5
) -> None:
    """Raise :class:`LakeUnavailable` naming the server when PostgreSQL does not answer."""
    import psycopg2

    try:
        psycopg2.connect(url, connect_timeout=timeout_s).close()
    except psycopg2.OperationalError as exc:
        parsed = urlparse(url)
        raise LakeUnavailable(
            f"PostgreSQL unreachable at {parsed.hostname}:{parsed.port or 5432} "
            f"(database {parsed.path.lstrip('/')!r}, {purpose}): "
            f"{str(exc).strip().splitlines()[0]}"
        ) from None


def connect(read_only: bool = False, retries: int = 3) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake attached as ``lake`` and selected (``USE lake``).

    Unqualified names (``raw.flights``) resolve in the lake; TEMP tables stay in the process.
    """
    install_extensions()
    conn = duckdb.connect(config=connection_config())
    options = f"DATA_PATH '{settings.lake_data_path()}'" + (", READ_ONLY" if read_only else "")
    for attempt in range(retries + 1):
        try:
            conn.execute(f"ATTACH IF NOT EXISTS '{attach_path()}' AS {LAKE} ({options})")
            break
        except duckdb.Error as exc:
            # Two processes creating a new catalog's tables at once: one loses, and retries.
            if "conflict" in str(exc).lower() and attempt < retries:
                time.sleep(0.2 * 2**attempt)
                continue
            # A reader of a lake nothing has written yet: create the (empty) catalog, read it.
            if read_only and "creating a new ducklake is explicitly disabled" in str(exc).lower():
                conn.close()
                connect(read_only=False).close()
                return connect(read_only=True, retries=retries)
            conn.close()
            check_postgres_reachable(settings.lake_catalog())  # a plainer message if it is down
            raise
    conn.execute(f"USE {LAKE}")
    return conn
