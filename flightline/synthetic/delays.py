"""The ``weather`` and ``carrier`` knobs: storm days and extra delays (see :mod:`.knobs`)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from flightline.synthetic.clock import format_float, hhmm_add

# Storm days (weather=x).
STORM_VISIB_FACTOR = 0.25
STORM_PRECIP_ADD = (0.02, 0.20)  # uniform, inches per hour
STORM_WIND_FACTOR, STORM_WIND_ADD = 1.5, 5.0  # mph
STORM_PRESSURE_DROP = 8.0  # mb
STORM_DELAY_MEAN, STORM_DELAY_CAP = 45.0, 360  # minutes
# Carrier delays (carrier:XX=y).
LATE_MINUTES = 15
CARRIER_EXTRA_MEAN = 20.0  # minutes beyond the 15-minute threshold


def storm_weather(
    weather: pl.DataFrame, storm_days: list[int], rng: np.random.Generator
) -> pl.DataFrame:
    storm = pl.col("day").is_in(storm_days)
    add = rng.uniform(*STORM_PRECIP_ADD, size=weather.height)
    num = {
        c: pl.col(c).cast(pl.Float64, strict=False)
        for c in ("visib", "precip", "wind_speed", "wind_gust", "pressure")
    }
    changed = {
        "visib": format_float(num["visib"] * STORM_VISIB_FACTOR, 2),
        "precip": format_float(num["precip"].fill_null(0.0) + pl.Series(add), 2),
        "wind_speed": format_float(num["wind_speed"] * STORM_WIND_FACTOR + STORM_WIND_ADD, 5),
        "wind_gust": format_float(num["wind_gust"] * STORM_WIND_FACTOR + STORM_WIND_ADD, 5),
        "pressure": format_float(num["pressure"] - STORM_PRESSURE_DROP, 1),
    }
    return weather.with_columns(
        # A value that was missing (NA) stays missing, except precip which a storm always has.
        pl.when(storm & (pl.col(c) != "NA")).then(expr).otherwise(pl.col(c)).alias(c)
        if c != "precip"
        else pl.when(storm).then(expr).otherwise(pl.col(c)).alias(c)
        for c, expr in changed.items()
    )


def apply_extra_delay(flights: pl.DataFrame, extra: np.ndarray) -> pl.DataFrame:
    """Add ``extra`` minutes (0 = unchanged) to every flight that departed."""
    e = pl.Series("_extra", extra.astype(np.int64))
    departed = pl.col("dep_time").is_not_null() & pl.col("dep_delay").is_not_null()
    x = pl.when(departed).then(pl.col("_extra")).otherwise(0)
    return (
        flights.with_columns(e)
        .with_columns(
            pl.col("dep_delay") + x,
            hhmm_add("dep_time", x).alias("dep_time"),
            pl.col("arr_delay") + x,
            hhmm_add("arr_time", x).alias("arr_time"),
        )
        .drop("_extra")
    )


def storm_delays(
    flights: pl.DataFrame, storm_days: list[int], rng: np.random.Generator
) -> pl.DataFrame:
    draws = np.minimum(
        np.rint(rng.exponential(STORM_DELAY_MEAN, size=flights.height)), STORM_DELAY_CAP
    )
    on_storm_day = flights["day"].is_in(storm_days).to_numpy()
    return apply_extra_delay(flights, np.where(on_storm_day, draws, 0))


def carrier_delays(
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
    return apply_extra_delay(flights, extra)
