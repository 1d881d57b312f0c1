"""flightline.calibration: Platt and isotonic calibrators, ECE, and the choice between them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flightline.calibration import Calibrator, choose_calibrator, fit_isotonic, fit_platt
from flightline.metrics import expected_calibration_error, reliability_curve


def overconfident(n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True probabilities q; a model that reports them pushed to the extremes and too low."""
    rng = np.random.default_rng(seed)
    q = rng.beta(2, 5, n)
    y = (rng.random(n) < q).astype(np.int8)
    logit = np.log(q / (1 - q))
    p = 1 / (1 + np.exp(-(2.0 * logit - 0.7)))
    days = np.repeat(np.arange(28), n // 28 + 1)[:n]
    return p, y, days


def test_ece_is_zero_for_perfect_calibration_and_large_for_a_shift() -> None:
    p = np.repeat([0.05, 0.25, 0.55, 0.95], 1000)
    y = np.concatenate([np.arange(1000) < k for k in (50, 250, 550, 950)]).astype(int)
    assert expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-12)
    assert expected_calibration_error(y, p - 0.04) == pytest.approx(0.04)
    curve = reliability_curve(y, p)
    assert [r["n"] for r in curve] == [1000] * 4 and curve[1]["observed"] == pytest.approx(0.25)


@pytest.mark.parametrize("fit", [fit_platt, fit_isotonic])
def test_calibration_reduces_ece_on_held_out_rows(fit) -> None:
    p, y, _ = overconfident(seed=0)
    p2, y2, _ = overconfident(seed=1)
    calibrator = fit(p, y)
    before = expected_calibration_error(y2, p2)
    after = expected_calibration_error(y2, calibrator.apply(p2))
    assert before > 0.05 and after < 0.02


def test_platt_keeps_the_ranking_and_round_trips_through_json() -> None:
    p, y, _ = overconfident()
    for calibrator in (fit_platt(p, y), fit_isotonic(p, y)):
        again = Calibrator.from_json(json.loads(json.dumps(calibrator.to_json())))
        assert np.array_equal(again.apply(p), calibrator.apply(p))
    platt = fit_platt(p, y)
    order = np.argsort(p)
    assert np.all(np.diff(platt.apply(p)[order]) >= 0)
    assert Calibrator.from_json(None).apply(p) is not None
    with pytest.raises(ValueError, match="unknown calibration"):
        Calibrator.from_json({"method": "magic"})


def test_choose_calibrator_compares_on_later_days_and_reports() -> None:
    p, y, days = overconfident()
    calibrator, report = choose_calibrator(p, y, days)
    assert report["chosen"] == calibrator.method in ("platt", "isotonic")
    assert report[calibrator.method]["brier"] <= report["none"]["brier"]
    assert report[calibrator.method]["ece"] < report["none"]["ece"]
