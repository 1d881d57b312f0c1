"""Feature drift (population stability index), as plain functions.

PSI compares the distribution of one feature in a *reference* sample (e.g. the training window)
with a *current* sample (e.g. the latest landed month)::

    PSI = sum over bins of (a - e) * ln(a / e)

with ``e``/``a`` the shares of the reference/current sample in each bin. Rules of thumb: below 0.1
no real change, 0.1-0.2 a moderate shift, above 0.2 (:data:`DRIFT_THRESHOLD`) a shift worth
acting on.

Binning (all bins come from the reference sample only):

* **Numeric with many distinct values**: quantile bins, edges at the reference's ``1/bins ..
  (bins-1)/bins`` quantiles (repeated edges merged, so a value with a large mass such as
  ``precip = 0`` gets one bin), right-closed, open at both ends.
* **Numeric with few distinct values** (at most ``max(bins, CATEGORICAL_MAX_VALUES)``, e.g. integer
  codes, hours, 0/1 flags, visibility in whole miles): one bin per reference value, with values
  between or beyond them falling into the nearest right-closed interval ``(v_{i-1}, v_i]`` or a
  last bin above the largest value.
* **Strings/objects** (categories): one bin per reference value plus one for values the reference
  never had.
* **Missing values** (NaN/None/null) always have their own bin, so a rise in missingness counts.

Empty bins get a share of :data:`EPSILON` (then the shares are renormalised) so the log is
finite: a bin the reference never filled adds a large but bounded amount.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from flightline.months import first_day, shift_month

DRIFT_THRESHOLD = 0.2
EPSILON = 1e-4
CATEGORICAL_MAX_VALUES = 20


def psi(
    expected: np.ndarray | Sequence[Any],
    actual: np.ndarray | Sequence[Any],
    bins: int = 10,
    *,
    max_categories: int = CATEGORICAL_MAX_VALUES,
) -> float:
    """Population stability index of ``actual`` against ``expected`` (the reference)."""
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    e, a = np.asarray(expected), np.asarray(actual)
    if e.ndim != 1 or a.ndim != 1:
        raise ValueError("psi expects one-dimensional samples")
    if e.size == 0:
        raise ValueError("psi: the expected (reference) sample is empty")
    if a.size == 0:
        raise ValueError("psi: the actual (current) sample is empty")
    if _is_numeric(e) and _is_numeric(a):
        e_counts, a_counts = _numeric_counts(
            e.astype(np.float64), a.astype(np.float64), bins, max_categories
        )
    else:
        e_counts, a_counts = _categorical_counts(e, a)
    return _psi_from_counts(e_counts, a_counts)


def _is_numeric(x: np.ndarray) -> bool:
    return x.dtype.kind in "biuf"


def _numeric_counts(
    e: np.ndarray, a: np.ndarray, bins: int, max_categories: int
) -> tuple[np.ndarray, np.ndarray]:
    e_nan, a_nan = np.isnan(e), np.isnan(a)
    e_ok, a_ok = e[~e_nan], a[~a_nan]
    if e_ok.size == 0:
        edges = np.empty(0)
    else:
        values = np.unique(e_ok)
        if values.size <= max(bins, max_categories):
            edges = values  # one bin per reference value (right-closed) + one above the largest
        else:
            qs = np.quantile(e_ok, np.linspace(0.0, 1.0, bins + 1)[1:-1])
            edges = np.unique(qs)
    # searchsorted(side="left"): x <= edges[0] -> 0, edges[i-1] < x <= edges[i] -> i, above -> len
    n = edges.size + 1
    e_counts = np.bincount(np.searchsorted(edges, e_ok, side="left"), minlength=n)
    a_counts = np.bincount(np.searchsorted(edges, a_ok, side="left"), minlength=n)
    return (
        np.append(e_counts, e_nan.sum()).astype(np.float64),
        np.append(a_counts, a_nan.sum()).astype(np.float64),
    )


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _categorical_counts(e: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    e_keys = ["\0missing" if _is_missing(v) else str(v) for v in e.tolist()]
    a_keys = ["\0missing" if _is_missing(v) else str(v) for v in a.tolist()]
    categories = sorted(set(e_keys) - {"\0missing"})
    index = {c: i for i, c in enumerate(categories)}
    other, missing = len(categories), len(categories) + 1

    def counts(keys: list[str]) -> np.ndarray:
        idx = [missing if k == "\0missing" else index.get(k, other) for k in keys]
        return np.bincount(np.asarray(idx, dtype=np.int64), minlength=len(categories) + 2)

    return counts(e_keys).astype(np.float64), counts(a_keys).astype(np.float64)


def _psi_from_counts(e_counts: np.ndarray, a_counts: np.ndarray) -> float:
    used = (e_counts > 0) | (a_counts > 0)  # bins empty in both samples contribute nothing
    e_share = np.maximum(e_counts[used] / e_counts.sum(), EPSILON)
    a_share = np.maximum(a_counts[used] / a_counts.sum(), EPSILON)
    e_share, a_share = e_share / e_share.sum(), a_share / a_share.sum()
    return float(max(np.sum((a_share - e_share) * np.log(a_share / e_share)), 0.0))


def _column_values(df: pl.DataFrame, column: str) -> np.ndarray:
    s = df.get_column(column)
    if s.dtype.is_numeric() or s.dtype == pl.Boolean:
        return s.cast(pl.Float64).to_numpy()  # null -> NaN
    if s.dtype.is_temporal():
        return s.to_physical().cast(pl.Float64).to_numpy()
    return s.cast(pl.String).to_numpy()  # categories; null -> None


def feature_psi(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    columns: list[str],
    bins: int = 10,
    *,
    categorical: Sequence[str] = (),
) -> pl.DataFrame:
    """PSI of each column of ``current`` against ``reference``: ``feature``, ``psi``, largest first.

    Numeric and boolean columns are binned as numbers (nulls and NaN together as missing), strings
    and categoricals by value, dates and times by their numeric value. Columns in ``categorical``
    are binned by value even when numeric (integer codes): a code the reference never had (a new
    destination) is then a category of its own, not a tail of a quantile bin.
    """
    for name, df in (("reference", reference), ("current", current)):
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"feature_psi: {name} has no column(s) {missing}")
    rows = []
    for c in columns:
        ref, cur = _column_values(reference, c), _column_values(current, c)
        if c in categorical:
            ref = np.array([None if _is_missing(v) else str(v) for v in ref.tolist()], dtype=object)
            cur = np.array([None if _is_missing(v) else str(v) for v in cur.tolist()], dtype=object)
        elif _is_numeric(ref) != _is_numeric(cur):
            ref, cur = ref.astype(str), cur.astype(str)
        rows.append((c, psi(ref, cur, bins)))
    return pl.DataFrame(rows, schema={"feature": pl.String, "psi": pl.Float64}, orient="row").sort(
        ["psi", "feature"], descending=[True, False]
    )


@dataclass(frozen=True)
class DriftReference:
    """What a month's features are compared with, and why."""

    month: str
    kind: str  # "year_earlier" or "previous_month" (the fallback)
    # Rolling outcome aggregates are compared only when the reference month had its whole
    # lookback history: the first weeks of the data have none, so their aggregates differ from
    # any later month's by construction.
    aggregates_comparable: bool

    def describe(self) -> str:
        if self.kind == "year_earlier":
            return f"{self.month} (the same month a year earlier)"
        return f"{self.month} (the previous month: no month a year earlier has landed)"


def drift_reference(
    month: str, available: Sequence[str], lookback_days: int
) -> DriftReference | None:
    """The reference month for ``month``'s drift, among the months with features ``available``.

    The same month a year earlier removes the season (a January is compared with a January);
    when it has not landed (the first year of data), the closest earlier month is the fallback,
    and its comparison still carries a month of season. None when no earlier month exists.
    A reference month starting less than ``lookback_days`` after the first available month's
    first day has incomplete rolling aggregates.
    """
    year_earlier = shift_month(month, -12)
    if year_earlier in available:
        chosen, kind = year_earlier, "year_earlier"
    else:
        earlier = sorted(m for m in available if m < month)
        if not earlier:
            return None
        chosen, kind = earlier[-1], "previous_month"
    complete = (first_day(chosen) - first_day(min(available))).days >= lookback_days
    return DriftReference(chosen, kind, aggregates_comparable=complete and kind == "year_earlier")


def drift_summary(psi_table: pl.DataFrame, threshold: float = DRIFT_THRESHOLD) -> dict[str, Any]:
    """Headline numbers of a :func:`feature_psi` table, JSON-ready.

    ``max_psi`` and ``max_feature`` (None for an empty table), ``drifting``: features with PSI
    above ``threshold``, largest first, ``n_drifting``, ``n_features``, ``threshold`` and ``top``:
    the five largest as ``{"feature", "psi"}``.
    """
    table = psi_table.sort(["psi", "feature"], descending=[True, False])
    rows = [{"feature": f, "psi": float(p)} for f, p in table.select("feature", "psi").iter_rows()]
    drifting = [r["feature"] for r in rows if r["psi"] > threshold]
    return {
        "max_psi": rows[0]["psi"] if rows else None,
        "max_feature": rows[0]["feature"] if rows else None,
        "threshold": float(threshold),
        "drifting": drifting,
        "n_drifting": len(drifting),
        "n_features": len(rows),
        "top": rows[:5],
    }
