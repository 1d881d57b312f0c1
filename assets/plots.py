"""ROC and calibration for the UI: compact tables and small inline charts.

The Dagster UI has no image metadata. It renders a table inline, and markdown inline only when it
is under 1,000 characters; a PNG in markdown is far larger, so it hides behind "[Show Markdown]".
So the model's page shows each curve as a table of a few points and as an SVG chart small enough
to render inline (a data URI of a few hundred characters); the full PNG plots stay one click away.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

import dagster as dg
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from assets.metadata import DIGITS
from flightline.calibration import N_BINS, expected_calibration_error, reliability_curve

ROC_FPR = (0.05, 0.1, 0.2, 0.3, 0.5)  # the false positive rates the ROC table reports
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")  # matplotlib's first colours, as the PNGs
COLOR_NAMES = ("blue", "orange", "green", "red")
MARKDOWN_INLINE_LIMIT = 1_000  # the UI shows longer markdown behind "[Show Markdown]"


def _tpr_at(y: np.ndarray, p: np.ndarray, fprs: np.ndarray) -> np.ndarray:
    fpr, tpr, _ = roc_curve(y, p)
    return np.interp(fprs, fpr, tpr)


def roc_table(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> dg.MetadataValue:
    """True positive rate of each scorer at a few false positive rates, and its AUC."""
    fprs = np.array(ROC_FPR)
    tprs = {name: _tpr_at(y, p, fprs) for name, p in scores.items()}
    rows = [
        {"false positive rate": f"{f:.2f}", **{n: round(float(t[i]), 3) for n, t in tprs.items()}}
        for i, f in enumerate(ROC_FPR)
    ]
    rows.append(
        {
            "false positive rate": "AUC",
            **{n: round(float(roc_auc_score(y, p)), DIGITS) for n, p in scores.items()},
        }
    )
    return _table(rows, ["false positive rate", *scores], "true positive rate of each scorer")


def calibration_table(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> dg.MetadataValue:
    """Per bin of predicted probability (10 equal-width bins, as the ECE): flights, mean
    predicted and observed delay rate of each scorer; the last row gives each scorer's ECE."""
    curves = {name: {r["bin"]: r for r in reliability_curve(y, p)} for name, p in scores.items()}
    bins = [f"{b / N_BINS:.1f}-{(b + 1) / N_BINS:.1f}" for b in range(N_BINS)]
    columns = ["predicted bin"]
    for name in scores:
        columns += [f"{name}: flights", f"{name}: predicted", f"{name}: observed"]
    rows = []
    for b in bins:
        if not any(b in c for c in curves.values()):
            continue
        row: dict[str, object] = {"predicted bin": b}
        for name, curve in curves.items():
            r = curve.get(b)
            row[f"{name}: flights"] = r["n"] if r else 0
            row[f"{name}: predicted"] = round(r["mean_p"], 3) if r else None
            row[f"{name}: observed"] = round(r["observed"], 3) if r else None
        rows.append(row)
    ece = {"predicted bin": "ECE"}
    for name, p in scores.items():
        ece[f"{name}: observed"] = round(expected_calibration_error(y, p), DIGITS)
    rows.append(ece)
    return _table(rows, columns, "reliability: mean predicted vs observed delay rate per bin")


def _table(rows: list[dict], columns: list[str], what: str) -> dg.MetadataValue:
    def kind(name: str) -> str:
        values = [r.get(name) for r in rows if r.get(name) is not None]
        return "float" if values and all(isinstance(v, float | int) for v in values) else "string"

    return dg.MetadataValue.table(
        records=[dg.TableRecord({c: r.get(c) for c in columns}) for r in rows],
        schema=dg.TableSchema(
            columns=[dg.TableColumn(c, kind(c), description=what) for c in columns]
        ),
    )


def _svg_chart(lines: list[list[tuple[float, float]]], title: str, names: list[str]) -> str:
    """A 0..1 x 0..1 chart of polylines with a dotted diagonal, as markdown with a data URI."""
    size = 100
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='-2 -2 {size + 4} {size + 4}' "
        "width='220' height='220'>",
        f"<rect x='0' y='0' width='{size}' height='{size}' fill='white' stroke='#999'/>",
        f"<path d='M0 {size}L{size} 0' stroke='#999' stroke-dasharray='2'/>",
    ]
    for color, points in zip(COLORS, lines, strict=False):
        xy = " ".join(f"{x * size:.0f},{size - y * size:.0f}" for x, y in points)
        parts.append(f"<polyline fill='none' stroke='{color}' stroke-width='2' points='{xy}'/>")
    parts.append("</svg>")
    legend = ", ".join(f"{c}: {n}" for c, n in zip(COLOR_NAMES, names, strict=False))
    # <...> lets the data URI keep its spaces: each escaped one would cost two characters.
    uri = "data:image/svg+xml," + quote("".join(parts), safe=" ='/:,.-")
    return f"![{title}](<{uri}>)\n\n{legend}"


def roc_svg(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> dg.MetadataValue:
    """ROC curves (in the scorers' order: blue, orange, green) small enough to show inline."""
    grid = np.array([0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1])
    lines = [list(zip(grid, _tpr_at(y, p, grid), strict=True)) for p in scores.values()]
    return dg.MetadataValue.md(_svg_chart(lines, "ROC curve", list(scores)))


def calibration_svg(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> dg.MetadataValue:
    """Reliability curves (mean predicted vs observed per bin) small enough to show inline."""
    lines = [
        [(r["mean_p"], r["observed"]) for r in reliability_curve(y, p)] for p in scores.values()
    ]
    return dg.MetadataValue.md(_svg_chart(lines, "calibration curve", list(scores)))
