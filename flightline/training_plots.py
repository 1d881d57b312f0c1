"""PNG charts of a training run: ROC curves and the reliability diagram."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from flightline.figures import new_figure, png_bytes
from flightline.metrics import expected_calibration_error, reliability_curve, roc_auc


def roc_plot_png(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> bytes:
    """ROC curves of several scorers on the same rows, as PNG bytes."""
    from sklearn.metrics import roc_curve

    fig = new_figure(figsize=(5, 5))
    ax = fig.add_subplot()
    for name, p in scores.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc(y, p):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test month")
    ax.legend(loc="lower right", fontsize=8)
    return png_bytes(fig)


def calibration_plot_png(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> bytes:
    """Reliability diagram (10 equal-width bins, as the ECE) of several scorers, as PNG bytes."""
    fig = new_figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    for name, p in scores.items():
        curve = reliability_curve(y, p)
        ece = expected_calibration_error(y, p)
        ax.plot(
            [r["mean_p"] for r in curve],
            [r["observed"] for r in curve],
            marker="o",
            label=f"{name} (ECE {ece:.3f})",
        )
    ax.set(xlabel="mean predicted probability", ylabel="observed delay rate", title="Calibration")
    ax.legend(loc="upper left", fontsize=8)
    return png_bytes(fig)
