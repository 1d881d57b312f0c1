"""How good the served model is on a month it never saw, through real HTTP.

    FLIGHTLINE_HOME=/tmp/fl uv run flightline run --from 2013-01 --to 2013-11
    FLIGHTLINE_HOME=/tmp/fl uv run flightline land --from 2013-12 --to 2013-12
    FLIGHTLINE_HOME=/tmp/fl uv run flightline materialize --from 2013-12 --to 2013-12
    FLIGHTLINE_HOME=/tmp/fl uv run python -m bench.served_quality --month 2013-12

Serves the latest bento (the champion with its snapshot as of the end of the last training data),
posts every flight of ``--month`` with its weather, and prints AUC, PR-AUC, Brier, ECE and the
mean probability against the observed rate, next to the rate baseline's Brier (the smoothed
carrier x hour rate of the months before) and the card's own as-served test figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import duckdb
import httpx
import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score

from bench.local_servers import start_bento_server, stop_bento_server, wait_until_ready
from bench.serving import valid_requests
from flightline import settings
from flightline.bento_store import latest_bento_tag
from flightline.metrics import brier, expected_calibration_error, roc_auc
from flightline.registry import ModelRegistry
from flightline.warehouse import read_table


def labelled_requests(flights: pl.DataFrame) -> tuple[list[dict], list[int]]:
    """The fct_flights rows that validate as requests (a few real tail numbers do not), as
    request bodies, and their labels."""
    pairs = list(valid_requests(flights))
    return [body for _, body in pairs], [int(row["is_delayed"]) for row, _ in pairs]


def rate_baseline_brier(history: pl.DataFrame, month: pl.DataFrame, weight: float = 50.0) -> float:
    """Brier score of the smoothed carrier x hour delay rate of ``history`` on ``month``."""
    prior = history["is_delayed"].cast(pl.Float64).mean()
    rates = history.group_by("carrier", "sched_dep_hour").agg(
        (
            (pl.col("is_delayed").cast(pl.Float64).sum() + weight * prior) / (pl.len() + weight)
        ).alias("p")
    )
    p = month.join(rates, on=["carrier", "sched_dep_hour"], how="left")["p"].fill_null(prior)
    return brier(month["is_delayed"].cast(pl.Float64).to_numpy(), p.to_numpy())


def measure(month_of: str) -> dict:
    settings.export_environment()
    with duckdb.connect(settings.duckdb_path(), read_only=True) as conn:
        rows = read_table(
            conn,
            "SELECT * FROM marts.fct_flights WHERE is_delayed IS NOT NULL ORDER BY flight_id",
        )
    month = rows.filter(pl.col("flight_month") == month_of)
    history = rows.filter(pl.col("flight_month") < month_of)
    requests, labels = labelled_requests(month)
    bento = latest_bento_tag()
    workdir = Path(tempfile.mkdtemp(prefix="served-quality-"))
    env = {**os.environ, "FLIGHTLINE_HOME": str(workdir), "BENTOML_DO_NOT_TRACK": "true"}
    process, url, log = start_bento_server(bento, workdir, env)
    probabilities: list[float] = []
    try:
        wait_until_ready(url, process, log, 180)
        with httpx.Client(base_url=url, timeout=300) as client:
            for start in range(0, len(requests), 5_000):
                response = client.post(
                    "/predict", json={"flights": requests[start : start + 5_000]}
                )
                response.raise_for_status()
                probabilities += [p["delay_probability"] for p in response.json()["predictions"]]
    finally:
        stop_bento_server(process)
    y, p = np.array(labels), np.array(probabilities)
    card = ModelRegistry(settings.paths().models).card(
        ModelRegistry(settings.paths().models).champion()
    )
    return {
        "month": month_of,
        "bento": bento,
        "flights": int(y.size),
        "auc": round(roc_auc(y, p), 4),
        "pr_auc": round(float(average_precision_score(y, p)), 4),
        "brier": round(brier(y, p), 4),
        "ece": round(expected_calibration_error(y, p), 4),
        "mean_probability": round(float(p.mean()), 4),
        "observed_rate": round(float(y.mean()), 4),
        "rate_baseline_brier": round(rate_baseline_brier(history, month), 4),
        "card_test_month": card["data_window"]["test_month"],
        "card_as_served": {k: round(card["metrics"]["model"][k], 4) for k in ("auc", "ece")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", required=True, help="YYYY-MM, a month the champion never saw")
    print(json.dumps(measure(parser.parse_args().month), indent=2))


if __name__ == "__main__":
    main()
