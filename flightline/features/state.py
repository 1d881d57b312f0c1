"""The as-of state: what was known at a moment, as windowed daily sums and lookups.

See :mod:`flightline.features` for the availability rules (``available_from``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from flightline.features.catalog import (
    _KEY_DTYPES,
    AGG_KEYS,
    DELAY_CLIP,
    LABEL,
    MAX_WINDOW_DAYS,
    NY_TZ,
    STATE_FORMAT_VERSION,
    WEATHER_COLUMNS,
    AggKey,
)


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
