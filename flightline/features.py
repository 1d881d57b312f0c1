"""Point-in-time flight features, shared by training (Dagster assets) and serving (BentoML).

Prediction contract: the prediction for a flight on New York local day D is made at local midnight
starting D. A feature may use the schedule, the plane, the route, weather at the origin at the
scheduled hour, and aggregates over flights whose outcome was known by that moment.

The same code path serves training and serving:

* :func:`build_feature_state` turns flight history into a compact **as-of state**: daily sums per
  key (carrier, origin, dest, route, flight number, plane, carrier x origin, origin x hour,
  carrier x hour, and everything), each row keyed by ``available_from``, the first local day whose
  predictions may use it. An outcome is available from the day after the local day the flight
  arrived (``arrived_at_utc`` in New York time, + 1 day); a scheduled departure from the day after
  it was scheduled; a flight that never arrived (cancelled/diverted) from two days after its
  scheduled day (no flight departs more than 24 h late, so by then it is known). Plus lookups:
  planes, route distances, and the last observed weather per origin and day.
* :func:`flight_features` computes one feature row per input flight from a state. Every aggregate
  is a *window* (1, 7 or 28 days ending at the flight's day), never an all-history sum, so a state
  trimmed to the last ``horizon_days`` (the online snapshot, :func:`trim_state`) gives identical
  features for the days it covers.

Training builds one state from all history and computes features for every historical flight: the
``available_from`` keys guarantee that a flight on day D only sees what was known at midnight
starting D. Serving loads the snapshot written by :func:`save_state` and calls the same
:func:`flight_features` for tomorrow's flights. For a flight after the state's ``as_of`` day the
windows end at ``as_of`` day (the freshest knowledge) and ``state_stale_days`` says by how much.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from flightline.holidays import holiday_distances

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
    "weather_filled",
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


# --------------------------------------------------------------------------------------------
# The as-of state
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Memo:
    """One key's aggregates at ``as_of_day`` (see :func:`precompute_as_of_features`)."""

    frame: pl.DataFrame  # what _key_features / _global_features return: keys, day_eff, values
    index: dict[tuple, int]  # key values -> row of ``frame``


@dataclass(frozen=True)
class FeatureState:
    """What was known at ``as_of``: windowed daily sums and lookups, all Polars frames.

    ``as_of_day`` is the latest local day whose prediction moment (midnight starting it) is at or
    before ``as_of``; the state holds exactly the rows with ``available_from <= as_of_day``.
    ``horizon_days`` is None for a full state, else the number of days kept by :func:`trim_state`.
    """

    as_of: datetime  # timezone-aware (UTC)
    as_of_day: date
    daily: dict[str, pl.DataFrame]  # AggKey.name -> key columns, available_from, _SUMS
    planes: pl.DataFrame  # tailnum, year_built, seats, engines
    routes: pl.DataFrame  # origin, dest, distance_miles
    weather: pl.DataFrame  # origin, available_from, WEATHER_COLUMNS
    horizon_days: int | None = None
    meta: dict[str, object] = field(default_factory=dict)
    # Aggregates at day_eff = as_of_day, memoized by precompute_as_of_features (serving). Not an
    # init field: dataclasses.replace (trim_state, narrowing) starts with an empty memo, so a
    # derived state never reuses aggregates computed from other daily rows.
    _at_as_of: dict[str, _Memo] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def as_of_features_ready(self) -> bool:
        """True once :func:`precompute_as_of_features` has run on this very state object."""
        return bool(self._at_as_of)

    @property
    def first_complete_day(self) -> date | None:
        """First flight day whose features this (possibly trimmed) state computes exactly."""
        if self.horizon_days is None:
            return None
        return self.as_of_day - timedelta(days=self.horizon_days - MAX_WINDOW_DAYS)


def prediction_moment(day: date) -> datetime:
    """Local midnight starting ``day`` (New York), as an aware UTC datetime."""
    local = datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(NY_TZ))
    return local.astimezone(ZoneInfo("UTC"))


def _normalize_as_of(as_of: datetime | date) -> tuple[datetime, date]:
    if isinstance(as_of, datetime):
        aware = as_of.replace(tzinfo=ZoneInfo(NY_TZ)) if as_of.tzinfo is None else as_of
        local = aware.astimezone(ZoneInfo(NY_TZ))
        return aware.astimezone(ZoneInfo("UTC")), local.date()
    return prediction_moment(as_of), as_of


def _local_naive(col: str, dtype: pl.DataType) -> pl.Expr:
    """A datetime column as naive New York local time (aware columns are converted)."""
    expr = pl.col(col)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        expr = expr.dt.convert_time_zone(NY_TZ).dt.replace_time_zone(None)
    return expr.cast(pl.Datetime("us"))


def _utc(col: str, dtype: pl.DataType) -> pl.Expr:
    """A datetime column as aware UTC (naive columns are taken to be UTC already)."""
    expr = pl.col(col)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return expr.dt.replace_time_zone("UTC")
    return expr.dt.convert_time_zone("UTC")


def _with_schedule_keys(lf: pl.LazyFrame, schema: pl.Schema) -> pl.LazyFrame:
    """Key columns every aggregate needs, derived the same way for history and requests."""
    local = _local_naive("sched_dep_local", schema["sched_dep_local"])
    missing = [c for c in ("tailnum", "flight_number") if c not in schema]
    return lf.with_columns(
        *[pl.lit(None, _KEY_DTYPES[c]).alias(c) for c in missing],
    ).with_columns(
        local.alias("sched_dep_local"),
        local.dt.date().alias("day"),
        local.dt.hour().cast(pl.Int32).alias("sched_dep_hour"),
        pl.lit(1, pl.Int8).alias("_all"),
        pl.col("carrier").cast(pl.String),
        pl.col("origin").cast(pl.String),
        pl.col("dest").cast(pl.String),
        pl.col("tailnum").cast(pl.String),
        pl.col("flight_number").cast(pl.Int32),
    )


def _contributions(history: pl.DataFrame) -> pl.LazyFrame:
    """Each flight's contributions to the daily sums, each with the day it becomes available."""
    schema = history.schema
    lf = _with_schedule_keys(history.lazy(), schema)
    key_cols = sorted({c for k in AGG_KEYS for c in k.columns})
    arrived_at = _utc("arrived_at_utc", schema["arrived_at_utc"])
    arrived = pl.col("arrived_at_utc").is_not_null() & pl.col(LABEL).is_not_null()
    zero = pl.lit(0, pl.Int64)
    lf = lf.with_columns(arrived_at.alias("arrived_at_utc"), arrived.alias("__arrived"))
    schedule = lf.select(
        *key_cols,
        pl.col("day").dt.offset_by("1d").alias("available_from"),
        pl.lit(1, pl.Int64).alias("n_sched"),
        zero.alias("n_arr"),
        zero.alias("n_del"),
        zero.alias("sum_delay"),
        zero.alias("n_noarr"),
    )
    outcome = lf.filter(pl.col("__arrived")).select(
        *key_cols,
        pl.col("arrived_at_utc")
        .dt.convert_time_zone(NY_TZ)
        .dt.date()
        .dt.offset_by("1d")
        .alias("available_from"),
        zero.alias("n_sched"),
        pl.lit(1, pl.Int64).alias("n_arr"),
        pl.col(LABEL).cast(pl.Int64).alias("n_del"),
        pl.col("arr_delay_minutes")
        .clip(*DELAY_CLIP)
        .cast(pl.Int64)
        .fill_null(0)
        .alias("sum_delay"),
        zero.alias("n_noarr"),
    )
    never = lf.filter(~pl.col("__arrived")).select(
        *key_cols,
        pl.col("day").dt.offset_by("2d").alias("available_from"),
        zero.alias("n_sched"),
        zero.alias("n_arr"),
        zero.alias("n_del"),
        zero.alias("sum_delay"),
        pl.lit(1, pl.Int64).alias("n_noarr"),
    )
    return pl.concat([schedule, outcome, never], how="vertical")


def _daily_sums(contrib: pl.LazyFrame, key: AggKey) -> pl.LazyFrame:
    cols = list(key.columns)
    return (
        contrib.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in cols))
        .group_by(*cols, "available_from")
        .agg(pl.col("n_sched", "n_arr", "n_del", "sum_delay", "n_noarr").sum())
        .with_columns((pl.col("n_sched") > 0).cast(pl.Int64).alias("n_days"))
        .sort(*cols, "available_from")
    )


def _planes_lookup(planes: pl.DataFrame | None, history: pl.DataFrame) -> pl.DataFrame:
    """tailnum -> year_built, seats, engines from dim_planes (or the mart's plane_* columns)."""
    if planes is None:
        planes = history.select(
            "tailnum",
            pl.col("plane_year_built").alias("year_built"),
            pl.col("plane_seats").alias("seats"),
            pl.col("plane_engines").alias("engines"),
        ).filter(pl.col("year_built").is_not_null() | pl.col("seats").is_not_null())
    elif "year_built" not in planes.columns and "year" in planes.columns:
        planes = planes.rename({"year": "year_built"})
    return (
        planes.select(
            pl.col("tailnum").cast(pl.String),
            pl.col("year_built").cast(pl.Int32),
            pl.col("seats").cast(pl.Int32),
            pl.col("engines").cast(pl.Int32),
        )
        .filter(pl.col("tailnum").is_not_null())
        .unique("tailnum", keep="first")
        .sort("tailnum")
    )


def route_distances(lf: pl.LazyFrame) -> pl.LazyFrame:
    """origin, dest -> distance_miles (the largest recorded), for requests that give none."""
    return (
        lf.filter(pl.col("distance_miles").is_not_null())
        .group_by("origin", "dest")
        .agg(pl.col("distance_miles").cast(pl.Int32).max())
        .sort("origin", "dest")
    )


def _weather_lookup(lf: pl.LazyFrame, schema: pl.Schema) -> pl.LazyFrame:
    """Per origin and local day, the weather at the last scheduled hour with an observation."""
    present = [c for c in WEATHER_COLUMNS if c in schema]
    if not present:
        return pl.LazyFrame(
            schema={"origin": pl.String, "available_from": pl.Date}
            | {c: pl.Float64 for c in WEATHER_COLUMNS}
        )
    observed = pl.any_horizontal(pl.col(c).is_not_null() for c in present)
    return (
        lf.filter(observed)
        .sort("origin", "sched_dep_local")
        .group_by("origin", "day")
        .agg(pl.col(c).cast(pl.Float64).last() for c in present)
        .with_columns(
            *[pl.lit(None, pl.Float64).alias(c) for c in WEATHER_COLUMNS if c not in present],
        )
        .select(
            "origin",
            pl.col("day").dt.offset_by("1d").alias("available_from"),
            *WEATHER_COLUMNS,
        )
        .sort("origin", "available_from")
    )


def build_feature_state(
    history_flights: pl.DataFrame,
    planes: pl.DataFrame | None = None,
    *,
    as_of: datetime | date | None = None,
    horizon_days: int | None = None,
) -> FeatureState:
    """The as-of state from flight history (rows of ``fct_flights``).

    ``as_of``: a local date (its midnight), a naive New York datetime or an aware datetime; by
    default midnight after the last scheduled day in the history. Anything that became known
    after ``as_of`` is left out, whatever the history holds. ``horizon_days`` trims the state to
    the last days (see :func:`trim_state`). ``planes``: ``dim_planes`` (tailnum, year_built or
    year, seats, engines); by default the mart's ``plane_*`` columns.
    """
    schema = history_flights.schema
    base = _with_schedule_keys(history_flights.lazy(), schema)
    if as_of is None:
        last_day = base.select(pl.col("day").max()).collect().item()
        as_of = (last_day or date(1970, 1, 1)) + timedelta(days=1)
    as_of_utc, as_of_day = _normalize_as_of(as_of)
    known = pl.col("available_from") <= as_of_day
    contrib = _contributions(history_flights).filter(known)
    lazy_frames = {k.name: _daily_sums(contrib, k) for k in AGG_KEYS}
    lazy_frames["__routes"] = route_distances(base.filter(pl.col("day") < as_of_day))
    lazy_frames["__weather"] = _weather_lookup(base, schema).filter(known)
    names = list(lazy_frames)
    collected = dict(zip(names, pl.collect_all([lazy_frames[n] for n in names]), strict=True))
    state = FeatureState(
        as_of=as_of_utc,
        as_of_day=as_of_day,
        daily={k.name: collected[k.name] for k in AGG_KEYS},
        planes=_planes_lookup(planes, history_flights),
        routes=collected["__routes"],
        weather=collected["__weather"],
    )
    return trim_state(state, horizon_days) if horizon_days is not None else state


def trim_state(state: FeatureState, horizon_days: int) -> FeatureState:
    """Keep the last ``horizon_days`` of daily rows: the online snapshot.

    Features of flights on days >= ``as_of_day - (horizon_days - MAX_WINDOW_DAYS)`` (so at least
    tomorrow's) are identical to those computed from the full state.
    """
    if horizon_days < MAX_WINDOW_DAYS:
        raise ValueError(
            f"horizon_days={horizon_days} is shorter than the {MAX_WINDOW_DAYS}-day window"
        )
    first = state.as_of_day - timedelta(days=horizon_days - 1)
    keep = pl.col("available_from") >= first
    return replace(
        state,
        daily={name: df.filter(keep) for name, df in state.daily.items()},
        weather=state.weather.filter(keep),
        horizon_days=horizon_days,
    )


def save_state(state: FeatureState, folder: str | Path) -> Path:
    """Write the state as parquet files plus ``state.json`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in state.daily.items():
        df.write_parquet(folder / f"daily_{name}.parquet")
    state.planes.write_parquet(folder / "planes.parquet")
    state.routes.write_parquet(folder / "routes.parquet")
    state.weather.write_parquet(folder / "weather.parquet")
    meta = {
        "format_version": STATE_FORMAT_VERSION,
        "as_of": state.as_of.isoformat(),
        "as_of_day": state.as_of_day.isoformat(),
        "horizon_days": state.horizon_days,
        "keys": {k.name: list(k.columns) for k in AGG_KEYS},
        "rows": {name: df.height for name, df in state.daily.items()},
        "meta": state.meta,
    }
    (folder / "state.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
    return folder


def load_state(folder: str | Path) -> FeatureState:
    """Read a state written by :func:`save_state`; refuses one built with other keys."""
    folder = Path(folder)
    meta = json.loads((folder / "state.json").read_text())
    if meta.get("format_version") != STATE_FORMAT_VERSION:
        raise ValueError(f"state format {meta.get('format_version')} != {STATE_FORMAT_VERSION}")
    expected = {k.name: list(k.columns) for k in AGG_KEYS}
    if meta["keys"] != expected:
        raise ValueError(f"state keys {meta['keys']} do not match this code's {expected}")
    return FeatureState(
        as_of=datetime.fromisoformat(meta["as_of"]),
        as_of_day=date.fromisoformat(meta["as_of_day"]),
        daily={k.name: pl.read_parquet(folder / f"daily_{k.name}.parquet") for k in AGG_KEYS},
        planes=pl.read_parquet(folder / "planes.parquet"),
        routes=pl.read_parquet(folder / "routes.parquet"),
        weather=pl.read_parquet(folder / "weather.parquet"),
        horizon_days=meta["horizon_days"],
        meta=meta.get("meta", {}),
    )


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------


def _prepare_requests(flights: pl.DataFrame, state: FeatureState) -> pl.DataFrame:
    """Normalized request rows: keys, local day, effective day, input order in ``__row``."""
    schema = flights.schema
    lf = flights.lazy().with_row_index("__row")
    if "flight_id" not in schema:
        lf = lf.with_columns(pl.col("__row").cast(pl.String).alias("flight_id"))
    extra = [c for c in (*WEATHER_COLUMNS, "distance_miles") if c not in schema]
    lf = lf.with_columns(pl.lit(None, pl.Float64).alias(c) for c in extra)
    lf = _with_schedule_keys(lf, lf.collect_schema())
    # A row may say which snapshot serves it (training as served); else the state's as-of day.
    snapshot_day = pl.col(SNAPSHOT_DAY) if SNAPSHOT_DAY in schema else pl.col("day")
    return lf.select(
        "__row",
        pl.col("flight_id").cast(pl.String),
        "carrier",
        "flight_number",
        "tailnum",
        "origin",
        "dest",
        "sched_dep_local",
        "sched_dep_hour",
        "_all",
        "day",
        pl.min_horizontal("day", snapshot_day, pl.lit(state.as_of_day)).alias("day_eff"),
        pl.col("distance_miles").cast(pl.Int32),
        *[pl.col(c).cast(pl.Float64) for c in WEATHER_COLUMNS],
    ).collect()


def _window_sums(
    queries: pl.DataFrame, daily: pl.DataFrame, cols: Sequence[str], windows: Iterable[int]
) -> pl.DataFrame:
    """Sums of the daily rows with available_from in (day_eff - w, day_eff], for each window w.

    Cumulative sums per key looked up as of day_eff and day_eff - w; differences of integer sums
    are exact, so a trimmed state (lower cumulative offset) gives the same windows.
    """
    cols, windows = list(cols), sorted(set(windows))
    cum = (
        daily.sort(*cols, "available_from")
        .select(
            *cols,
            "available_from",
            *[pl.col(s).cum_sum().over(cols).alias(s) for s in _SUMS],
        )
        .sort("available_from")
    )
    out = queries
    for offset in [0, *windows]:
        look = out.with_columns(pl.col("day_eff").dt.offset_by(f"-{offset}d").alias("__look"))
        joined = look.sort("__look").join_asof(
            cum.rename({s: f"{s}@{offset}" for s in _SUMS}),
            left_on="__look",
            right_on="available_from",
            by=cols,
            check_sortedness=False,
        )
        out = joined.drop("__look", "available_from").with_columns(
            pl.col(f"{s}@{offset}").fill_null(0) for s in _SUMS
        )
    return out.select(
        *cols,
        "day_eff",
        *[
            (pl.col(f"{s}@0") - pl.col(f"{s}@{w}")).alias(f"{s}_{w}")
            for w in windows
            for s in _SUMS
        ],
    )


def _smoothed(num: pl.Expr, den: pl.Expr, prior: pl.Expr) -> pl.Expr:
    return ((num + SMOOTHING_WEIGHT * prior.cast(pl.Float64)) / (den + SMOOTHING_WEIGHT)).cast(
        pl.Float32
    )


def _global_features(queries: pl.DataFrame, state: FeatureState) -> pl.DataFrame:
    """Per day_eff and window: rates over all flights (the priors of every key), schedule days."""
    windows = sorted({w for k in AGG_KEYS for w in (*k.windows, *k.sched_windows)})
    sums = _window_sums(queries, state.daily["all"], ["_all"], windows)
    exprs: list[pl.Expr] = []
    for w in windows:
        arr, noarr = pl.col(f"n_arr_{w}"), pl.col(f"n_noarr_{w}")
        exprs += [
            pl.when(arr > 0)
            .then(pl.col(f"n_del_{w}") / arr)
            .otherwise(DEFAULT_RATE)
            .cast(pl.Float32)
            .alias(f"__prior_rate_{w}"),
            pl.when(arr > 0)
            .then(pl.col(f"sum_delay_{w}") / arr)
            .otherwise(DEFAULT_DELAY)
            .cast(pl.Float32)
            .alias(f"__prior_delay_{w}"),
            pl.when(arr + noarr > 0)
            .then(noarr / (arr + noarr))
            .otherwise(DEFAULT_CANCEL)
            .cast(pl.Float32)
            .alias(f"__prior_cancel_{w}"),
            pl.col(f"n_days_{w}").clip(lower_bound=1).cast(pl.Float32).alias(f"__days_{w}"),
        ]
    return sums.select("day_eff", *exprs)


def _key_features(
    queries: pl.DataFrame, state: FeatureState, key: AggKey, priors: pl.DataFrame
) -> pl.DataFrame:
    """Smoothed rates, mean delays, counts and schedule density for one key."""
    windows = (*key.windows, *key.sched_windows)
    sums = _window_sums(queries, state.daily[key.name], key.columns, windows).join(
        priors, on="day_eff", how="left"
    )
    exprs: list[pl.Expr] = []
    for w in key.windows:
        arr, noarr = pl.col(f"n_arr_{w}"), pl.col(f"n_noarr_{w}")
        prior_rate, prior_delay = pl.col(f"__prior_rate_{w}"), pl.col(f"__prior_delay_{w}")
        prior_cancel = pl.col(f"__prior_cancel_{w}")
        parts = {
            "rate": prior_rate,  # only for the "all" key: the prior is the key's own rate
            "delay": prior_delay,
            "excess_rate": _smoothed(pl.col(f"n_del_{w}"), arr, prior_rate) - prior_rate,
            "excess_delay": _smoothed(pl.col(f"sum_delay_{w}"), arr, prior_delay) - prior_delay,
            "n": arr.cast(pl.Int32),
            "cancel": prior_cancel
            if key.name == "all"
            else _smoothed(noarr, arr + noarr, prior_cancel),
        }
        exprs += [parts[o].alias(f"{key.name}_{o}_{w}d") for o in key.outputs]
    exprs += [
        (pl.col(f"n_sched_{w}") / pl.col(f"__days_{w}"))
        .cast(pl.Float32)
        .alias(f"{key.name}_sched_per_day_{w}d")
        for w in key.sched_windows
    ]
    return sums.select(*key.columns, "day_eff", *exprs)


@functools.cache  # expressions are immutable; building ~70 per request cost ~1 ms in serving
def _fill_for_unmatched(key: AggKey) -> tuple[pl.Expr, ...]:
    """Values for rows whose key is null or absent from the state: no flights, so the prior."""
    fills = {
        "n": pl.lit(0, pl.Int32),
        "excess_rate": pl.lit(0.0, pl.Float32),
        "excess_delay": pl.lit(0.0, pl.Float32),
    }
    exprs = [
        pl.col(f"{key.name}_{o}_{w}d").fill_null(fills.get(o, pl.col(f"__prior_{o}_{w}")))
        for w in key.windows
        for o in key.outputs
    ]
    exprs += [pl.col(f"{key.name}_sched_per_day_{w}d").fill_null(0.0) for w in key.sched_windows]
    return tuple(exprs)


def precompute_as_of_features(state: FeatureState) -> FeatureState:
    """Memoize the aggregates of every key in ``state`` at ``as_of_day``; returns ``state``.

    Every flight on or after ``as_of_day`` has ``day_eff = as_of_day`` (the freshest windows), so
    serving would recompute the same window sums on every request. This runs the very functions
    :func:`flight_features` runs (:func:`_global_features`, :func:`_key_features`) once, with every
    key of the state as queries; afterwards :func:`flight_features` on this state object joins
    these rows for such flights (same values, bit for bit) and computes other days as before.
    Keys absent from the state get the prior, as on the general path. Idempotent.
    """
    if state._at_as_of:
        return state
    day = pl.lit(state.as_of_day).alias("day_eff")
    queries = pl.DataFrame({"_all": [1]}, schema={"_all": pl.Int8}).select("_all", day)
    priors = _global_features(queries, state)
    memo = {"__priors": _Memo(priors, {(): 0})}
    for key in AGG_KEYS:
        queries = state.daily[key.name].select(*key.columns).unique().with_columns(day)
        frame = _key_features(queries, state, key, priors)
        index = {k: i for i, k in enumerate(frame.select(*key.columns).rows())}
        memo[key.name] = _Memo(frame, index)
    state._at_as_of.update(memo)
    return state


def _memoized_or_computed(
    queries: pl.DataFrame, state: FeatureState, name: str, compute: Callable
) -> pl.DataFrame:
    """``compute(queries)``, taking the rows at ``as_of_day`` from the state's memo if it has one.

    The memo holds exactly what ``compute`` returns for those queries (one row per key), so
    concatenating it with ``compute`` of the other days is the general path's result (plus rows
    for keys no request has, which the caller's left join ignores).
    """
    memo = state._at_as_of.get(name)
    if memo is None:
        return compute(queries)
    rest = queries.filter(pl.col("day_eff") != state.as_of_day)
    if rest.height == 0:
        return memo.frame
    return pl.concat([memo.frame, compute(rest)], how="vertical")


def _aggregates_from_memo(req: pl.DataFrame, state: FeatureState) -> pl.DataFrame:
    """:func:`_aggregate_features` when every row is at ``as_of_day`` and the state has a memo.

    The memo rows are picked by a dictionary lookup per key instead of a join per key (a join of
    a small request costs ~0.3 ms whatever its size; a lookup and a gather ~0.05 ms); unmatched
    rows get the same fills as on the general path.
    """
    memo = state._at_as_of
    n = req.height
    priors = memo["__priors"].frame.drop("day_eff")
    blocks = [req.select("__row"), priors.select(pl.all().gather([0] * n))]
    values = req.select(_KEY_COLUMNS).to_dict(as_series=False)
    for key in AGG_KEYS:
        m = memo[key.name]
        # A null key column never matches (the state has no null keys), as in the join.
        keys = zip(*(values[c] for c in key.columns), strict=True)
        rows = pl.Series([m.index.get(k) for k in keys], dtype=pl.UInt32)
        blocks.append(m.frame.select(pl.exclude(*key.columns, "day_eff").gather(rows)))
    fills = [e for key in AGG_KEYS for e in _fill_for_unmatched(key)]
    return (
        pl.concat(blocks, how="horizontal").with_columns(fills).select("__row", *AGGREGATE_FEATURES)
    )


def _aggregate_features(req: pl.DataFrame, state: FeatureState) -> pl.DataFrame:
    """All windowed aggregates, aligned with ``req`` (by ``__row``)."""
    day_eff = req.get_column("day_eff")
    at_as_of = day_eff.null_count() == 0 and bool((day_eff == state.as_of_day).all())
    if state.as_of_features_ready and at_as_of:
        return _aggregates_from_memo(req, state)  # the usual serving request
    priors = _memoized_or_computed(
        req.select("_all", "day_eff").unique(),
        state,
        "__priors",
        lambda q: _global_features(q, state),
    )
    out = req.select("__row", "day_eff", *sorted({c for k in AGG_KEYS for c in k.columns}))
    out = out.join(priors, on="day_eff", how="left", maintain_order="left")
    for key in AGG_KEYS:
        cols = list(key.columns)
        queries = (
            req.select(*cols, "day_eff")
            .filter(pl.all_horizontal(pl.col(c).is_not_null() for c in cols))
            .unique()
        )
        feats = _memoized_or_computed(
            queries, state, key.name, lambda q, key=key: _key_features(q, state, key, priors)
        )
        out = out.join(feats, on=[*cols, "day_eff"], how="left", maintain_order="left")
        out = out.with_columns(_fill_for_unmatched(key))
    return out.select("__row", *AGGREGATE_FEATURES)


def _fill_weather(req: pl.DataFrame, state: FeatureState) -> pl.DataFrame:
    """Rows with no weather at all get the origin's last observation known at their
    prediction moment, if it is at most WEATHER_FILL_MAX_AGE_DAYS older than the flight's day.

    ``weather_filled``: the row's weather came from that observation; ``weather_missing``: the
    row has no weather at all (the model sees NaN, as it did for such rows in training).
    """
    missing = pl.all_horizontal(pl.col(c).is_null() for c in WEATHER_COLUMNS)
    req = req.with_columns(missing.alias("__no_weather"))
    need = req.filter(pl.col("__no_weather") & pl.col("origin").is_not_null())
    if need.height == 0 or state.weather.height == 0:
        return req.with_columns(
            pl.lit(False).alias("weather_filled"), pl.col("__no_weather").alias("weather_missing")
        )
    last = (
        need.select("origin", "day", "day_eff")
        .unique()
        .sort("day_eff")
        .join_asof(
            state.weather.sort("available_from"),
            left_on="day_eff",
            right_on="available_from",
            by="origin",
            check_sortedness=False,
        )
        # The age counts from the flight's day: a stale snapshot's weather is not recent.
        .filter(
            (pl.col("day") - pl.col("available_from")).dt.total_days() <= WEATHER_FILL_MAX_AGE_DAYS
        )
        .select("origin", "day", "day_eff", *[pl.col(c).alias(f"__w_{c}") for c in WEATHER_COLUMNS])
    )
    req = req.join(last, on=["origin", "day", "day_eff"], how="left", maintain_order="left")
    filled = (pl.col("__no_weather") & pl.col("__w_temp").is_not_null()).fill_null(False)
    return req.with_columns(
        *[
            pl.when(pl.col("__no_weather")).then(pl.col(f"__w_{c}")).otherwise(pl.col(c)).alias(c)
            for c in WEATHER_COLUMNS
        ],
        filled.alias("weather_filled"),
        (pl.col("__no_weather") & ~filled).alias("weather_missing"),
    ).drop([f"__w_{c}" for c in WEATHER_COLUMNS])


_HOLIDAY_MEMO: dict[date, tuple[int | None, int | None]] = {}
_HOLIDAY_MEMO_ROWS = 10_000  # above this, one vectorized call beats per-row dictionary lookups


def holiday_pairs(values: Sequence[date | None]) -> list[tuple[int | None, int | None]]:
    """(days_to_next_holiday, days_since_holiday) per date: :func:`holiday_distances`' own
    values, remembered per date (the serving fast path asks for the same few days)."""
    new = sorted({d for d in values if d is not None and d not in _HOLIDAY_MEMO})
    if new:
        computed = holiday_distances(pl.Series(new, dtype=pl.Date)).rows()
        _HOLIDAY_MEMO.update(zip(new, computed, strict=True))
    return [_HOLIDAY_MEMO.get(d, (None, None)) if d is not None else (None, None) for d in values]


def _holiday_distances(days: pl.Series) -> pl.DataFrame:
    """:func:`holiday_distances`, remembered per date for small inputs (serving requests).

    Its ~10 Polars operations cost ~1 ms per request whatever the size, and requests ask for the
    same few days; the values are that function's own, computed once per date.
    """
    if days.len() > _HOLIDAY_MEMO_ROWS:
        return holiday_distances(days)
    return pl.DataFrame(
        holiday_pairs(days.cast(pl.Date).to_list()),
        schema={"days_to_next_holiday": pl.Int32, "days_since_holiday": pl.Int32},
        orient="row",
    )


def _encode(src: str, vocabulary: Vocabulary) -> pl.Expr:
    values = list(vocabulary[src])
    return pl.col(src).replace_strict(
        values, list(range(len(values))), default=None, return_dtype=pl.Int32
    )


def flight_features(
    flights: pl.DataFrame, state: FeatureState, vocabulary: Vocabulary
) -> pl.DataFrame:
    """One row per input flight, in input order: ``flight_id``, FEATURE_COLUMNS, FLAG_COLUMNS.

    ``flights`` holds scheduled attributes only: ``flight_id`` (optional), ``carrier``,
    ``flight_number``, ``tailnum``, ``origin``, ``dest``, ``sched_dep_local`` (naive New York time,
    or aware), and optionally ``distance_miles`` (else the route's distance from the state) and the
    weather columns (where all of them are null, the origin's last observation known at the
    prediction moment is used and ``weather_filled`` is set). Other columns are ignored.
    ``vocabulary`` maps carrier/origin/dest to the model's category lists (unknown -> null code
    and ``*_unknown`` flag).
    """
    req = _prepare_requests(flights, state)
    req = _fill_weather(req, state)
    req = req.join(
        state.routes.rename({"distance_miles": "__route_distance"}),
        on=["origin", "dest"],
        how="left",
        maintain_order="left",
    )
    req = req.join(state.planes, on="tailnum", how="left", maintain_order="left")
    holidays = _holiday_distances(req.get_column("day"))
    local = pl.col("sched_dep_local")
    base = pl.concat([req, holidays], how="horizontal").select(
        "__row",
        "flight_id",
        *[_encode(src, vocabulary).alias(name) for name, src in CATEGORICAL_SOURCES.items()],
        pl.col("sched_dep_hour"),
        (local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)).alias(
            "sched_dep_minute_of_day"
        ),
        pl.col("day").dt.weekday().cast(pl.Int32).alias("weekday"),
        pl.col("day").dt.month().cast(pl.Int32).alias("month"),
        pl.col("day").dt.ordinal_day().cast(pl.Int32).alias("day_of_year"),
        "days_to_next_holiday",
        "days_since_holiday",
        pl.coalesce("distance_miles", "__route_distance").cast(pl.Int32).alias("distance_miles"),
        pl.col("flight_number"),
        (pl.col("day").dt.year().cast(pl.Int32) - pl.col("year_built")).alias("plane_age_years"),
        pl.col("seats").alias("plane_seats"),
        pl.col("engines").alias("plane_engines"),
        *WEATHER_COLUMNS,
        (pl.col("temp") - pl.col("dewp")).alias("temp_dewp_spread"),
        "year_built",
        "seats",
        "weather_filled",
        "weather_missing",
        (pl.col("day") - pl.col("day_eff"))
        .dt.total_days()
        .cast(pl.Int32)
        .alias("state_stale_days"),
    )
    flags = base.select(
        "__row",
        pl.col("carrier_cat").is_null().alias("carrier_unknown"),
        pl.col("origin_cat").is_null().alias("origin_unknown"),
        pl.col("dest_cat").is_null().alias("dest_unknown"),
        (pl.col("year_built").is_null() & pl.col("seats").is_null()).alias("tailnum_unknown"),
        "weather_filled",
        "weather_missing",
        "state_stale_days",
    )
    aggregates = _aggregate_features(req, state)
    return (
        base.join(aggregates, on="__row", how="left")
        .join(flags, on="__row", how="left")
        .sort("__row")
        .select("flight_id", *FEATURE_COLUMNS, *FLAG_COLUMNS)
    )


def feature_matrix(features: pl.DataFrame, columns: Sequence[str] = FEATURE_COLUMNS) -> np.ndarray:
    """The model's input: ``columns`` in order as a float32 matrix, null -> NaN.

    Training and serving both call this, so the model sees the same encoding.
    """
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise ValueError(f"feature columns missing: {missing}")
    return features.select(_float32_columns(tuple(columns))).to_numpy()


@functools.lru_cache(maxsize=8)  # one per model's feature list: saves ~0.7 ms per request
def _float32_columns(columns: tuple[str, ...]) -> tuple[pl.Expr, ...]:
    return tuple(pl.col(c).cast(pl.Float32) for c in columns)
