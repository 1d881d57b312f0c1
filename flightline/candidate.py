"""A candidate model: trained, calibrated, compared, gated and described by its card.

One plain function, :func:`train_candidate`, used by the ``delay_model`` asset and the plain-script
benchmark alike, so the card and the gate are assembled in one place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from flightline.calibration import Calibrator
from flightline.feature_table import TrainingWindow
from flightline.feature_vocabulary import recode_categoricals
from flightline.features import LABEL, Vocabulary, feature_matrix
from flightline.gate import GateCheck, GateInputs, GateThresholds, evaluate_gate, gate_passed
from flightline.metrics import bootstrap_auc_diff
from flightline.registry import MODEL_NAME, ModelRegistry, model_version
from flightline.training import TrainingResult, train_and_evaluate
from flightline.training_data import (
    DEFAULT_TRAIN_ROWS,
    SplitTables,
    labels,
    split_tables,
)


@dataclass(frozen=True)
class CandidateSettings:
    seed: int = 0
    threshold: float = 0.5  # probability at which a flight is reported as delayed
    train_rows: str = DEFAULT_TRAIN_ROWS
    bootstrap_samples: int = 200
    shuffle_labels: bool = False  # negative control: permuted labels must fail the gate
    thresholds: GateThresholds = field(default_factory=GateThresholds)
    params: dict[str, Any] | None = None


@dataclass
class Candidate:
    result: TrainingResult
    gate: list[GateCheck]
    card: dict[str, Any]
    model_text: str
    champion: str | None
    identical_to: str | None = None  # a registered version with the same model on the same data

    @property
    def version(self) -> str:
        return str(self.card["version"])

    @property
    def passed(self) -> bool:
        return gate_passed(self.gate)


def model_hash(model_text: str, calibration: dict[str, Any]) -> str:
    """What makes two models the same: the trees and the calibration."""
    payload = model_text + json.dumps(calibration, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def heldout_ece(report: dict[str, Any], metrics: dict[str, dict[str, float]]) -> float:
    """ECE of the chosen calibration on validation days it was not fitted on; the test month's
    when the validation month was too short to split."""
    chosen = report.get("chosen")
    if chosen in report and isinstance(report[chosen], dict):
        return float(report[chosen]["ece"])
    return float(metrics["model"]["ece"])


def champion_probabilities(
    registry: ModelRegistry, test: pl.DataFrame, vocabulary: Vocabulary
) -> tuple[str | None, np.ndarray | None]:
    """(champion version, its calibrated probabilities on ``test``), or (None, None)."""
    champion = registry.champion()
    if champion is None:
        return None, None
    card = registry.card(champion)
    rows = recode_categoricals(test, vocabulary, card["vocabulary"])
    booster = registry.booster(champion)
    raw = booster.predict(feature_matrix(rows, booster.feature_name()))
    return champion, Calibrator.from_json(card.get("calibration")).apply(raw)


def train_candidate(
    window: TrainingWindow,
    registry: ModelRegistry,
    settings: CandidateSettings,
    *,
    provenance: dict[str, Any] | None = None,
    log: Any = None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> Candidate:
    """Train on ``window``'s split, gate the model against the baselines and the champion, write
    its card.

    ``window``: feature rows (with ``flight_month`` and the label) of the split's months,
    day-before and as served, and the first month of all history (see :func:`split_tables`).
    ``provenance``: more card fields (run id, data versions, the online snapshot). ``clock``: the training time written on the card. Nothing is saved.
    """
    split, vocabulary, first_month = window.split, window.vocabulary, window.first_month
    day_before, served = window.day_before, window.served
    if settings.shuffle_labels:
        day_before = day_before.with_columns(pl.col(LABEL).shuffle(seed=settings.seed))
        served = served.with_columns(pl.col(LABEL).shuffle(seed=settings.seed))
    tables = split_tables(day_before, served, split, settings.train_rows, first_month)
    result = train_and_evaluate(
        tables, settings.params, settings.seed, train_rows=settings.train_rows, log=log
    )
    metrics = result.metrics
    y = labels(tables.test)
    p_model = result.test_predictions["p_model"].to_numpy()
    baselines = {k: metrics[k]["auc"] for k in ("rate_baseline", "logistic_baseline")}
    best = max(baselines, key=baselines.__getitem__)
    best_column = {"rate_baseline": "p_rate_baseline", "logistic_baseline": "p_logistic"}[best]
    n, seed = settings.bootstrap_samples, settings.seed
    baseline_interval = bootstrap_auc_diff(
        y, p_model, result.test_predictions[best_column].to_numpy(), n=n, seed=seed
    )
    champion, p_champion = champion_probabilities(registry, tables.test, vocabulary)
    champion_interval = (
        bootstrap_auc_diff(y, p_model, p_champion, n=n, seed=seed) if champion else None
    )
    gate = evaluate_gate(
        GateInputs(
            test_auc=metrics["model"]["auc"],
            test_ece=metrics["model"]["ece"],
            heldout_calibration_ece=heldout_ece(result.calibration_report, metrics),
            baseline_aucs=baselines,
            baseline_diff_interval=baseline_interval,
            rate_baseline_ece=metrics["rate_baseline"]["ece"],
            champion_diff_interval=champion_interval,
        ),
        settings.thresholds,
    )
    model_text = result.booster.model_to_string()
    fingerprint = model_hash(model_text, result.calibrator.to_json())
    window = {
        "train_months": list(split.train),
        "valid_month": split.valid,
        "test_month": split.test,
        "first_month": first_month,
    }
    identical = registry.find_model(fingerprint, window)
    trained_at = clock()
    card = model_card(
        result,
        tables,
        gate,
        settings,
        version=identical or model_version(model_text, trained_at),
        model_hash=fingerprint,
        trained_at=trained_at,
        vocabulary=vocabulary,
        data_window=window,
        champion=champion,
        intervals={"champion": champion_interval, "best_baseline": baseline_interval},
        provenance=provenance,
    )
    return Candidate(result, gate, card, model_text, champion, identical)


def model_card(
    result: TrainingResult,
    tables: SplitTables,
    gate: list[GateCheck],
    settings: CandidateSettings,
    *,
    version: str,
    model_hash: str,
    trained_at: dt.datetime,
    vocabulary: Vocabulary,
    data_window: dict[str, Any],
    champion: str | None,
    intervals: dict[str, tuple[float, float] | None],
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The model card (JSON-ready): identity, data window, row counts, the gate's verdict and
    the figures behind it, provenance, then the training result's own fields."""
    return {
        "model_name": MODEL_NAME,
        "version": version,
        "model_hash": model_hash,
        "trained_at": trained_at.isoformat(timespec="seconds"),
        "label": "is_delayed: arrival 15+ minutes late (cancelled and diverted flights excluded)",
        "threshold": settings.threshold,
        "vocabulary": vocabulary,
        "data_window": data_window,
        "rows": {
            "train": tables.train.height,
            "valid": tables.valid.height,
            "test": tables.test.height,
        },
        "champion_at_training": champion,
        "champion_auc_diff_interval": intervals["champion"],
        "best_baseline_auc_diff_interval": intervals["best_baseline"],
        "gate": {
            "passed": gate_passed(gate),
            **{c.name: c.passed for c in gate},
            "warnings": [c.name for c in gate if not c.blocking and not c.passed],
        },
        "shuffled_labels": settings.shuffle_labels,
        "lightgbm_version": package_version("lightgbm"),
        **(provenance or {}),
        **result.card(),
    }


def save_candidate(
    registry: ModelRegistry, candidate: Candidate, snapshot: str | Path | None
) -> Path:
    """The candidate's version folder: written with its online snapshot, unless an identical
    model is saved already (then that version's folder, untouched)."""
    if candidate.identical_to:
        return registry.version_dir(candidate.identical_to)
    folder = registry.save_version(
        candidate.version, candidate.model_text, candidate.card, candidate.result.test_predictions
    )
    if snapshot:
        shutil.copytree(snapshot, folder / "online_features", dirs_exist_ok=True)
    return folder
