"""The codes of the categorical features: stored, extended without moving, and translated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from flightline.features import (
    CATEGORICAL_SOURCES,
    Vocabulary,
)


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


def extend_vocabulary(
    vocabulary: Vocabulary | None, values: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """Known codes keep their position; new values are appended in sorted order.

    Stored feature rows hold codes, so codes must never move while those rows are kept.
    """
    out = {}
    for src in CATEGORICAL_SOURCES.values():
        known = list((vocabulary or {}).get(src, []))
        seen = set(known)
        out[src] = known + sorted(v for v in set(values.get(src, [])) if v not in seen)
    return out
