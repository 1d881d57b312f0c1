"""The platform's end-to-end compute as one plain script, without Dagster: the overhead baseline.

    FLIGHTLINE_HOME=/tmp/plain uv run python -m bench.plain_pipeline --scale 1

Same steps and the same functions as ``flightline run --scale N`` (land -> raw -> dbt -> features
-> point-in-time check -> online snapshot -> LightGBM with baselines and gate -> registry ->
BentoML model and bento), in one process, with the dbt commands the dbt assets run (``dbt build``
as a subprocess, twice). What it leaves out is what Dagster adds: definitions, run and event
storage, asset metadata (plots included), and each step's own connection.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time

import duckdb
import lightgbm as lgb
import polars as pl

from flightline import settings
from flightline.bento_store import build_bento, save_model_to_bentoml
from flightline.feature_table import (
    ONLINE_HORIZON_DAYS,
    online_state,
    read_training_window,
    recode_categoricals,
    stored_point_in_time_mismatches,
    stored_vocabulary,
    update_feature_table,
)
from flightline.features import save_state
from flightline.gate import GateThresholds, evaluate_gate
from flightline.ingest import FULL_PARTITION, load_file
from flightline.landing import landing_file, month_range
from flightline.raw_schemas import RAW_TABLES
from flightline.registry import ModelRegistry, model_version
from flightline.scale import land_scaled, scaled_months
from flightline.training import (
    DEFAULT_TRAIN_MONTHS,
    LABEL,
    bootstrap_auc_diff,
    labels,
    predict,
    train_and_evaluate,
)


def dbt_build(*args: str) -> None:
    subprocess.run(
        [
            "dbt",
            "build",
            "--project-dir",
            str(settings.DBT_PROJECT_DIR),
            "--profiles-dir",
            str(settings.DBT_PROJECT_DIR),
            *args,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def run(scale: int) -> dict[str, float]:
    settings.export_environment()
    paths = settings.paths()
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def lap(name: str) -> None:
        timings[name] = round(time.perf_counter() - started - sum(timings.values()), 2)

    land_scaled(paths.landing, scale, progress=None)
    months = month_range("2013-01", "2013-12") + scaled_months(scale)
    lap("land")

    with duckdb.connect(settings.duckdb_path(), config=settings.DUCKDB_CONFIG) as conn:
        for table in RAW_TABLES.values():
            for month in months if table.monthly else [None]:
                path = landing_file(paths.landing, table, month)
                load_file(conn, table, path, paths.landing, month or FULL_PARTITION)
    lap("raw")
    dbt_build("--exclude", "config.materialized:incremental")
    window = {"min_date": f"{months[0]}-01", "max_date": f"{int(months[-1][:4]) + 1}-01-01"}
    dbt_build("--vars", json.dumps(window), "--select", "config.materialized:incremental")
    lap("dbt")

    with duckdb.connect(settings.duckdb_path(), config=settings.DUCKDB_CONFIG) as conn:
        update_feature_table(conn)
        _, mismatches = stored_point_in_time_mismatches(conn)
        assert not mismatches, mismatches
        state = online_state(conn, ONLINE_HORIZON_DAYS)
        split, table = read_training_window(conn, None, DEFAULT_TRAIN_MONTHS)
        vocabulary = stored_vocabulary(conn)
    snapshot = save_state(state, paths.home / "online_features" / f"plain-{state.as_of_day}")
    lap("features")

    result = train_and_evaluate(table, test_month=split.test)
    test = table.filter((pl.col("flight_month") == split.test) & pl.col(LABEL).is_not_null())
    test = test.sort("flight_id")
    p_model = result.test_predictions.sort("flight_id")["p_model"].to_numpy()
    registry = ModelRegistry(paths.models)
    champion = registry.champion()
    interval = None
    if champion:
        rows = recode_categoricals(test, vocabulary, registry.card(champion)["vocabulary"])
        p_champion = predict(registry.booster(champion), rows)
        interval = bootstrap_auc_diff(labels(test), p_model, p_champion, n=200)
    metrics = result.metrics
    baselines = {k: metrics[k]["auc"] for k in ("rate_baseline", "logistic_baseline")}
    gate = evaluate_gate(metrics["model"]["auc"], baselines, interval, GateThresholds())
    model_text = result.booster.model_to_string()
    version = model_version(model_text, dt.datetime.now(dt.UTC))
    card = {
        "model_name": "delay_model",
        "version": version,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "dagster_run_id": "none (plain script)",
        "lightgbm_version": lgb.__version__,
        "vocabulary": vocabulary,
        "threshold": 0.5,
        "data_window": {
            "train_months": list(split.train),
            "valid_month": split.valid,
            "test_month": split.test,
        },
        "online_features": {"version": snapshot.name, "as_of": state.as_of.isoformat()},
        "gate": {"passed": all(c.passed for c in gate), **{c.name: c.passed for c in gate}},
        **result.card(),
    }
    folder = registry.save_version(version, model_text, card, result.test_predictions)
    shutil.copytree(snapshot, folder / "online_features", dirs_exist_ok=True)
    lap("model")

    if card["gate"]["passed"]:
        registry.register_and_promote(version, {"test_auc": metrics["model"]["auc"]}, "plain")
        build_bento(str(save_model_to_bentoml(folder)))
    lap("bento")
    timings["total"] = round(time.perf_counter() - started, 2)
    timings["test_auc"] = round(metrics["model"]["auc"], 4)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("FLIGHTLINE_HOME", "data-plain")
    print(json.dumps(run(args.scale)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
