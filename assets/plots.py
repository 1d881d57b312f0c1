"""Charts for the UI: ROC, calibration and drift as compact tables and small inline charts.

The Dagster UI has no image metadata. It renders a table inline, and markdown inline only when it
is under 1,000 characters; a PNG in markdown is far larger, so it hides behind "[Show Markdown]".
So the model's and the drift's pages show each curve as an SVG chart small enough to render
inline (a data URI of a few hundred characters); the full PNG plots stay one click away.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote

import dagster as dg
import numpy as np

from assets.metadata import DIGITS
from flightline.drift_plots import DriftingFeature
from flightline.metrics import expected_calibration_error, reliability_curve, roc_auc

ROC_FPR = (0.05, 0.1, 0.2, 0.3, 0.5)  # the false positive rates the ROC table reports
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")  # matplotlib's first colours, as the PNGs
COLOR_NAMES = ("blue", "orange", "green", "red")
MARKDOWN_INLINE_LIMIT = 1_000  # the UI shows longer markdown behind "[Show Markdown]"


def _tpr_at(y: np.ndarray, p: np.ndarray, fprs: np.ndarray) -> np.ndarray:
    from sklearn.metrics import roc_curve  # scikit-learn loads with a model, not the definitions

    fpr, tpr, _ = roc_curve(y, p)
    return np.interp(fprs, fpr, tpr)


def roc_table(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> dg.MetadataValue:
    """True positive rate of each scorer at a few false positive rates, and its AUC."""
    fprs = np.array(ROC_FPR)
    tprs = {name: _tpr_at(y, p, fprs) for name, p in scores.items()}
    # First words as column names ('LightGBM', 'logistic', 'rate'): the UI's value column is narrow.
    short = {n: n.split(" ")[0] for n in scores}
    rows = [
        {"FPR": f"{f:.2f}", **{short[n]: round(float(t[i]), 3) for n, t in tprs.items()}}
        for i, f in enumerate(ROC_FPR)
    ]
    rows.append(
        {
            "FPR": "AUC",
            **{short[n]: round(roc_auc(y, p), DIGITS) for n, p in scores.items()},
        }
    )
    return _table(rows, ["FPR", *short.values()], "true positive rate at that false positive rate")


def calibration_table(y: np.ndarray, p: np.ndarray) -> dg.MetadataValue:
    """Per non-empty bin of predicted probability (10 equal-width bins, as the ECE): flights,
    mean predicted and observed delay rate; the last row gives the ECE."""
    rows: list[dict[str, object]] = [
        {
            "bin": r["bin"],
            "flights": r["n"],
            "predicted": round(r["mean_p"], 3),
            "observed": round(r["observed"], 3),
        }
        for r in reliability_curve(y, p)
    ]
    rows.append({"bin": "ECE", "observed": round(expected_calibration_error(y, p), DIGITS)})
    columns = ["bin", "flights", "predicted", "observed"]
    return _table(rows, columns, "mean predicted probability vs observed delay rate per bin")


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


def _svg_chart(
    lines: list[list[tuple[float, float]]], title: str, names: list[str], diagonal: bool = True
) -> str:
    """A 0..1 x 0..1 chart of polylines (with a dotted diagonal), as markdown with a data URI."""
    size = 100
    parts = [
        # Round caps: a curve of one point (all predictions in one bin) still shows as a dot.
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='-2 -2 {size + 4} {size + 4}' "
        "width='220' height='220' stroke-linecap='round'>",
        f"<rect x='0' y='0' width='{size}' height='{size}' fill='white' stroke='#999'/>",
    ]
    if diagonal:
        parts.append(f"<path d='M0 {size}L{size} 0' stroke='#999' stroke-dasharray='2'/>")
    for color, points in zip(COLORS, lines, strict=False):
        points = points if len(points) > 1 else points * 2
        xy = " ".join(f"{x * size:.0f},{size - y * size:.0f}" for x, y in points)
        parts.append(f"<polyline fill='none' stroke='{color}' stroke-width='2' points='{xy}'/>")
    parts.append("</svg>")
    legend = "\n\n".join(f"{c}: {n}" for c, n in zip(COLOR_NAMES, names, strict=False))
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


def _scaled(values: Sequence[float], top: float) -> list[tuple[float, float]]:
    """Evenly spaced points with heights as shares of ``top``."""
    step = 1 / max(len(values) - 1, 1)
    return [(i * step, float(v) / top if top > 0 else 0.0) for i, v in enumerate(values)]


def distribution_svg(drifting: DriftingFeature, labels: tuple[str, str]) -> dg.MetadataValue:
    """Share of flights per bin of a drifting feature in the reference (blue) and current
    (orange) month, scaled to the larger share, small enough to show inline."""
    f = drifting
    if not f.bins:
        return dg.MetadataValue.md(f"**{f.feature}**, PSI {f.psi:.2f}: no values")
    top = max(float(np.max(f.reference)), float(np.max(f.current)))
    lines = [_scaled(f.reference, top), _scaled(f.current, top)]
    chart = _svg_chart(lines, f.feature, list(labels), diagonal=False)
    what = f"**{f.feature}**, PSI {f.psi:.2f}: share of flights per bin, {f.bins[0]} … {f.bins[-1]}"
    return dg.MetadataValue.md(f"{what}\n\n{chart}")


def psi_by_month_svg(
    months: Sequence[str], max_psi: Sequence[float], threshold: float
) -> dg.MetadataValue:
    """The largest PSI of each month (blue) against the drift threshold (orange)."""
    top = max([*max_psi, 2 * threshold])
    lines = [_scaled(max_psi, top), _scaled([threshold] * max(len(months), 2), top)]
    names = [f"largest PSI, {months[0]} … {months[-1]}", f"drift threshold {threshold}"]
    chart = _svg_chart(lines, "PSI by month", names, diagonal=False)
    return dg.MetadataValue.md(f"top of the chart: PSI {top:.2f}\n\n{chart}")
