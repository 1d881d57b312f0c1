"""The validation gate: what a trained model must show before it may become the champion."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GateThresholds:
    auc_floor: float = 0.70  # minimum test AUC
    baseline_margin: float = 0.01  # test AUC must beat the best baseline by this much
    champion_tolerance: float = (
        0.005  # allowed AUC loss against the champion (bootstrap lower bound)
    )
    leakage_auc: float = 0.90  # a test AUC this high on this problem means leaked outcomes


@dataclass
class GateCheck:
    name: str
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def evaluate_gate(
    test_auc: float,
    baseline_aucs: dict[str, float],
    champion_diff_interval: tuple[float, float] | None,
    thresholds: GateThresholds,
) -> list[GateCheck]:
    """The four blocking checks on a candidate model, from its test-window figures.

    ``champion_diff_interval``: bootstrap interval of AUC(candidate) - AUC(champion) on the same
    test rows, or None when there is no champion yet.
    """
    best_name, best_auc = max(baseline_aucs.items(), key=lambda kv: kv[1])
    if champion_diff_interval is None:
        champion = GateCheck(
            "not_worse_than_champion",
            True,
            "no champion yet: nothing to compare",
            {"champion": None},
        )
    else:
        low, high = champion_diff_interval
        champion = GateCheck(
            "not_worse_than_champion",
            low >= -thresholds.champion_tolerance,
            f"bootstrap 95% interval of AUC(candidate) - AUC(champion) is [{low:.4f}, {high:.4f}]; "
            f"its lower bound must be >= -{thresholds.champion_tolerance}",
            {
                "auc_diff_low": low,
                "auc_diff_high": high,
                "tolerance": thresholds.champion_tolerance,
            },
        )
    return [
        GateCheck(
            "auc_above_floor",
            test_auc >= thresholds.auc_floor,
            f"test AUC {test_auc:.4f} >= floor {thresholds.auc_floor}",
            {"test_auc": test_auc, "floor": thresholds.auc_floor},
        ),
        GateCheck(
            "beats_baselines",
            test_auc >= best_auc + thresholds.baseline_margin,
            f"test AUC {test_auc:.4f} >= best baseline {best_name} {best_auc:.4f} + "
            f"{thresholds.baseline_margin}",
            {
                "test_auc": test_auc,
                "best_baseline": best_name,
                "best_baseline_auc": best_auc,
                "margin": thresholds.baseline_margin,
            },
        ),
        champion,
        GateCheck(
            "no_leakage_tripwire",
            test_auc < thresholds.leakage_auc,
            f"test AUC {test_auc:.4f} < {thresholds.leakage_auc}: higher would mean leaked outcomes",
            {"test_auc": test_auc, "tripwire": thresholds.leakage_auc},
        ),
    ]
