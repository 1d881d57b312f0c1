"""The serving benchmark's rows that compare the no-work BentoML services with the Starlette
floor, and the bento with them."""

from __future__ import annotations

from bench.serving_rows import CONCURRENCY, _bentoml_floor


def _run(requests: int, wall_s: float, cpu_s: float) -> dict:
    return {
        "latencies_ms": [1.0] * requests,
        "wall_s": wall_s,
        "errors": 0,
        "cpu_s": cpu_s,
        "cpu_requests": requests,
    }


def test_rows_compare_bentoml_with_the_floor_and_the_bento_with_the_plain_route():
    m = {
        "floor": {c: _run(1000, 0.25, 0.2) for c in CONCURRENCY},  # 4,000 req/s, 0.2 ms
        "bentoml_floor": {
            "api": {c: _run(1000, 1.0, 1.0) for c in CONCURRENCY},  # 1,000 req/s, 1 ms
            "plain": {c: _run(1000, 0.5, 0.5) for c in CONCURRENCY},  # 2,000 req/s, 0.5 ms
        },
        "served": {c: _run(1000, 2.0, 1.5) for c in CONCURRENCY},  # 500 req/s, 1.5 ms
    }
    rows: list[dict] = []
    _bentoml_floor(rows, m)
    by_name = {r["name"]: r for r in rows}
    assert by_name["BentoML no-work (@bentoml.api) req/s c=8"]["ratio"] == 0.25
    assert by_name["BentoML no-work (plain route) req/s c=8"]["ratio"] == 0.5
    assert by_name["BentoML no-work (plain route) CPU per request c=8"]["ratio"] == 2.5
    assert by_name["served req/s / BentoML no-work c=8"]["ratio"] == 0.25
    assert by_name["server CPU per request / BentoML no-work c=8"]["ratio"] == 3.0
