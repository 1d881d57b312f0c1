"""One implementation of each metric: AUC (ties, weights), Brier, ECE, the bootstrap interval."""

import itertools

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from flightline.metrics import _auc_from_groups, bootstrap_auc_diff, brier, evaluate, roc_auc


def brute_force_auc(y, p):
    pos = [s for s, t in zip(p, y, strict=True) if t]
    neg = [s for s, t in zip(p, y, strict=True) if not t]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auc_matches_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=300)
    p = np.round(rng.random(300), 1)  # many ties
    assert roc_auc(y, p) == pytest.approx(brute_force_auc(y, p))
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0


def test_evaluate_reports_the_usual_metrics() -> None:
    y = np.array([0, 0, 1, 1])
    m = evaluate(y, np.array([0.1, 0.4, 0.35, 0.8]))
    assert m["auc"] == pytest.approx(0.75)
    assert set(m) >= {"auc", "pr_auc", "log_loss", "brier"}
    assert m["brier"] == pytest.approx(np.mean((np.array([0.1, 0.4, 0.35, 0.8]) - y) ** 2))


def test_bootstrap_interval_is_sane() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    good = y * 0.6 + rng.random(3000)  # AUC ~0.8
    bad = y * 0.1 + rng.random(3000)  # AUC ~0.55
    low, high = bootstrap_auc_diff(y, good, bad, n=300, seed=1)
    diff = roc_auc_score(y, good) - roc_auc_score(y, bad)
    assert 0 < low < diff < high < 0.5
    low2, high2 = bootstrap_auc_diff(y, bad, good, n=300, seed=1)
    assert (low2, high2) == pytest.approx((-high, -low))
    same = bootstrap_auc_diff(y, good, good, n=50, seed=1)
    assert same == (0.0, 0.0)
    # The weighted rank AUC behind the bootstrap equals scikit-learn's, ties included.
    p = np.round(good, 1)
    _, inv = np.unique(p, return_inverse=True)
    fast = _auc_from_groups(inv, y.astype(float), np.ones(y.size), int(inv.max()) + 1)
    assert fast == pytest.approx(roc_auc_score(y, p))


def test_auc_is_none_without_both_classes_and_evaluate_refuses_it():
    assert roc_auc([1, 1], [0.2, 0.3]) is None and roc_auc([], []) is None
    with pytest.raises(ValueError, match="both outcomes"):
        evaluate(np.array([0, 0, 0]), np.array([0.1, 0.2, 0.3]))


def test_brier_is_the_mean_squared_error():
    assert brier([0, 1], [0.1, 0.6]) == pytest.approx((0.01 + 0.16) / 2)
