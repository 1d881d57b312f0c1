"""The baselines every model must beat: a smoothed historical rate and a logistic regression."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from flightline.features import (
    CATEGORICAL_FEATURES,
    FEATURE_COLUMNS,
    LABEL,
    feature_matrix,
)
from flightline.training_data import labels

if TYPE_CHECKING:  # scikit-learn loads when a baseline is fitted (flightline/__init__.py says why)
    from sklearn.pipeline import Pipeline


def rate_baseline(
    train: pl.DataFrame,
    test: pl.DataFrame,
    keys: Sequence[str] = ("carrier_cat", "sched_dep_hour"),
    weight: float = 50.0,
) -> np.ndarray:
    """Historical delay rate per carrier x scheduled hour over the training rows, smoothed."""
    prior = float(train.get_column(LABEL).cast(pl.Float64).mean())
    rates = train.group_by(list(keys)).agg(
        ((pl.col(LABEL).cast(pl.Float64).sum() + weight * prior) / (pl.len() + weight)).alias("__p")
    )
    scored = test.select(list(keys)).join(rates, on=list(keys), how="left", maintain_order="left")
    return scored.get_column("__p").fill_null(prior).to_numpy()


# A logistic regression on this many rows scores as one on all of them: over the last four
# months of the year (each trained on the months before) the test AUC of a 50,000-row sample was
# within 0.0013 of a 100,000-row one (mean +0.0001), in 40% of the fit time (BENCHMARKS.md).
LOGISTIC_SAMPLE_ROWS = 50_000


def fit_logistic(
    train: pl.DataFrame,
    features: Sequence[str] = FEATURE_COLUMNS,
    sample_rows: int = LOGISTIC_SAMPLE_ROWS,
) -> Pipeline:
    """Logistic regression: one-hot categoricals, median-imputed (with indicators) scaled numbers,
    fitted on a fixed random sample of at most ``sample_rows`` training rows."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cat_idx = [i for i, c in enumerate(features) if c in CATEGORICAL_FEATURES]
    num_idx = [i for i, c in enumerate(features) if c not in CATEGORICAL_FEATURES]
    prep = ColumnTransformer(
        [
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1),
                    OneHotEncoder(handle_unknown="ignore", min_frequency=20),
                ),
                cat_idx,
            ),
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                num_idx,
            ),
        ]
    )
    # Newton steps converge in a handful of iterations on many rows and few columns (~6x faster
    # than lbfgs here, same test AUC to 3 decimals).
    model = make_pipeline(prep, LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=100))
    if train.height > sample_rows:
        train = train.sample(n=sample_rows, seed=0)
    model.fit(feature_matrix(train, features), labels(train))
    return model


def predict_logistic(
    model: Pipeline, df: pl.DataFrame, features: Sequence[str] = FEATURE_COLUMNS
) -> np.ndarray:
    return model.predict_proba(feature_matrix(df, features))[:, 1]
