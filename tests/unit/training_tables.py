"""Small synthetic feature tables for training tests (no files, no network)."""

from __future__ import annotations

import numpy as np
import polars as pl

from flightline.features import CATEGORICAL_FEATURES, LABEL, MODEL_FEATURES
from flightline.training_data import MONTH_COLUMN

FAST = {
    "num_boost_round": 40,
    "early_stopping_rounds": 10,
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
}
MONTHS = ["2013-01", "2013-02", "2013-03", "2013-04"]


def synthetic_table(n_per_month: int = 1500, seed: int = 0, months=MONTHS) -> pl.DataFrame:
    """MODEL_FEATURES filled with noise; the label depends on three of them."""
    rng = np.random.default_rng(seed)
    n = n_per_month * len(months)
    cols: dict[str, np.ndarray] = {}
    for c in MODEL_FEATURES:
        if c in CATEGORICAL_FEATURES:
            cols[c] = rng.integers(0, 8, n).astype(np.int32)
        else:
            cols[c] = rng.normal(size=n).astype(np.float32)
    cols["sched_dep_hour"] = rng.integers(5, 23, n).astype(np.int32)
    cols["day_of_year"] = rng.integers(1, 29, n).astype(np.int32)
    cols["state_stale_days"] = rng.integers(0, 31, n).astype(np.int32)
    logit = (
        1.5 * cols["precip"]
        + 0.15 * (cols["sched_dep_hour"] - 14)
        + 0.4 * (cols["carrier_cat"] == 3)
        - 1.0
    )
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pl.DataFrame(cols).with_columns(
        pl.Series("flight_id", [f"f{i}" for i in range(n)]),
        pl.Series(MONTH_COLUMN, np.repeat(months, n_per_month)),
        pl.Series(LABEL, y),
    )
