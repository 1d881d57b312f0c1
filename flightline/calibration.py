"""Probability calibration: fitted on the validation month, stored as JSON with the model.

LightGBM's probabilities drift from observed rates when the features it sees are older than the
ones it learned from, or when the base rate moves. A calibrator maps them back: Platt scaling (a
logistic curve on the log-odds, monotone, so ranking and AUC are unchanged) or isotonic regression
(a step function, more flexible, can tie scores). :func:`choose_calibrator` fits both on the even
days of the validation month and keeps the one with the lower Brier score on the odd days.
Stored as plain numbers (never a pickle): the service applies it with numpy alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flightline.metrics import brier, expected_calibration_error

_EPS = 1e-7


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class Calibrator:
    """``identity``, ``platt`` (sigmoid(a * logit(p) + b)) or ``isotonic`` (interpolated steps)."""

    method: str = "identity"
    a: float = 1.0
    b: float = 0.0
    x: tuple[float, ...] = field(default_factory=tuple)
    y: tuple[float, ...] = field(default_factory=tuple)

    def apply(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)
        if self.method == "platt":
            return 1.0 / (1.0 + np.exp(-(self.a * _logit(p) + self.b)))
        if self.method == "isotonic":
            return np.interp(p, self.x, self.y)
        return p

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method}
        if self.method == "platt":
            out |= {"a": self.a, "b": self.b}
        elif self.method == "isotonic":
            out |= {"x": list(self.x), "y": list(self.y)}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Calibrator:
        if not data:
            return cls()
        method = data.get("method", "identity")
        if method not in ("identity", "platt", "isotonic"):
            raise ValueError(f"unknown calibration method {method!r}")
        return cls(
            method=method,
            a=float(data.get("a", 1.0)),
            b=float(data.get("b", 0.0)),
            x=tuple(float(v) for v in data.get("x", ())),
            y=tuple(float(v) for v in data.get("y", ())),
        )


def fit_platt(p: np.ndarray, y: np.ndarray) -> Calibrator:
    """Logistic regression of the label on logit(p) (practically unregularized)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
    model.fit(_logit(p).reshape(-1, 1), np.asarray(y, dtype=np.int8))
    return Calibrator("platt", a=float(model.coef_[0, 0]), b=float(model.intercept_[0]))


def fit_isotonic(p: np.ndarray, y: np.ndarray) -> Calibrator:
    """Monotone step function of p; np.interp of its thresholds is sklearn's own predict."""
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return Calibrator(
        "isotonic",
        x=tuple(float(v) for v in model.X_thresholds_),
        y=tuple(float(v) for v in model.y_thresholds_),
    )


FITTERS = {"platt": fit_platt, "isotonic": fit_isotonic}


def choose_calibrator(
    p: np.ndarray, y: np.ndarray, days: Sequence[Any] | np.ndarray
) -> tuple[Calibrator, dict[str, Any]]:
    """Fit each method on the even days, score it (Brier, ECE) on the odd days, then refit the
    better one (lower Brier) on all rows. Returns it and the comparison.

    Alternate days, not the first and second half: both halves then span the same staleness
    (0-30 days since the month-start snapshot) and the same weeks, so the comparison measures
    the calibration, not the drift within the month.
    """
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    odd = np.asarray(days).astype(np.int64) % 2 == 1
    fit_rows, held = ~odd, odd
    if held.sum() == 0 or fit_rows.sum() == 0 or len(np.unique(y[fit_rows])) < 2:
        return fit_platt(p, y), {"chosen": "platt", "reason": "too few days to compare"}
    report: dict[str, Any] = {
        "none": {
            "brier": brier(y[held], p[held]),
            "ece": expected_calibration_error(y[held], p[held]),
        }
    }
    for name, fit in FITTERS.items():
        q = fit(p[fit_rows], y[fit_rows]).apply(p[held])
        report[name] = {
            "brier": brier(y[held], q),
            "ece": expected_calibration_error(y[held], q),
        }
    chosen = min(FITTERS, key=lambda m: report[m]["brier"])
    report["chosen"] = chosen
    report["compared_on"] = "fitted on the validation month's even days, scored on its odd days"
    return FITTERS[chosen](p, y), report
