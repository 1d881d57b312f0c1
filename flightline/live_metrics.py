"""Live performance of served or batch predictions, per model version, once outcomes are known."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from flightline.metrics import brier, roc_auc

ALL_VERSIONS = "all versions"


def live_performance(
    y_true: np.ndarray | Sequence[Any], p: np.ndarray | Sequence[Any]
) -> dict[str, Any]:
    """How predictions did once outcomes are known: a JSON-ready dict.

    ``n`` (pairs with both an outcome and a prediction; others are skipped), ``auc`` (None unless
    both classes are present), ``brier`` (mean squared error of the probability), ``mean_predicted``,
    ``observed_rate`` and ``calibration_in_the_large`` = ``mean_predicted - observed_rate``
    (positive: the model predicts more delays than happen). All None but ``n`` when ``n`` is 0.
    """
    y = np.asarray(y_true, dtype=np.float64).ravel()
    q = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != q.shape:
        raise ValueError(f"live_performance: {y.size} outcomes but {q.size} predictions")
    keep = ~(np.isnan(y) | np.isnan(q))
    y, q = y[keep], q[keep]
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("live_performance: outcomes must be 0/1 (or booleans)")
    if ((q < 0) | (q > 1)).any():
        raise ValueError("live_performance: predictions must be probabilities in [0, 1]")
    n = int(y.size)
    if n == 0:
        return {
            "n": 0,
            "auc": None,
            "brier": None,
            "mean_predicted": None,
            "observed_rate": None,
            "calibration_in_the_large": None,
        }
    mean_p, rate = float(q.mean()), float(y.mean())
    return {
        "n": n,
        "auc": roc_auc(y, q),
        "brier": brier(y, q),
        "mean_predicted": mean_p,
        "observed_rate": rate,
        "calibration_in_the_large": mean_p - rate,
    }


def performance_by_version(
    scored: pl.DataFrame, label: str = "is_delayed", probability: str = "delay_probability"
) -> list[dict]:
    """One row per ``model_version`` (largest first) and one for all of them, each with
    :func:`live_performance`'s figures over the rows whose outcome is known. A month scored by two
    versions is two populations: pooled, one version's figures would hide the other's."""
    known = scored.filter(pl.col(label).is_not_null() & pl.col(probability).is_not_null())
    groups = [
        (version, known.filter(pl.col("model_version") == version))
        for version in sorted(known["model_version"].drop_nulls().unique().to_list())
    ]
    if len(groups) != 1:
        groups.append((ALL_VERSIONS, known))
    rows = []
    for version, frame in groups:
        figures = live_performance(
            frame[label].cast(pl.Float64).to_numpy(), frame[probability].to_numpy()
        )
        rows.append({"model_version": version, **figures})
    return rows
