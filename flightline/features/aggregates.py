"""Windowed aggregates per key: window sums, smoothed rates and the priors they shrink towards."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import polars as pl

from flightline.features.catalog import (
    _SUMS,
    AGG_KEYS,
    DEFAULT_CANCEL,
    DEFAULT_DELAY,
    DEFAULT_RATE,
    SMOOTHING_WEIGHT,
    AggKey,
)
from flightline.features.state import FeatureState


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
