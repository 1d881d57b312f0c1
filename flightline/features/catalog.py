"""The feature catalog: names, groups and constants of the point-in-time features.

Which columns are features, which are flags, which are forbidden (measured at or after departure),
the aggregation keys and their windows, and the vocabulary of the categorical features.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

NY_TZ = "America/New_York"
LABEL = "is_delayed"
STATE_FORMAT_VERSION = 1

WEATHER_COLUMNS: tuple[str, ...] = (
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
)

# Measured at or after departure (or derived from such a measurement): never a feature.
FORBIDDEN_COLUMNS: tuple[str, ...] = (
    "dep_time",
    "dep_time_hhmm",
    "dep_delay",
    "dep_delay_minutes",
    "arr_time",
    "arr_time_hhmm",
    "arr_delay",
    "arr_delay_minutes",
    "air_time",
    "air_time_minutes",
    "is_cancelled",
    "is_diverted",
    "is_delayed",
    "arrived_at_utc",
    "actual_dep_utc",
    "actual_arr_utc",
)
_FORBIDDEN_PREFIXES: tuple[str, ...] = (
    "dep_time",
    "dep_delay",
    "arr_time",
    "arr_delay",
    "air_time",
    "arrived_at",
    "actual_",
    "is_cancelled",
    "is_diverted",
    "is_delayed",
)

# Smoothing: a key's rate is (delayed + M * prior) / (arrived + M), the prior being the rate of
# all flights over the same window (or the defaults below when the window holds no flights).
SMOOTHING_WEIGHT = 10.0
DEFAULT_RATE = 0.2
DEFAULT_DELAY = 5.0
DEFAULT_CANCEL = 0.02
# Arrival delays are clipped before summing so one 20-hour delay does not dominate a mean.
DELAY_CLIP = (-60, 300)
# Missing weather is filled from the state's last observation only if it is at most this many
# days older than the flight's day.
WEATHER_FILL_MAX_AGE_DAYS = 2
# Optional request column: the as-of day of the snapshot that serves the row. Its aggregates are
# those known at that day's prediction moment (for the as-served evaluation and training rows).
SNAPSHOT_DAY = "snapshot_day"

_SUMS = ("n_sched", "n_arr", "n_del", "sum_delay", "n_noarr", "n_days")


@dataclass(frozen=True)
class AggKey:
    """One aggregation key: which columns, which windows (days), which outputs."""

    name: str
    columns: tuple[str, ...]
    windows: tuple[int, ...]
    # "rate"/"delay"/"cancel": share delayed, mean arrival delay (clipped), share never arrived;
    # "excess_rate"/"excess_delay": the key's smoothed rate/mean delay minus that of all flights
    # over the same window (steadier across seasons than the level); "n": arrived flights.
    outputs: tuple[str, ...]
    sched_windows: tuple[int, ...] = ()  # average scheduled departures per day (congestion)


AGG_KEYS: tuple[AggKey, ...] = (
    AggKey("all", ("_all",), (1, 7, 28), ("rate", "delay", "cancel")),
    AggKey("carrier", ("carrier",), (7, 28), ("excess_rate", "excess_delay", "cancel")),
    AggKey("origin", ("origin",), (1, 7, 28), ("excess_rate", "excess_delay", "cancel"), (28,)),
    AggKey("dest", ("dest",), (7, 28), ("excess_rate", "excess_delay")),
    AggKey("route", ("origin", "dest"), (7, 28), ("excess_rate", "excess_delay", "n"), (28,)),
    AggKey(
        "flight", ("carrier", "flight_number"), (7, 28), ("excess_rate", "excess_delay", "n"), (28,)
    ),
    AggKey("tail", ("tailnum",), (7, 28), ("excess_rate", "excess_delay", "n")),
    AggKey("carrier_origin", ("carrier", "origin"), (7, 28), ("excess_rate", "excess_delay")),
    AggKey(
        "origin_hour", ("origin", "sched_dep_hour"), (28,), ("excess_rate", "excess_delay"), (28,)
    ),
    AggKey("carrier_hour", ("carrier", "sched_dep_hour"), (28,), ("excess_rate", "excess_delay")),
)
MAX_WINDOW_DAYS = max(w for k in AGG_KEYS for w in (*k.windows, *k.sched_windows))
_KEY_DTYPES: dict[str, pl.DataType] = {
    "_all": pl.Int8(),
    "carrier": pl.String(),
    "origin": pl.String(),
    "dest": pl.String(),
    "tailnum": pl.String(),
    "flight_number": pl.Int32(),
    "sched_dep_hour": pl.Int32(),
}


_KEY_COLUMNS: list[str] = sorted({c for k in AGG_KEYS for c in k.columns})


def _aggregate_feature_names(key: AggKey) -> list[str]:
    names = [f"{key.name}_{out}_{w}d" for w in key.windows for out in key.outputs]
    return names + [f"{key.name}_sched_per_day_{w}d" for w in key.sched_windows]


CATEGORICAL_FEATURES: list[str] = ["carrier_cat", "origin_cat", "dest_cat"]
CALENDAR_FEATURES: list[str] = [
    "sched_dep_hour",
    "sched_dep_minute_of_day",
    "weekday",
    "month",
    "day_of_year",
    "days_to_next_holiday",
    "days_since_holiday",
]
SCHEDULE_FEATURES: list[str] = ["distance_miles", "flight_number"]
PLANE_FEATURES: list[str] = ["plane_age_years", "plane_seats", "plane_engines"]
WEATHER_FEATURES: list[str] = [*WEATHER_COLUMNS, "temp_dewp_spread"]
AGGREGATE_FEATURES_BY_KEY: dict[str, list[str]] = {
    k.name: _aggregate_feature_names(k) for k in AGG_KEYS
}
AGGREGATE_FEATURES: list[str] = [n for names in AGGREGATE_FEATURES_BY_KEY.values() for n in names]
FEATURE_COLUMNS: list[str] = [
    *CATEGORICAL_FEATURES,
    *CALENDAR_FEATURES,
    *SCHEDULE_FEATURES,
    *PLANE_FEATURES,
    *WEATHER_FEATURES,
    *AGGREGATE_FEATURES,
]
# What the model is fit on: the features plus how old the snapshot behind them is, so one model
# serves fresh (day-before) and stale (snapshot) rows alike.
MODEL_FEATURES: list[str] = [*FEATURE_COLUMNS, "state_stale_days"]
# Reported next to the features (state_stale_days is also a model input), never fed to the model.
FLAG_COLUMNS: list[str] = [
    "carrier_unknown",
    "origin_unknown",
    "dest_unknown",
    "tailnum_unknown",
    "weather_from_snapshot",
    "weather_missing",
    "state_stale_days",
]
CATEGORICAL_SOURCES: dict[str, str] = {
    "carrier_cat": "carrier",
    "origin_cat": "origin",
    "dest_cat": "dest",
}


def forbidden_columns_present(columns: Iterable[str]) -> list[str]:
    """Columns that hold (or derive from) outcomes measured at or after departure."""
    return [
        c for c in columns if c in FORBIDDEN_COLUMNS or c.lower().startswith(_FORBIDDEN_PREFIXES)
    ]


# --------------------------------------------------------------------------------------------
# Vocabulary of the categorical features (saved with the model)
# --------------------------------------------------------------------------------------------

Vocabulary = Mapping[str, Sequence[str]]


def build_vocabulary(flights: pl.DataFrame) -> dict[str, list[str]]:
    """Sorted distinct carriers, origins and destinations: the codes of the categoricals.

    Build it from the training rows and save it with the model; serving must use the same one.
    """
    return {
        src: sorted(flights.get_column(src).drop_nulls().unique().to_list())
        for src in CATEGORICAL_SOURCES.values()
    }
