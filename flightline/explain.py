"""Per-prediction explanations: LightGBM's exact tree contributions with readable feature names.

``booster.predict(X, pred_contrib=True)`` gives, per row, one contribution per feature plus the
model's expected value, in **log-odds** (the booster's raw score): they sum exactly to the raw
score of that row (before calibration). :func:`top_contributions` keeps the largest by magnitude.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from flightline.features import AGG_KEYS

if TYPE_CHECKING:  # imported where a model is trained or read (flightline/__init__.py says why)
    import lightgbm as lgb

TOP_N = 5
UNITS = "log-odds"

_KEY_LABELS = {
    "all": "all flights",
    "carrier": "the airline",
    "origin": "the origin airport",
    "dest": "the destination",
    "route": "the route",
    "flight": "the flight number",
    "tail": "the plane",
    "carrier_origin": "the airline at this origin",
    "origin_hour": "the origin at this hour",
    "carrier_hour": "the airline at this hour",
}
_OUTPUT_LABELS = {
    "rate": "share of flights 15+ min late",
    "delay": "mean arrival delay",
    "cancel": "share cancelled or diverted",
    "excess_rate": "late share above all flights'",
    "excess_delay": "mean delay above all flights'",
    "n": "flights arrived",
    "sched_per_day": "scheduled departures per day",
}
_PLAIN_LABELS = {
    "carrier_cat": "airline",
    "origin_cat": "origin airport",
    "dest_cat": "destination airport",
    "sched_dep_hour": "scheduled departure hour",
    "sched_dep_minute_of_day": "scheduled departure time of day",
    "weekday": "day of the week",
    "month": "month",
    "day_of_year": "day of the year",
    "days_to_next_holiday": "days to the next holiday",
    "days_since_holiday": "days since the last holiday",
    "distance_miles": "distance",
    "flight_number": "flight number",
    "plane_age_years": "plane age",
    "plane_seats": "plane seats",
    "plane_engines": "plane engines",
    "temp": "temperature at the origin",
    "dewp": "dew point at the origin",
    "humid": "humidity at the origin",
    "wind_dir": "wind direction at the origin",
    "wind_speed": "wind speed at the origin",
    "wind_gust": "wind gusts at the origin",
    "precip": "precipitation at the origin",
    "pressure": "air pressure at the origin",
    "visib": "visibility at the origin",
    "temp_dewp_spread": "temperature minus dew point (fog risk)",
    "state_stale_days": "days since the feature snapshot",
}


def _aggregate_labels() -> dict[str, str]:
    labels = {}
    for key in AGG_KEYS:
        who = _KEY_LABELS[key.name]
        for w in key.windows:
            for out in key.outputs:
                labels[f"{key.name}_{out}_{w}d"] = f"{_OUTPUT_LABELS[out]} of {who}, last {w} days"
        for w in key.sched_windows:
            labels[f"{key.name}_sched_per_day_{w}d"] = (
                f"{_OUTPUT_LABELS['sched_per_day']} at {who}, last {w} days"
            )
    return labels


FEATURE_LABELS: dict[str, str] = {**_PLAIN_LABELS, **_aggregate_labels()}


def feature_label(name: str) -> str:
    return FEATURE_LABELS.get(name, name.replace("_", " "))


def contributions(booster: lgb.Booster, matrix: np.ndarray, num_threads: int = 0) -> np.ndarray:
    """(rows, features + 1) log-odds contributions; the last column is the expected value.
    ``num_threads``: LightGBM threads (0 = its default; the service passes its own count)."""
    return np.asarray(
        booster.predict(matrix, pred_contrib=True, num_threads=num_threads), dtype=np.float64
    )


def top_contributions(
    contrib: np.ndarray, features: Sequence[str], values: np.ndarray, top: int = TOP_N
) -> list[list[dict[str, Any]]]:
    """Per row, the ``top`` features with the largest |contribution|, largest first."""
    per_feature = contrib[:, :-1]
    order = np.argsort(-np.abs(per_feature), axis=1, kind="stable")[:, :top]
    out = []
    for r, idx in enumerate(order):
        row = []
        for j in idx:
            value = float(values[r, j])
            row.append(
                {
                    "feature": features[j],
                    "label": feature_label(features[j]),
                    "value": None if np.isnan(value) else value,
                    "contribution": float(per_feature[r, j]),
                }
            )
        out.append(row)
    return out
