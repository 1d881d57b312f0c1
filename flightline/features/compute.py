"""Feature rows: one row per requested flight from an as-of state (training and serving)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl

from flightline.features.aggregates import _fill_for_unmatched, _global_features, _key_features
from flightline.features.as_of_cache import _aggregates_from_memo, _memoized_or_computed
from flightline.features.catalog import (
    AGG_KEYS,
    AGGREGATE_FEATURES,
    CATEGORICAL_SOURCES,
    FEATURE_COLUMNS,
    FLAG_COLUMNS,
    SNAPSHOT_DAY,
    WEATHER_COLUMNS,
    WEATHER_FILL_MAX_AGE_DAYS,
    Vocabulary,
)
from flightline.features.state import FeatureState, _with_schedule_keys
from flightline.holidays import holiday_distances


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

    ``weather_from_snapshot``: the row's weather came from that observation; ``weather_missing``:
    the row has no weather at all (the model sees NaN, as it did for such rows in training).
    """
    missing = pl.all_horizontal(pl.col(c).is_null() for c in WEATHER_COLUMNS)
    req = req.with_columns(missing.alias("__no_weather"))
    need = req.filter(pl.col("__no_weather") & pl.col("origin").is_not_null())
    if need.height == 0 or state.weather.height == 0:
        return req.with_columns(
            pl.lit(False).alias("weather_from_snapshot"),
            pl.col("__no_weather").alias("weather_missing"),
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
        filled.alias("weather_from_snapshot"),
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


def flight_feature_rows(
    flights: pl.DataFrame, state: FeatureState, vocabulary: Vocabulary
) -> pl.DataFrame:
    """One row per input flight, in input order: ``flight_id``, FEATURE_COLUMNS, FLAG_COLUMNS.

    ``flights`` holds scheduled attributes only: ``flight_id`` (optional), ``carrier``,
    ``flight_number``, ``tailnum``, ``origin``, ``dest``, ``sched_dep_local`` (naive New York time,
    or aware), and optionally ``distance_miles`` (else the route's distance from the state) and the
    weather columns (where all of them are null, the origin's last observation known at the
    prediction moment is used and ``weather_from_snapshot`` is set). Other columns are ignored.
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
        "weather_from_snapshot",
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
        "weather_from_snapshot",
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
