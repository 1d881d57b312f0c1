"""The serving benchmark's table: one row per figure, each with its baseline from the same run."""

from __future__ import annotations

import statistics
from typing import Any

from bench.serving_inprocess import pct

BATCH_SIZE = 1_000
CONCURRENCY = (1, 8, 32)
# Targets: one flight in process <= 1 ms p50 and <= 30x bare LightGBM; served at c=8
# p99 <= 25 ms and >= 50% of the no-work floor's req/s; 1,000-flight requests >= 80% of in-process
# throughput; soak: no errors, worker RSS growth < 10%.
SINGLE_P50_MS, SINGLE_VS_BARE = 1.0, 30.0
P99_TARGET_MS, FLOOR_RATIO_TARGET = 25.0, 0.5
BATCH_RATIO_TARGET = 0.8
RSS_GROWTH_TARGET = 1.10


def row(
    name: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    target: float | None = None,
    note: str = "",
    ratio_target: bool = False,
    lower_is_better: bool | None = None,
) -> dict:
    """One figure. ``ratio_target``: the target bounds value / baseline (from below unless
    ``lower_is_better``); else it bounds the value (ms from above, others from below)."""
    ratio = value / baseline if baseline else None
    lower = lower_is_better if lower_is_better is not None else (unit == "ms" and not ratio_target)
    if target is None:
        met = True
    else:
        x = ratio if ratio_target else value
        met = x is not None and (x <= target if lower else x >= target)
    text = None
    if target is not None:
        text = f"{'<=' if lower else '>='} {target:g}{'x' if ratio_target else ''}"
    return {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, 3),
        "ratio": None if ratio is None else round(ratio, 3),
        "target": target,
        "target_text": text,  # e.g. "<= 25" (the value) or ">= 0.5x" (the ratio)
        "met": met,
        "note": note,
    }


def _rps(r: dict) -> float:
    return len(r["latencies_ms"]) / r["wall_s"]


def _cpu_ms(r: dict) -> float:
    """Server CPU per request (ms): its process tree's CPU over the run / requests sent."""
    return 1000 * r["cpu_s"] / r["cpu_requests"]


# The no-work BentoML services (bench/bentoml_floor.py): how each answers POST /predict.
BENTOML_FLOOR_KINDS = {"api": "@bentoml.api", "plain": "plain route"}


def _bentoml_floor(rows: list[dict], m: dict[str, Any]) -> None:
    """BentoML's no-work services against the Starlette floor, and the bento against them."""
    floor, served, nowork = m["floor"], m["served"], m["bentoml_floor"]
    for kind, how in BENTOML_FLOOR_KINDS.items():
        for c in CONCURRENCY:
            r = nowork[kind][c]
            lat = r["latencies_ms"]
            rows.append(
                row(
                    f"BentoML no-work ({how}) req/s c={c}",
                    _rps(r),
                    "req/s",
                    baseline=_rps(floor[c]),
                    note=f"baseline: the Starlette floor; p50 {pct(lat, 50):.2f} ms, "
                    f"p99 {pct(lat, 99):.2f} ms, {r['errors']} errors",
                )
            )
        for c in CONCURRENCY:
            rows.append(
                row(
                    f"BentoML no-work ({how}) CPU per request c={c}",
                    _cpu_ms(nowork[kind][c]),
                    "ms",
                    baseline=_cpu_ms(floor[c]),
                    note="baseline: the Starlette floor's",
                )
            )
    plain = nowork["plain"]
    for c in CONCURRENCY:
        rows += [
            row(
                f"served req/s / BentoML no-work c={c}",
                _rps(served[c]),
                "req/s",
                baseline=_rps(plain[c]),
                note="baseline: the no-work plain route (the bento's single flights take it)",
            ),
            row(
                f"server CPU per request / BentoML no-work c={c}",
                _cpu_ms(served[c]),
                "ms",
                baseline=_cpu_ms(plain[c]),
                note="baseline: the no-work plain route's",
            ),
        ]


def _served(rows: list[dict], label: str, runs: dict, floor: dict | None, base: dict | None):
    for c in CONCURRENCY:
        r = runs[c]
        lat = r["latencies_ms"]
        note = f"{len(lat)} requests after warm-up, {r['errors']} errors"
        rows.append(row(f"{label} single p50 c={c}", pct(lat, 50), "ms", note=note))
        target = P99_TARGET_MS if c == 8 and label == "served" else None
        ref = pct(base[c]["latencies_ms"], 99) if base else None
        rows.append(
            row(f"{label} single p99 c={c}", pct(lat, 99), "ms", baseline=ref, target=target)
        )
        ref_rps = _rps(floor[c]) if floor else (_rps(base[c]) if base else None)
        rows.append(
            row(
                f"{label} single req/s c={c}",
                _rps(r),
                "req/s",
                baseline=ref_rps,
                target=FLOOR_RATIO_TARGET if c == 8 and floor else None,
                ratio_target=True,
                note="baseline: the no-work floor" if floor else "baseline: the bento's own queue",
            )
        )


def build_rows(m: dict[str, Any]) -> list[dict]:
    """The table from the measurements of :func:`bench.serving.run_serving_benchmark`."""
    local = m["local"]
    bare = pct(local["bare"], 50)
    one = local["single"]
    rows = [
        row("bare LightGBM predict, one row, p50", bare, "ms", note="booster.predict, 1 thread"),
        row(
            "in-process single p50 (fast path)",
            pct(one, 50),
            "ms",
            target=SINGLE_P50_MS,
            note=f"score_requests of one flight, {len(one)} requests",
        ),
        row(
            "in-process single p50 / bare LightGBM",
            pct(one, 50),
            "ms",
            baseline=bare,
            target=SINGLE_VS_BARE,
            ratio_target=True,
            lower_is_better=True,
        ),
        row("in-process single p99 (fast path)", pct(one, 99), "ms"),
        row(
            "in-process past-day single p50 (fast path)",
            pct(local["past_single"], 50),
            "ms",
            note="days before the as-of day, within the snapshot's horizon",
        ),
        row(
            "in-process single p50, general path",
            pct(local["general_single"], 50),
            "ms",
            baseline=pct(one, 50),
            note="score_request_batch (Polars, as-of memo); ratio: x the fast path",
        ),
        row(
            "in-process past-day single p50, general path",
            pct(local["general_past"], 50),
            "ms",
            baseline=pct(local["past_single"], 50),
            note="per-request windows; ratio: x the fast path",
        ),
    ]
    for kind, plain in (("single", one), ("batch", local["batch"])):
        explained = local[f"explain_{kind}"]
        rows.append(
            row(
                f'in-process {kind} with "explain": true, p50',
                pct(explained, 50),
                "ms",
                baseline=pct(plain, 50),
                note="ratio: x the same without",
            )
        )
    floor, served = m["floor"], m["served"]
    for c in CONCURRENCY:
        lat = floor[c]["latencies_ms"]
        rows.append(
            row(
                f"no-work floor req/s c={c}",
                _rps(floor[c]),
                "req/s",
                note=f"Starlette/uvicorn, same client; p50 {pct(lat, 50):.2f} ms, "
                f"p99 {pct(lat, 99):.2f} ms, {floor[c]['errors']} errors",
            )
        )
    _served(rows, "served", served, floor, None)
    for c in CONCURRENCY:
        rows.append(
            row(
                f"server CPU per request c={c}",
                _cpu_ms(served[c]),
                "ms",
                baseline=_cpu_ms(floor[c]),
                note="CPU of the bento's processes / requests; baseline: the no-work floor's",
            )
        )
    if "bentoml_floor" in m:
        _bentoml_floor(rows, m)
    if "adaptive" in m:
        _served(rows, "adaptive batching", m["adaptive"], None, served)
        for c in CONCURRENCY:
            rows.append(
                row(
                    f"adaptive batching CPU per request c={c}",
                    _cpu_ms(m["adaptive"][c]),
                    "ms",
                    baseline=_cpu_ms(served[c]),
                    note="baseline: the bento's own queue",
                )
            )
    local_fps = BATCH_SIZE * 1000 / statistics.mean(local["batch"])
    general_fps = BATCH_SIZE * 1000 / statistics.mean(local["general_batch"])
    b = served["batch"]
    rows += [
        row(
            "in-process batch flights/s (fast path)",
            local_fps,
            "flights/s",
            baseline=general_fps,
            note=f"{BATCH_SIZE}-flight requests; baseline: the general path",
        ),
        row(
            "served batch flights/s",
            BATCH_SIZE * len(b["latencies_ms"]) / b["wall_s"],
            "flights/s",
            baseline=local_fps,
            target=BATCH_RATIO_TARGET,
            ratio_target=True,
            note=f"{BATCH_SIZE}-flight requests, c=1, {len(b['latencies_ms'])} requests, "
            f"{b['errors']} errors",
        ),
        row(
            "served batch p50",
            pct(b["latencies_ms"], 50),
            "ms",
            baseline=statistics.median(local["batch"]),
        ),
    ]
    notes = {
        "parse": "service step outside scoring: JSON bytes to flights, serving_request",
        "validate": "pydantic (bodies that are not plainly valid), for comparison",
    }
    for step in ("parse", "validate", "log", "respond"):
        for label in ("single", "batch"):
            rows.append(
                row(
                    f"in-process {step} {label} p50",
                    pct(local[f"{step}_{label}"], 50),
                    "ms",
                    note=notes.get(step, "service step outside scoring"),
                )
            )
    if "soak" in m:
        s = m["soak"]
        lat = s["latencies_ms"]
        note = (
            f"{m['soak_rate']} req/s open loop for {s['wall_s']:.0f} s ({s['sent']} sent); "
            f"p99 per {s['window_s']:.0f} s: {s['p99_windows']}"
        )
        rows += [
            row("soak errors", s["errors"], "count", target=0, lower_is_better=True, note=note),
            row(
                "soak requests not sent (64 in flight)",
                s["skipped"],
                "count",
                note="the server fell behind the schedule: the rate was above what it sustained",
            ),
            row("soak p99", pct(lat, 99), "ms", note=f"p50 {pct(lat, 50):.2f} ms"),
            row(
                "soak worker RSS end / start",
                s["rss_end"] / 2**20,
                "MiB",
                baseline=s["rss_start"] / 2**20,
                target=RSS_GROWTH_TARGET,
                ratio_target=True,
                lower_is_better=True,
                note="sum of the workers' resident memory",
            ),
        ]
    rows += [
        row(
            "model load with fast-path arrays",
            local["load_s"] * 1000,
            "ms",
            baseline=local["load_general_s"] * 1000,
            note="baseline: without the arrays",
        ),
        row(
            "server ready",
            m["ready_s"] * 1000,
            "ms",
            note=f"{m['bento_tag']}, {m['workers']} workers; payloads: {m['how']}{m['built']}",
        ),
    ]
    return rows


def format_table(rows: list[dict]) -> str:
    head = (
        f"{'name':46s} {'value':>10s} {'unit':9s} {'baseline':>10s} {'ratio':>7s} "
        f"{'target':>8s} {'met':>4s}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        fmt = lambda v: "" if v is None else f"{v:g}"  # noqa: E731
        lines.append(
            f"{r['name']:46s} {r['value']:10.3f} {r['unit']:9s} {fmt(r['baseline']):>10s} "
            f"{fmt(r['ratio']):>7s} {r['target_text'] or '':>8s} {'yes' if r['met'] else 'NO':>4s}"
        )
    notes = [f"  {r['name']}: {r['note']}" for r in rows if r["note"]]
    return "\n".join([*lines, "", "notes:", *notes])
