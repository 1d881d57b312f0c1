"""A candidate model: its card and gate, assembled by one plain function (real registry files)."""

from __future__ import annotations

import datetime as dt

import pytest

from flightline.candidate import CandidateSettings, save_candidate, train_candidate
from flightline.feature_table import TrainingWindow
from flightline.gate import GATE_CHECKS
from flightline.registry import MODEL_NAME, ModelRegistry
from flightline.training_data import month_split
from tests.unit.training_tables import FAST, MONTHS, synthetic_table

TRAINED_AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
VOCABULARY = {
    src: [f"{src[:1].upper()}{i}" for i in range(8)] for src in ("carrier", "origin", "dest")
}


def clock() -> dt.datetime:
    return TRAINED_AT


@pytest.fixture(scope="module")
def window() -> TrainingWindow:
    table = synthetic_table(800)
    return TrainingWindow(month_split(MONTHS), table, table, MONTHS[0], VOCABULARY)


def settings(**overrides) -> CandidateSettings:
    return CandidateSettings(params=FAST, bootstrap_samples=30, **overrides)


def test_the_card_describes_the_model_its_data_and_the_gate(window, tmp_path) -> None:
    registry = ModelRegistry(tmp_path)
    candidate = train_candidate(
        window, registry, settings(threshold=0.4), provenance={"dagster_run_id": "r1"}, clock=clock
    )
    card = candidate.card
    assert card["model_name"] == MODEL_NAME and card["version"] == candidate.version
    assert card["version"].startswith("20260102T030405")
    assert card["trained_at"] == "2026-01-02T03:04:05+00:00" and card["threshold"] == 0.4
    assert card["data_window"] == {
        "train_months": ["2013-01", "2013-02"],
        "valid_month": "2013-03",
        "test_month": "2013-04",
        "first_month": "2013-01",
    }
    # The first month's as-served rows are not fit on: only its day-before rows are.
    assert card["rows"] == {"train": 800 * 2 + 800, "valid": 800, "test": 800}
    assert set(card["gate"]) == {"passed", "warnings", *GATE_CHECKS}
    assert card["gate"]["passed"] == candidate.passed
    assert [c.name for c in candidate.gate] == GATE_CHECKS
    assert card["champion_at_training"] is None and card["champion_auc_diff_interval"] is None
    low, high = card["best_baseline_auc_diff_interval"]
    assert low <= high
    assert card["vocabulary"] == VOCABULARY and card["dagster_run_id"] == "r1"
    assert card["metrics"]["model"]["auc"] == candidate.result.metrics["model"]["auc"]


def test_a_real_signal_beats_the_baselines_and_shuffled_labels_do_not(window, tmp_path) -> None:
    registry = ModelRegistry(tmp_path)
    real = train_candidate(window, registry, settings(), clock=clock)
    shuffled = train_candidate(window, registry, settings(shuffle_labels=True), clock=clock)
    assert real.card["gate"]["beats_baselines"] is True
    assert shuffled.card["gate"]["beats_baselines"] is False
    assert not shuffled.passed and shuffled.card["gate"]["passed"] is False
    assert shuffled.card["shuffled_labels"] is True
    # A failed non-blocking check is a warning, not a failure of the gate.
    assert shuffled.card["gate"]["warnings"] == ["auc_above_floor"]


def test_the_same_model_on_the_same_data_is_recognised_not_saved_twice(window, tmp_path) -> None:
    registry = ModelRegistry(tmp_path)
    first = train_candidate(window, registry, settings(), clock=clock)
    folder = save_candidate(registry, first, None)
    assert registry.card(first.version)["model_hash"] == first.card["model_hash"]
    later = train_candidate(
        window, registry, settings(), clock=lambda: TRAINED_AT + dt.timedelta(days=1)
    )
    assert later.identical_to == first.version and later.version == first.version
    assert save_candidate(registry, later, None) == folder
    # A champion is compared on the same rows: against itself the interval straddles zero.
    registry.register_and_promote(first.version, {}, "run")
    against = train_candidate(window, registry, settings(), clock=clock)
    low, high = against.card["champion_auc_diff_interval"]
    assert against.champion == first.version and low <= 0 <= high
