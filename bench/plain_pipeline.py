"""The platform's end-to-end compute as one plain script, without Dagster: the overhead baseline.

    FLIGHTLINE_HOME=/tmp/plain uv run python -m bench.plain_pipeline --scale 1

Same steps and the same functions as ``flightline run --scale N`` (land -> raw -> dbt -> features
-> point-in-time check -> online snapshot -> calibrated LightGBM with baselines and gate -> registry ->
BentoML model and bento), in one process, with the dbt commands the dbt assets run (``dbt build``
as a subprocess, twice). What it leaves out is what Dagster adds: definitions, run and event
storage, asset metadata (plots included), and each step's own connection.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import duckdb

from flightline import settings
from flightline.bento_store import build_bento, save_model_to_bentoml
from flightline.candidate import CandidateSettings, save_candidate, train_candidate
from flightline.feature_checks import stored_point_in_time_mismatches
from flightline.feature_table import (
    ONLINE_HORIZON_DAYS,
    online_state,
    read_training_window,
    update_feature_table,
)
from flightline.features import save_state
from flightline.ingest import FULL_PARTITION, load_files
from flightline.landing import landing_file
from flightline.months import first_day, month_range, next_month
from flightline.raw_schemas import RAW_TABLES
from flightline.registry import ModelRegistry
from flightline.synthetic.scale import land_scaled, scaled_months
from flightline.training_data import DEFAULT_TRAIN_MONTHS


def dbt_build(window: dict[str, str], *args: str) -> None:
    """``dbt build`` as ``resources/dbt.py`` runs it: the months' window in the environment (not
    --vars, which would make dbt parse in full), no manifest.json or run_results.json written."""
    subprocess.run(
        [
            "dbt",
            "build",
            "--no-write-json",
            "--project-dir",
            str(settings.DBT_PROJECT_DIR),
            "--profiles-dir",
            str(settings.DBT_PROJECT_DIR),
            *args,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, **window},
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
        for table in RAW_TABLES.values():  # one call per table, as the raw assets load
            files = [
                (landing_file(paths.landing, table, month), month or FULL_PARTITION)
                for month in (months if table.monthly else [None])
            ]
            load_files(conn, table, files, paths.landing)
    lap("raw")
    window = {  # what assets/dbt.py's batch_window_env gives a run over these months
        "FLIGHTLINE_BATCH_MIN_DATE": first_day(months[0]).isoformat(),
        "FLIGHTLINE_BATCH_MAX_DATE": first_day(next_month(months[-1])).isoformat(),
    }
    dbt_build(window, "--exclude", "config.materialized:incremental")
    dbt_build(window, "--select", "config.materialized:incremental")
    lap("dbt")

    with duckdb.connect(settings.duckdb_path(), config=settings.DUCKDB_CONFIG) as conn:
        update_feature_table(conn)
        _, mismatches = stored_point_in_time_mismatches(conn)
        assert not mismatches, mismatches
        state = online_state(conn, ONLINE_HORIZON_DAYS)
        window = read_training_window(conn, None, DEFAULT_TRAIN_MONTHS)
    snapshot = save_state(state, paths.home / "online_features" / f"plain-{state.as_of_day}")
    lap("features")

    registry = ModelRegistry(paths.models)
    candidate = train_candidate(
        window,
        registry,
        CandidateSettings(),
        provenance={
            "dagster_run_id": "none (plain script)",
            "online_features": {"version": snapshot.name, "as_of": state.as_of.isoformat()},
        },
    )
    folder = save_candidate(registry, candidate, snapshot)
    lap("model")

    test_auc = candidate.result.metrics["model"]["auc"]
    if candidate.passed and candidate.version not in registry.registered_versions():
        registry.register_and_promote(candidate.version, {"test_auc": test_auc}, "plain")
        build_bento(str(save_model_to_bentoml(folder)))
    lap("bento")
    timings["total"] = round(time.perf_counter() - started, 2)
    timings["test_auc"] = round(test_auc, 4)
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
