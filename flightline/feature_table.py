"""The training feature table: every flight of ``fct_flights`` with its point-in-time features."""

from __future__ import annotations

import polars as pl

from flightline.features import (
    AGGREGATE_FEATURES,
    CALENDAR_FEATURES,
    CATEGORICAL_FEATURES,
    CATEGORICAL_SOURCES,
    FEATURE_COLUMNS,
    LABEL,
    SCHEDULE_FEATURES,
    Vocabulary,
    build_feature_state,
    build_vocabulary,
    flight_features,
)
from flightline.training import MONTH_COLUMN, training_table

# Features that exist for every historical flight: a null here means the feature code is broken.
# Weather and plane attributes may be missing in the source data (LightGBM handles NaN).
NOT_NULL_FEATURES: list[str] = [
    "flight_id",
    *CATEGORICAL_FEATURES,
    *CALENDAR_FEATURES,
    *SCHEDULE_FEATURES,
    *AGGREGATE_FEATURES,
]


def build_feature_table(
    flights: pl.DataFrame, planes: pl.DataFrame, vocabulary: Vocabulary | None = None
) -> tuple[pl.DataFrame, dict[str, list[str]]]:
    """(flight_id, FEATURE_COLUMNS, flags, flight_month, label) per flight, and the vocabulary."""
    vocab = dict(vocabulary) if vocabulary is not None else build_vocabulary(flights)
    state = build_feature_state(flights, planes)
    features = flight_features(flights, state, vocab)
    return training_table(flights, features), vocab


def vocabulary_frame(vocabulary: Vocabulary) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"source": src, "code": i, "value": v}
            for src, values in vocabulary.items()
            for i, v in enumerate(values)
        ],
        schema={"source": pl.String, "code": pl.Int32, "value": pl.String},
    )


def vocabulary_from_frame(df: pl.DataFrame) -> dict[str, list[str]]:
    ordered = df.sort("source", "code")
    return {
        src: ordered.filter(pl.col("source") == src)["value"].to_list()
        for src in CATEGORICAL_SOURCES.values()
    }


def null_counts(table: pl.DataFrame, columns: list[str] = NOT_NULL_FEATURES) -> dict[str, int]:
    counts = table.select(pl.col(c).null_count() for c in columns).row(0, named=True)
    return {c: n for c, n in counts.items() if n}


def point_in_time_mismatches(
    flights: pl.DataFrame,
    planes: pl.DataFrame,
    stored: pl.DataFrame,
    month: str,
    vocabulary: Vocabulary,
) -> dict[str, int]:
    """Recompute ``month``'s features from flights up to that month alone; count differing cells.

    Stored features were built from all history; if any later data leaked into them, the
    recomputation differs.
    """
    upto = flights.filter(pl.col(MONTH_COLUMN) <= month)
    recomputed, _ = build_feature_table(upto, planes, vocabulary)
    recomputed = recomputed.filter(pl.col(MONTH_COLUMN) == month).sort("flight_id")
    stored = stored.filter(pl.col(MONTH_COLUMN) == month).sort("flight_id")
    if recomputed.height != stored.height or not recomputed["flight_id"].equals(
        stored["flight_id"]
    ):
        return {"flight_id": abs(recomputed.height - stored.height) or stored.height}
    mismatches = {}
    for col in [*FEATURE_COLUMNS, LABEL]:
        a, b = stored[col].cast(pl.Float64), recomputed[col].cast(pl.Float64)
        same = (a == b) | (a.is_null() & b.is_null()) | ((a - b).abs() <= 1e-9)
        n = same.fill_null(False).not_().sum()
        if n:
            mismatches[col] = int(n)
    return mismatches


def recode_categoricals(
    table: pl.DataFrame, from_vocabulary: Vocabulary, to_vocabulary: Vocabulary
) -> pl.DataFrame:
    """Re-express the categorical codes of ``table`` in another model's vocabulary.

    A champion trained on other months knows other carriers and airports; values it never saw
    become null, as they would in serving.
    """
    exprs = []
    for name, src in CATEGORICAL_SOURCES.items():
        old, new = list(from_vocabulary[src]), list(to_vocabulary[src])
        if old != new:
            index = {v: i for i, v in enumerate(new)}
            exprs.append(
                pl.col(name).replace_strict(
                    list(range(len(old))),
                    [index.get(v) for v in old],
                    default=None,
                    return_dtype=pl.Int32,
                )
            )
    return table.with_columns(exprs) if exprs else table
