"""The feedback loop on real data (fixture: ``trained``): a prediction log written as the service
writes it, for real March 2013 flights, loaded into ``monitoring.served_predictions`` and joined
with the actual arrivals in ``marts.fct_flights``."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.feedback import SERVED_TABLE
from flightline.live_metrics import live_performance
from flightline.prediction_log import PredictionLog
from flightline.scoring import load_scoring_model, score_flights
from flightline.warehouse import read_table

N_FLIGHTS = 600
KEY = dg.AssetKey(["monitoring", "served_predictions"])


OLDER = "an-older-version"  # the last March request, as if served before a promotion


def materialize(trained, month: str = "2013-03") -> dg.ExecuteInProcessResult:
    return trained.materialize(dg.AssetSelection.assets(KEY), partition_key=f"{month}-01")


@pytest.fixture
def served_log(trained):
    """A log of N_FLIGHTS March flights in 3 requests, plus one flight that has not flown yet."""
    registry = trained.resources["artifacts"].registry
    model = load_scoring_model(registry.version_dir(registry.champion()))
    with duckdb.connect(str(trained.home / "warehouse.duckdb"), read_only=True) as conn:
        march = read_table(
            conn,
            "SELECT * FROM marts.fct_flights WHERE flight_month = '2013-03' "
            "ORDER BY hash(flight_id) LIMIT ?",
            [N_FLIGHTS],
        )
    future = march.head(1).with_columns(
        pl.lit("not-flown-yet").alias("flight_id"),
        pl.col("sched_dep_local").dt.offset_by("1y"),
    )
    folder = trained.home / "prediction_log"
    log = PredictionLog(folder)
    served_at = datetime(2013, 2, 28, 23, 0, tzinfo=UTC)
    for i, batch in enumerate([march[:200], march[200:400], march[400:], future]):
        scores = score_flights(model, batch)  # the service's path: the model's own snapshot
        path = log.append(
            batch,
            scores,
            model_version=OLDER if i == 2 else model.version,
            bento_tag="delay_service:test",
            request_id=f"request-{i}",
            served_at=served_at,
        )
        assert path is not None
    try:
        yield march, model
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with duckdb.connect(str(trained.home / "warehouse.duckdb")) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {SERVED_TABLE}")


def test_served_predictions_join_outcomes_and_report_live_performance(trained, served_log):
    march, model = served_log
    result = materialize(trained)
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}

    with duckdb.connect(str(trained.home / "warehouse.duckdb"), read_only=True) as conn:
        table = read_table(conn, f"SELECT * FROM {SERVED_TABLE}")
    assert table.height == N_FLIGHTS  # March's flights only; the flight of 2014 is not here
    assert set(table["flight_month"]) == {"2013-03"}
    assert table["request_id"].n_unique() == 3
    assert set(table["model_version"]) == {model.version, OLDER}

    landed = march.filter(pl.col("is_delayed").is_not_null())
    with_outcome = table.filter(pl.col("is_delayed").is_not_null())
    assert with_outcome.height == landed.height > 0.95 * N_FLIGHTS
    # the outcome is the flight's own: compare on the flight id from fct_flights
    check = with_outcome.join(
        march.select("flight_id", pl.col("is_delayed").alias("actual")), on="flight_id"
    )
    assert check.height == landed.height
    assert (check["is_delayed"] == check["actual"]).all()

    assert metadata["rows_served"] == N_FLIGHTS
    assert metadata["rows_with_outcome"] == landed.height
    assert metadata["requests"] == 3
    assert 0.6 < metadata["live_auc"] <= 1.0
    assert 0 < metadata["live_brier"] < 0.25
    assert abs(metadata["live_calibration_in_the_large"]) < 0.2
    # each model version is measured on its own rows, and all of them together
    by_version = {r.data["model_version"]: r.data for r in metadata["by_model_version"].records}
    assert set(by_version) == {model.version, OLDER, "all versions"}
    older = with_outcome.filter(pl.col("model_version") == OLDER)
    assert by_version[OLDER]["n"] == older.height
    assert by_version[OLDER]["n"] + by_version[model.version]["n"] == landed.height
    expected = live_performance(older["is_delayed"].cast(pl.Float64), older["delay_probability"])
    assert by_version[OLDER]["auc"] == pytest.approx(expected["auc"], abs=1e-4)
    assert by_version["all versions"]["auc"] == pytest.approx(metadata["live_auc"], abs=1e-9)

    # the month of the flight that has not flown: served, no outcome yet
    later = materialize(trained, "2014-03").get_asset_materialization_events()[0]
    assert later.materialization.metadata["rows_served"].value == 1
    assert later.materialization.metadata["rows_with_outcome"].value == 0

    # idempotent: a month's rows are replaced, not appended to
    assert materialize(trained).success
    with duckdb.connect(str(trained.home / "warehouse.duckdb"), read_only=True) as conn:
        counts = dict(
            conn.execute(
                f"SELECT flight_month, count(*) FROM {SERVED_TABLE} GROUP BY ALL"
            ).fetchall()
        )
    assert counts == {"2013-03": N_FLIGHTS, "2014-03": 1}


def test_an_empty_log_gives_an_empty_table(trained):
    shutil.rmtree(trained.home / "prediction_log", ignore_errors=True)
    try:
        result = materialize(trained)
        assert result.success
        (event,) = result.get_asset_materialization_events()
        metadata = event.materialization.metadata
        assert metadata["rows_served"].value == 0
        assert metadata["rows_with_outcome"].value == 0
        with duckdb.connect(str(trained.home / "warehouse.duckdb"), read_only=True) as conn:
            (count,) = conn.execute(f"SELECT count(*) FROM {SERVED_TABLE}").fetchone()
        assert count == 0
    finally:
        with duckdb.connect(str(trained.home / "warehouse.duckdb")) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {SERVED_TABLE}")
