"""Live performance of served or batch predictions, per model version, once outcomes are known."""

from __future__ import annotations

import polars as pl

from flightline.drift import live_performance

ALL_VERSIONS = "all versions"


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
