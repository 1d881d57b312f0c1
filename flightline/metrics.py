"""Metrics of delay probabilities against outcomes: one implementation of each, used everywhere.

Training, calibration, the backtest, the gate's bootstrap, live performance, drift reports and the
benchmarks all score probabilities with these functions, so a figure means the same wherever it
is reported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

N_BINS = 10
# Probabilities are clipped this far from 0 and 1 before the log loss (a 0 or 1 would be infinite).
_EPS = 1e-7


def _auc_from_groups(inv: np.ndarray, y: np.ndarray, w: np.ndarray, n_groups: int) -> float:
    """Weighted AUC from score ranks (``inv`` = index of each score among the sorted uniques).

    Ties between a positive and a negative count half (the Mann-Whitney U statistic).
    """
    pos = np.bincount(inv, weights=w * y, minlength=n_groups)
    neg = np.bincount(inv, weights=w * (1 - y), minlength=n_groups)
    below = np.cumsum(neg) - neg
    denom = pos.sum() * neg.sum()
    return float((pos * (below + 0.5 * neg)).sum() / denom) if denom > 0 else float("nan")


def _ranks(p: np.ndarray) -> tuple[np.ndarray, int]:
    _, inv = np.unique(np.asarray(p, dtype=np.float64), return_inverse=True)
    return inv.ravel(), int(inv.max()) + 1 if inv.size else 0


def roc_auc(y_true: Any, p: Any) -> float | None:
    """Area under the ROC curve (ties counted half); None unless both classes are present."""
    y = np.asarray(y_true).astype(bool).astype(np.float64).ravel()
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        return None
    inv, n_groups = _ranks(p)
    return _auc_from_groups(inv, y, np.ones(y.size), n_groups)


def brier(y_true: Any, p: Any) -> float:
    """Brier score: the mean squared difference between probability and outcome (0/1)."""
    y, q = np.asarray(y_true, dtype=np.float64), np.asarray(p, dtype=np.float64)
    return float(np.mean((q - y) ** 2))


def reliability_curve(y: Any, p: Any, n_bins: int = N_BINS) -> list[dict[str, Any]]:
    """Per non-empty equal-width bin of p: its range, size, mean predicted and observed rate."""
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    idx = np.clip((p * n_bins).astype(np.int64), 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    sum_p = np.bincount(idx, weights=p, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y, minlength=n_bins)
    return [
        {
            "bin": f"{b / n_bins:.1f}-{(b + 1) / n_bins:.1f}",
            "n": int(counts[b]),
            "mean_p": float(sum_p[b] / counts[b]),
            "observed": float(sum_y[b] / counts[b]),
        }
        for b in range(n_bins)
        if counts[b]
    ]


def expected_calibration_error(y: Any, p: Any, n_bins: int = N_BINS) -> float:
    """ECE over ``n_bins`` equal-width bins: sum of |mean p - observed rate| weighted by size."""
    curve = reliability_curve(y, p, n_bins)
    n = sum(row["n"] for row in curve)
    if n == 0:
        return float("nan")
    return float(sum(row["n"] * abs(row["mean_p"] - row["observed"]) for row in curve) / n)


def evaluate(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, PR-AUC, log loss, Brier score, size, base rate and ECE of probabilities ``p``."""
    # Imported here: the service imports this module (calibration) and its bento has no sklearn.
    from sklearn.metrics import average_precision_score, log_loss

    y = np.asarray(y, dtype=np.int8)
    ece = expected_calibration_error(y, p)
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    auc = roc_auc(y, p)
    if auc is None:
        raise ValueError(f"AUC needs both outcomes among the {y.size} rows scored, got one")
    return {
        "auc": auc,
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": brier(y, p),
        "n": int(y.size),
        "positive_rate": float(y.mean()) if y.size else float("nan"),
        "ece": ece,
    }


def bootstrap_auc_diff(
    y: np.ndarray,
    p_new: np.ndarray,
    p_old: np.ndarray,
    n: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile interval of AUC(p_new) - AUC(p_old), resampling the same rows for both."""
    y = np.asarray(y, dtype=np.float64)
    inv_new, g_new = _ranks(p_new)
    inv_old, g_old = _ranks(p_old)
    rng = np.random.default_rng(seed)
    diffs = np.empty(n)
    for i in range(n):
        w = np.bincount(rng.integers(0, y.size, y.size), minlength=y.size).astype(np.float64)
        diffs[i] = _auc_from_groups(inv_new, y, w, g_new) - _auc_from_groups(inv_old, y, w, g_old)
    diffs = diffs[~np.isnan(diffs)]
    low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)
