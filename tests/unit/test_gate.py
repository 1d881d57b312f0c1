"""flightline.gate: which checks block, and on what figures."""

from __future__ import annotations

from flightline.gate import (
    BLOCKING_CHECKS,
    GATE_CHECKS,
    GateInputs,
    GateThresholds,
    evaluate_gate,
    gate_passed,
)

GOOD = GateInputs(
    test_auc=0.69,
    test_ece=0.02,
    heldout_calibration_ece=0.015,
    baseline_aucs={"rate_baseline": 0.62, "logistic_baseline": 0.68},
    baseline_diff_interval=(0.004, 0.016),
    rate_baseline_ece=0.03,
    champion_diff_interval=None,
)


def by_name(inputs: GateInputs) -> dict:
    return {c.name: c for c in evaluate_gate(inputs, GateThresholds())}


def test_a_model_below_the_auc_floor_that_beats_the_baselines_passes_with_a_warning() -> None:
    checks = by_name(GOOD)
    assert list(checks) == GATE_CHECKS
    assert not checks["auc_above_floor"].passed and not checks["auc_above_floor"].blocking
    assert gate_passed(list(checks.values()))
    assert "auc_above_floor" not in BLOCKING_CHECKS


def test_a_model_clearly_worse_than_a_baseline_fails_and_a_tie_passes() -> None:
    worse = GateInputs(**{**GOOD.__dict__, "baseline_diff_interval": (-0.02, -0.001)})
    assert not by_name(worse)["beats_baselines"].passed
    tie = GateInputs(**{**GOOD.__dict__, "baseline_diff_interval": (-0.006, 0.004)})
    assert by_name(tie)["beats_baselines"].passed
    strict = evaluate_gate(tie, GateThresholds(baseline_margin=0.0))
    assert not {c.name: c for c in strict}["beats_baselines"].passed
    assert not gate_passed(strict)


def test_champion_tolerance_and_leakage_and_calibration_block() -> None:
    worse = GateInputs(**{**GOOD.__dict__, "champion_diff_interval": (-0.02, -0.001)})
    assert not by_name(worse)["not_worse_than_champion"].passed
    leaked = GateInputs(**{**GOOD.__dict__, "test_auc": 0.97})
    assert not by_name(leaked)["no_leakage_tripwire"].passed
    miscalibrated = GateInputs(**{**GOOD.__dict__, "heldout_calibration_ece": 0.09})
    assert not by_name(miscalibrated)["calibration_within_bounds"].passed
    # A test month whose delay rate jumps is reported, not judged: the calibration still works.
    jump = GateInputs(**{**GOOD.__dict__, "test_ece": 0.16, "rate_baseline_ece": 0.12})
    check = by_name(jump)["calibration_within_bounds"]
    assert check.passed and check.metadata["test_ece"] == 0.16
