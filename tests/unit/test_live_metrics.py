"""Live performance per model version."""

import polars as pl
import pytest

from flightline.drift import live_performance
from flightline.live_metrics import ALL_VERSIONS, performance_by_version


def test_each_version_is_measured_on_its_own_rows_and_all_together():
    scored = pl.DataFrame(
        {
            "model_version": ["a"] * 4 + ["b"] * 4 + ["a"],
            "is_delayed": [True, False, True, False, True, False, False, True, None],
            "delay_probability": [0.9, 0.1, 0.8, 0.2, 0.2, 0.9, 0.1, 0.3, 0.5],
        }
    )
    rows = {r["model_version"]: r for r in performance_by_version(scored)}
    assert list(rows) == ["a", "b", ALL_VERSIONS]
    assert rows["a"]["n"] == 4 and rows["a"]["auc"] == 1.0  # the unlabelled row is left out
    assert rows["b"]["auc"] == pytest.approx(0.5)
    pooled = live_performance([1, 0, 1, 0, 1, 0, 0, 1], [0.9, 0.1, 0.8, 0.2, 0.2, 0.9, 0.1, 0.3])
    assert rows[ALL_VERSIONS]["auc"] == pytest.approx(pooled["auc"])
    assert rows[ALL_VERSIONS]["n"] == 8


def test_one_version_has_no_pooled_row_and_nothing_gives_an_empty_row():
    one = pl.DataFrame(
        {"model_version": ["a", "a"], "is_delayed": [True, False], "delay_probability": [0.6, 0.4]}
    )
    assert [r["model_version"] for r in performance_by_version(one)] == ["a"]
    (empty,) = performance_by_version(one.clear())
    assert empty["model_version"] == ALL_VERSIONS and empty["n"] == 0 and empty["auc"] is None
