"""A pandas implementation of the training feature table, to benchmark the Polars one against.

:func:`pandas_feature_table` computes what :func:`flightline.feature_table.build_feature_table`
computes for the historical flights (``flight_id`` and the 83 ``FEATURE_COLUMNS``), written the
way a data scientist would write it in pandas: vectorized groupby / merge / merge_asof / cumsum,
no row loops and no Polars. It follows the prediction contract of :mod:`flightline.features`:

* every flight contributes a scheduled departure (available the day after its local day), an
  outcome (available the day after the local day it arrived) or a "never arrived" (available two
  days after its local day); daily sums per key are keyed by that ``available_from`` day;
* a flight on local day D sees the daily rows with ``available_from`` in (D - w, D] for each
  window w (cumulative sums per key looked up as of D and D - w with ``merge_asof``);
* rates are smoothed towards the all-flights rate of the same window, in the same Float32/Float64
  steps as the Polars code, so the values are equal, not just close.

The constants (keys, windows, smoothing weight, defaults) are imported from
:mod:`flightline.features` so both implementations compute the same definitions; only the data
work is pandas.

``python -m bench.pandas_features [warehouse.duckdb]`` times both on ``marts.fct_flights``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flightline.features import (
    AGG_KEYS,
    DEFAULT_CANCEL,
    DEFAULT_DELAY,
    DEFAULT_RATE,
    DELAY_CLIP,
    FEATURE_COLUMNS,
    LABEL,
    NY_TZ,
    SMOOTHING_WEIGHT,
    WEATHER_COLUMNS,
    WEATHER_FILL_MAX_AGE_DAYS,
    AggKey,
)
from flightline.holidays import us_federal_holidays

if TYPE_CHECKING:  # the pandas implementation itself never touches Polars
    import polars as pl

FLIGHTS_SQL = "SELECT * FROM marts.fct_flights ORDER BY flight_id"
PLANES_SQL = "SELECT * FROM marts.dim_planes"
# Floats are compared with |a - b| <= RTOL * max(|a|, |b|) + ATOL. The pandas code repeats the
# Float32 casts of the Polars code, so the values are in fact bit-identical; the tolerance only
# absorbs a last-bit difference of a float64 -> float32 rounding. ATOL is for "excess" features,
# which are differences of two rates and can be ~0, where a relative bound alone is meaningless.
RTOL = 1e-5
ATOL = 1e-6

_SUMS = ["n_sched", "n_arr", "n_del", "sum_delay", "n_noarr", "n_days"]
_ONE_DAY = pd.Timedelta(days=1)
_WEATHER = list(WEATHER_COLUMNS)  # a tuple would be read as one column label
_KEY_COLUMNS = sorted({c for k in AGG_KEYS for c in k.columns})


# --------------------------------------------------------------------------------------------
# pandas implementation
# --------------------------------------------------------------------------------------------


def _local_naive(s: pd.Series) -> pd.Series:
    """A datetime column as naive New York wall-clock time (aware columns are converted)."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert(NY_TZ).dt.tz_localize(None)
    return s


def _local_day_of_utc(s: pd.Series) -> pd.Series:
    """The New York local day of an instant (naive values are taken to be UTC)."""
    utc = s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")
    return utc.dt.tz_convert(NY_TZ).dt.tz_localize(None).dt.normalize()


def _requests(flights: pd.DataFrame) -> pd.DataFrame:
    """One row per flight with the keys every aggregate needs, in input order."""
    local = _local_naive(flights["sched_dep_local"])
    return pd.DataFrame(
        {
            "flight_id": flights["flight_id"].astype(str),
            "carrier": flights["carrier"],
            "flight_number": flights["flight_number"],
            "tailnum": flights["tailnum"],
            "origin": flights["origin"],
            "dest": flights["dest"],
            "sched_dep_local": local,
            "day": local.dt.normalize(),
            "sched_dep_hour": local.dt.hour.astype("int32"),
            "_all": np.int8(1),
            **{c: flights[c].astype("float64") for c in WEATHER_COLUMNS},
        }
    ).reset_index(drop=True)


def _contributions(
    req: pd.DataFrame, flights: pd.DataFrame, as_of_day: pd.Timestamp
) -> pd.DataFrame:
    """Each flight's contributions to the daily sums, each with the day it becomes available."""
    keys = req[_KEY_COLUMNS]
    arrived_at = flights["arrived_at_utc"].reset_index(drop=True)
    label = flights[LABEL].reset_index(drop=True)
    arr_delay = flights["arr_delay_minutes"].reset_index(drop=True)
    arrived = (arrived_at.notna() & label.notna()).to_numpy()
    schedule = keys.assign(
        available_from=req["day"] + _ONE_DAY, n_sched=1, n_arr=0, n_del=0, sum_delay=0, n_noarr=0
    )
    outcome = keys[arrived].assign(
        # Known from the day after the local day the flight arrived.
        available_from=_local_day_of_utc(arrived_at[arrived]) + _ONE_DAY,
        n_sched=0,
        n_arr=1,
        n_del=label[arrived].astype("int64"),
        sum_delay=arr_delay[arrived].clip(*DELAY_CLIP).fillna(0).astype("int64"),
        n_noarr=0,
    )
    never = keys[~arrived].assign(
        # Cancelled/diverted: surely known two days after the scheduled day.
        available_from=req["day"][~arrived] + 2 * _ONE_DAY,
        n_sched=0,
        n_arr=0,
        n_del=0,
        sum_delay=0,
        n_noarr=1,
    )
    contrib = pd.concat([schedule, outcome, never], ignore_index=True)
    return contrib[contrib["available_from"] <= as_of_day]


def _daily_sums(contrib: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Sums per key and available_from day (rows with a null key are left out)."""
    daily = (
        contrib.groupby([*cols, "available_from"], sort=True, observed=True)[_SUMS[:-1]]
        .sum()
        .reset_index()
    )
    daily["n_days"] = (daily["n_sched"] > 0).astype("int64")
    return daily


def _window_sums(
    queries: pd.DataFrame, daily: pd.DataFrame, cols: Sequence[str], windows: Sequence[int]
) -> dict[int, pd.DataFrame]:
    """For each window w, sums of daily rows with available_from in (day - w, day].

    ``queries`` must be sorted by ``day`` (merge_asof needs it, and the result keeps its order).
    Cumulative sums per key, looked up as of ``day`` and ``day - w``: integer differences are exact.
    """
    cols = list(cols)
    cum = daily[[*cols, "available_from"]].copy()
    cum[_SUMS] = daily.groupby(cols, sort=False, observed=True)[_SUMS].cumsum()
    cum = cum.sort_values("available_from", kind="stable")
    at: dict[int, np.ndarray] = {}
    for offset in (0, *windows):
        look = queries[cols].assign(__look=queries["day"] - offset * _ONE_DAY)
        joined = pd.merge_asof(
            look, cum, left_on="__look", right_on="available_from", by=cols, direction="backward"
        )
        at[offset] = joined[_SUMS].fillna(0).to_numpy(dtype="int64")
    return {w: pd.DataFrame(at[0] - at[w], columns=_SUMS, index=queries.index) for w in windows}


def _smoothed(num: np.ndarray, den: np.ndarray, prior: np.ndarray) -> np.ndarray:
    # Same steps as the Polars code: float64 arithmetic on a float32 prior, rounded to float32.
    return ((num + SMOOTHING_WEIGHT * prior.astype("float64")) / (den + SMOOTHING_WEIGHT)).astype(
        "float32"
    )


def _ratio(num: np.ndarray, den: np.ndarray, default: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, default).astype("float32")


def _priors(days: pd.DataFrame, daily_all: pd.DataFrame) -> pd.DataFrame:
    """Per day: the rates over all flights in each window (the priors of every key)."""
    windows = sorted({w for k in AGG_KEYS for w in (*k.windows, *k.sched_windows)})
    days = days.sort_values("day", ignore_index=True)
    sums = _window_sums(days, daily_all, ["_all"], windows)
    out = {"day": days["day"]}
    for w, s in sums.items():
        arr, noarr = s["n_arr"].to_numpy(), s["n_noarr"].to_numpy()
        out[f"__prior_rate_{w}"] = _ratio(s["n_del"].to_numpy(), arr, DEFAULT_RATE)
        out[f"__prior_delay_{w}"] = _ratio(s["sum_delay"].to_numpy(), arr, DEFAULT_DELAY)
        out[f"__prior_cancel_{w}"] = _ratio(noarr, arr + noarr, DEFAULT_CANCEL)
        out[f"__days_{w}"] = s["n_days"].clip(lower=1).astype("float32")
    return pd.DataFrame(out)


def _output(
    out: str, is_all: bool, s: pd.DataFrame, rate: np.ndarray, delay: np.ndarray, cancel: np.ndarray
) -> np.ndarray:
    """One output of a key over one window, from its window sums ``s`` and the priors."""
    arr, noarr = s["n_arr"].to_numpy(), s["n_noarr"].to_numpy()
    if out == "rate":  # only the "all" key: the prior is its own rate
        return rate
    if out == "delay":
        return delay
    if out == "excess_rate":
        return _smoothed(s["n_del"].to_numpy(), arr, rate) - rate
    if out == "excess_delay":
        return _smoothed(s["sum_delay"].to_numpy(), arr, delay) - delay
    if out == "n":
        return arr.astype("int32")
    if out == "cancel":
        return cancel if is_all else _smoothed(noarr, arr + noarr, cancel)
    raise ValueError(f"unknown output {out!r}")


def _key_features(
    req: pd.DataFrame, contrib: pd.DataFrame, key: AggKey, priors: pd.DataFrame
) -> pd.DataFrame:
    """One key's windowed features, aligned with ``req`` (rows with a null key get the fill)."""
    cols = list(key.columns)
    queries = req[[*cols, "day"]].dropna().drop_duplicates().sort_values("day", ignore_index=True)
    sums = _window_sums(
        queries, _daily_sums(contrib, cols), cols, sorted({*key.windows, *key.sched_windows})
    )
    p = queries[["day"]].merge(priors, on="day", how="left")
    feats = queries.copy()
    # Value for rows whose key is null (no flights): 0, or the prior column of the window.
    fills: dict[str, float | str] = {}
    for w in key.windows:
        s = sums[w]
        rate, delay = p[f"__prior_rate_{w}"].to_numpy(), p[f"__prior_delay_{w}"].to_numpy()
        cancel = p[f"__prior_cancel_{w}"].to_numpy()
        for out in key.outputs:
            name = f"{key.name}_{out}_{w}d"
            feats[name] = _output(out, key.name == "all", s, rate, delay, cancel)
            fills[name] = 0 if out in ("n", "excess_rate", "excess_delay") else f"__prior_{out}_{w}"
    for w in key.sched_windows:
        name = f"{key.name}_sched_per_day_{w}d"
        days = p[f"__days_{w}"].to_numpy().astype("float64")
        feats[name] = (sums[w]["n_sched"].to_numpy() / days).astype("float32")
        fills[name] = 0
    aligned = req[[*cols, "day"]].merge(feats, on=[*cols, "day"], how="left")[list(fills)]
    missing = req[cols].isna().any(axis=1).to_numpy()
    if missing.any():
        row_priors = req.loc[missing, ["day"]].merge(priors, on="day", how="left")
        for name, fill in fills.items():
            value = row_priors[fill].to_numpy() if isinstance(fill, str) else fill
            aligned.loc[missing, name] = value
    return aligned.astype(feats[list(fills)].dtypes.to_dict())


def _fill_weather(req: pd.DataFrame, as_of_day: pd.Timestamp) -> pd.DataFrame:
    """Rows with no weather at all get the origin's last observation before their day."""
    weather = req[_WEATHER]
    no_weather = weather.isna().all(axis=1)
    need = req.loc[no_weather & req["origin"].notna(), ["origin", "day"]].drop_duplicates()
    if need.empty:
        return req
    # Per origin and local day, the weather at the last scheduled departure with an observation.
    last = (
        req.loc[weather.notna().any(axis=1), ["origin", "sched_dep_local", "day", *_WEATHER]]
        .sort_values(["origin", "sched_dep_local"], kind="stable")
        .drop_duplicates(["origin", "day"], keep="last")
        .assign(available_from=lambda d: d["day"] + _ONE_DAY)
        .drop(columns=["sched_dep_local", "day"])
    )
    last = last[last["available_from"] <= as_of_day].sort_values("available_from")
    found = pd.merge_asof(
        need.sort_values("day"), last, left_on="day", right_on="available_from", by="origin"
    )
    found = found[found["day"] - found["available_from"] <= WEATHER_FILL_MAX_AGE_DAYS * _ONE_DAY]
    filled = req.loc[no_weather, ["origin", "day"]].merge(
        found.drop(columns="available_from"), on=["origin", "day"], how="left"
    )
    req = req.copy()
    req.loc[no_weather, _WEATHER] = filled[_WEATHER].to_numpy()
    return req


def _holiday_distances(day: pd.Series) -> pd.DataFrame:
    """Days to the next federal holiday and since the last one (0 on the holiday)."""
    days = pd.DataFrame({"day": day.drop_duplicates().sort_values(ignore_index=True)})
    lo, hi = days["day"].min().year, days["day"].max().year
    holidays = pd.DataFrame(
        {"holiday": [d for y in range(lo - 1, hi + 2) for d in us_federal_holidays(y)]}
    )
    holidays["holiday"] = pd.to_datetime(holidays["holiday"]).astype(day.dtype)
    nxt = pd.merge_asof(days, holidays, left_on="day", right_on="holiday", direction="forward")
    prv = pd.merge_asof(days, holidays, left_on="day", right_on="holiday", direction="backward")
    days["days_to_next_holiday"] = (nxt["holiday"] - nxt["day"]).dt.days.astype("int32")
    days["days_since_holiday"] = (prv["day"] - prv["holiday"]).dt.days.astype("int32")
    return day.to_frame("day").merge(days, on="day", how="left").drop(columns="day")


def _planes_lookup(planes: pd.DataFrame) -> pd.DataFrame:
    if "year_built" not in planes.columns and "year" in planes.columns:
        planes = planes.rename(columns={"year": "year_built"})
    return (
        planes[["tailnum", "year_built", "seats", "engines"]]
        .dropna(subset=["tailnum"])
        .drop_duplicates("tailnum", keep="first")
        .set_index("tailnum")
    )


def pandas_feature_table(
    flights: pd.DataFrame, planes: pd.DataFrame, vocabulary: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """``flight_id`` and FEATURE_COLUMNS for every row of ``flights`` (fct_flights), in order.

    The state is built from all of ``flights`` (as of midnight after its last day), like
    ``build_feature_table``. Integer features that may be missing use pandas' nullable ``Int32``.
    """
    req = _requests(flights)
    as_of_day = req["day"].max() + _ONE_DAY
    contrib = _contributions(req, flights, as_of_day)

    req = _fill_weather(req, as_of_day)
    distance = flights["distance_miles"].reset_index(drop=True)
    if distance.isna().any():  # fall back to the route's distance seen in the history
        routes = (
            flights.loc[req["day"].lt(as_of_day).to_numpy()]
            .groupby(["origin", "dest"])["distance_miles"]
            .max()
            .rename("__route_distance")
        )
        route = req[["origin", "dest"]].merge(routes, on=["origin", "dest"], how="left")
        distance = distance.fillna(route["__route_distance"])
    plane = req[["tailnum"]].join(_planes_lookup(planes), on="tailnum")
    local = req["sched_dep_local"]
    day = req["day"]

    out = pd.DataFrame({"flight_id": req["flight_id"]})
    for name, src in (("carrier_cat", "carrier"), ("origin_cat", "origin"), ("dest_cat", "dest")):
        codes = {v: i for i, v in enumerate(vocabulary[src])}
        out[name] = req[src].map(codes).astype("Int32")  # unknown -> <NA>
    out["sched_dep_hour"] = req["sched_dep_hour"]
    out["sched_dep_minute_of_day"] = (local.dt.hour * 60 + local.dt.minute).astype("int32")
    out["weekday"] = (day.dt.day_of_week + 1).astype("int32")  # ISO: Monday=1, as Polars
    out["month"] = day.dt.month.astype("int32")
    out["day_of_year"] = day.dt.day_of_year.astype("int32")
    out[["days_to_next_holiday", "days_since_holiday"]] = _holiday_distances(day).to_numpy()
    out["distance_miles"] = distance.astype("Int32")
    out["flight_number"] = req["flight_number"].astype("Int32")
    out["plane_age_years"] = (day.dt.year - plane["year_built"]).astype("Int32")
    out["plane_seats"] = plane["seats"].astype("Int32")
    out["plane_engines"] = plane["engines"].astype("Int32")
    for c in WEATHER_COLUMNS:
        out[c] = req[c]
    out["temp_dewp_spread"] = req["temp"] - req["dewp"]

    # Aggregates: priors over all flights per day, then one block of columns per key.
    daily_all = _daily_sums(contrib, ["_all"])
    priors = _priors(req[["_all", "day"]].drop_duplicates(), daily_all)
    blocks = [_key_features(req, contrib, key, priors) for key in AGG_KEYS]
    out = pd.concat([out, *blocks], axis=1)
    return out[["flight_id", *FEATURE_COLUMNS]]


# --------------------------------------------------------------------------------------------
# Comparison and benchmark
# --------------------------------------------------------------------------------------------


def compare_feature_tables(
    polars_table: pl.DataFrame, pandas_table: pd.DataFrame
) -> dict[str, int]:
    """Differing cells per column (``flight_id`` and FEATURE_COLUMNS); {} when equal.

    Rows are matched by ``flight_id``. Nulls equal nulls; floats are equal within
    ``RTOL * max(|a|, |b|) + ATOL`` (see RTOL/ATOL), integers exactly. A column missing from
    either table counts every row.
    """
    import polars as pl  # only to read the Polars table being compared

    n = polars_table.height
    ids = polars_table.get_column("flight_id").to_numpy()
    if "flight_id" not in pandas_table.columns:
        return {"flight_id": n}
    other = pandas_table.set_index(pandas_table["flight_id"].astype(str)).reindex(ids)
    diffs: dict[str, int] = {}
    missing = int(other["flight_id"].isna().sum())
    extra = len(pandas_table) - (n - missing)  # rows of the pandas table for no Polars row
    if missing + extra:
        diffs["flight_id"] = missing + extra
    for col in FEATURE_COLUMNS:
        if col not in polars_table.columns or col not in other.columns:
            diffs[col] = n
            continue
        series = polars_table.get_column(col)
        a = series.cast(pl.Float64).to_numpy()
        b = pd.to_numeric(other[col]).to_numpy(dtype="float64", na_value=np.nan)
        both_null = np.isnan(a) & np.isnan(b)
        if series.dtype.is_float():
            with np.errstate(invalid="ignore"):
                close = np.abs(a - b) <= RTOL * np.maximum(np.abs(a), np.abs(b)) + ATOL
        else:
            close = a == b
        bad = int((~(both_null | close)).sum())
        if bad:
            diffs[col] = bad
    return diffs


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run_feature_benchmark(warehouse_path: Path, repeats: int = 3) -> list[dict]:
    """Best-of-``repeats`` wall time of the Polars and the pandas feature table on fct_flights.

    Inputs are read once and converted once (not timed): Polars gets the Polars frames the asset
    reads, pandas gets them as pandas frames. Runs alternate Polars/pandas so that noise on a
    shared machine hits both. Raises AssertionError if the tables differ.
    """
    import duckdb

    from flightline.feature_table import build_feature_table
    from flightline.features import build_vocabulary
    from flightline.warehouse import read_table

    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        flights, planes = read_table(conn, FLIGHTS_SQL), read_table(conn, PLANES_SQL)
    flights_pd, planes_pd = flights.to_pandas(), planes.to_pandas()
    vocabulary = build_vocabulary(flights)  # the same vocabulary for both

    polars_times, pandas_times = [], []
    polars_table = pandas_table = None
    for _ in range(repeats):
        t, (polars_table, _vocab) = _timed(lambda: build_feature_table(flights, planes, vocabulary))
        polars_times.append(t)
        t, pandas_table = _timed(lambda: pandas_feature_table(flights_pd, planes_pd, vocabulary))
        pandas_times.append(t)
    diffs = compare_feature_tables(polars_table, pandas_table)
    if diffs:
        raise AssertionError(f"pandas and Polars feature tables differ (cells per column): {diffs}")
    polars_s, pandas_s = min(polars_times), min(pandas_times)
    ratio = pandas_s / polars_s
    return [
        {
            "name": f"features: polars vs pandas ({flights.height:,} flights)",
            "value": round(polars_s, 3),
            "unit": "s",
            "baseline": round(pandas_s, 3),
            "ratio": round(ratio, 2),
            "target": ">= 5x",
            "met": ratio >= 5,
            "polars_runs": [round(t, 3) for t in polars_times],
            "pandas_runs": [round(t, 3) for t in pandas_times],
        }
    ]


def main(argv: Sequence[str] | None = None) -> None:
    from flightline.settings import duckdb_path

    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else Path(duckdb_path())
    for row in run_feature_benchmark(path):
        print(row)


if __name__ == "__main__":
    main()
