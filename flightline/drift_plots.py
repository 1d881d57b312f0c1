"""Pictures of feature drift for the Dagster UI: where a month's top drifting features moved, and
how the largest PSI developed month by month."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from flightline.drift import DRIFT_THRESHOLD
from flightline.figures import new_figure, png_bytes


def _bin_label(edge: float) -> str:
    # Three significant digits, but never scientific notation: pressure reads 1031, not 1.03e+03.
    return f"{edge:.0f}" if abs(edge) >= 100 else f"{edge:.3g}"


def _shares(values: pl.Series, edges: np.ndarray | None) -> tuple[list[str], np.ndarray]:
    if edges is None:  # categories: the reference's most common values
        counts = values.cast(pl.String).fill_null("missing").value_counts(sort=True)
        return counts[:, 0].to_list(), counts["count"].to_numpy() / max(values.len(), 1)
    x = values.cast(pl.Float64).drop_nulls().drop_nans().to_numpy()
    counts, _ = np.histogram(np.clip(x, edges[0], edges[-1]), bins=edges)
    return [_bin_label(e) for e in edges[:-1]], counts / max(values.len(), 1)


def feature_shares(
    reference: pl.DataFrame, current: pl.DataFrame, feature: str, categorical: bool
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Bin labels and the share of reference and current flights in each bin of ``feature``:
    the reference's 15 most common values for a category, else 20 equal bins over the pooled
    1st-99th percentiles."""
    if categorical:
        names, ref = _shares(reference[feature], None)
        names, ref = names[:15], ref[:15]
        counts = dict(zip(*_shares(current[feature], None), strict=True))
        return names, ref, np.array([counts.get(n, 0.0) for n in names])
    both = pl.concat([reference[feature], current[feature]]).cast(pl.Float64)
    finite = both.drop_nulls().drop_nans()
    lo, hi = (finite.quantile(0.01), finite.quantile(0.99)) if finite.len() else (0, 1)
    edges = np.linspace(lo, hi if hi > lo else lo + 1, 21)
    names, ref = _shares(reference[feature], edges)
    return names, ref, _shares(current[feature], edges)[1]


@dataclass(frozen=True)
class DriftingFeature:
    """One of a month's top drifting features: its PSI and its shares per bin (``bins``) in the
    reference and the current month."""

    feature: str
    psi: float
    bins: list[str]
    reference: np.ndarray
    current: np.ndarray


def top_drifting(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    psi: pl.DataFrame,
    categorical: set[str],
    top: int = 4,
) -> list[DriftingFeature]:
    """The ``top`` features with the largest PSI (``psi`` is sorted by it), binned once for every
    picture of them."""
    return [
        DriftingFeature(
            feature, value, *feature_shares(reference, current, feature, feature in categorical)
        )
        for feature, value in zip(psi.head(top)["feature"], psi.head(top)["psi"], strict=True)
    ]


def histograms_png(features: list[DriftingFeature], labels: tuple[str, str]) -> bytes:
    """Reference vs current distribution of each of ``features``."""
    fig = new_figure(figsize=(4.0 * len(features), 3.2))
    for i, f in enumerate(features):
        ax = fig.add_subplot(1, len(features), i + 1)
        x = np.arange(len(f.bins))
        ax.bar(x - 0.2, f.reference, width=0.4, label=labels[0])
        ax.bar(x + 0.2, f.current, width=0.4, label=labels[1])
        ax.set_xticks(x, f.bins, rotation=90, fontsize=6)
        ax.set_title(f"{f.feature} (PSI {f.psi:.2f})", fontsize=9)
        ax.set_ylabel("share of flights", fontsize=8)
        ax.legend(fontsize=7)
    return png_bytes(fig, dpi=80)


def psi_by_month_png(history: pl.DataFrame) -> bytes:
    """Largest PSI per month (``flight_month``, ``max_psi``) against the drift threshold."""
    fig = new_figure(figsize=(6, 3))
    ax = fig.add_subplot()
    months = history["flight_month"].to_list()
    ax.bar(months, history["max_psi"].to_numpy(), color="tab:blue")
    ax.axhline(DRIFT_THRESHOLD, color="tab:red", linestyle="--", label="drift threshold")
    ax.set_ylabel("largest PSI")
    ax.set_title("Feature drift by month (each against its reference month)", fontsize=9)
    ax.tick_params(axis="x", rotation=90, labelsize=7)
    ax.legend(fontsize=7)
    return png_bytes(fig, dpi=80)
