"""Live performance per model version."""

import numpy as np
import polars as pl
import pytest

from flightline.live_metrics import ALL_VERSIONS, live_performance, performance_by_version


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


def test_live_performance():
    out = live_performance([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert out["n"] == 4
    assert out["auc"] == pytest.approx(0.75)
    assert out["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert out["mean_predicted"] == pytest.approx(0.4125)
    assert out["observed_rate"] == 0.5
    assert out["calibration_in_the_large"] == pytest.approx(0.4125 - 0.5)
    # One class only: no AUC, the rest still reported; missing pairs skipped.
    one = live_performance(np.array([True, True, np.nan]), np.array([0.9, 0.7, 0.5]))
    assert one["auc"] is None and one["n"] == 2 and one["observed_rate"] == 1.0
    assert one["brier"] == pytest.approx((0.01 + 0.09) / 2)
    assert live_performance([], [])["n"] == 0 and live_performance([], [])["brier"] is None
    for y, p, message in [
        ([0, 1], [0.5], "2 outcomes but 1 predictions"),
        ([0, 2], [0.5, 0.5], "0/1"),
        ([0, 1], [0.5, 1.5], "probabilities"),
    ]:
        with pytest.raises(ValueError, match=message):
            live_performance(y, p)
