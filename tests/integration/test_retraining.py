"""Feature drift as a real Dagster asset, and the retraining sensor against a real instance."""

import shutil

import dagster as dg
import duckdb
import pytest

from resources import ArtifactStore
from sensors.retraining import DRIFT, FLIGHTS, PERFORMANCE, retraining_sensor


def test_feature_drift_scores_a_month_against_the_champions_training_data(trained):
    result = trained.materialize(
        dg.AssetSelection.assets(["monitoring", "feature_drift"]), partition_key="2013-03-01"
    )
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["reference_months"].value == "2013-01, 2013-02"
    # March against January–February: seasonal weather moves, the schedule barely does
    assert 0 < metadata["max_psi"].value < 2
    with duckdb.connect(str(trained.home / "warehouse.duckdb"), read_only=True) as conn:
        rows = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE feature IN ('month', 'all_rate_7d')), "
            "max(psi) FILTER (WHERE feature = 'carrier_cat') "
            "FROM monitoring.feature_drift WHERE flight_month = '2013-03'"
        ).fetchone()
    assert rows[0] >= 20 and rows[1] == 0  # the inputs, not the calendar or rolling outcomes
    assert rows[2] < 0.1  # the carrier mix hardly changes within a season


def test_model_performance_measures_a_scored_month_against_its_arrivals(trained):
    trained.materialize(
        dg.AssetSelection.assets(
            ["serving", "flight_predictions"], ["monitoring", "model_performance"]
        ),
        partition_key="2013-03-01",
    )
    result = trained.materialize(
        dg.AssetSelection.assets(["monitoring", "model_performance"]), partition_key="2013-03-01"
    )
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    champion = trained.resources["artifacts"].registry.champion()
    card = trained.resources["artifacts"].registry.card(champion)
    # the champion's test month, batch-scored with day-before features: live AUC equals the
    # card's day-before AUC measured at training
    day_before = card["metrics"]["model_day_before"]["auc"]
    assert metadata["auc"].value == pytest.approx(day_before, abs=1e-9)
    assert metadata["model_versions"].value == champion
    assert metadata["rows_scored"].value == 28_834


def evaluate(instance, artifacts):
    from definitions import defs

    with dg.build_sensor_context(
        instance=instance, definitions=defs, resources={"artifacts": artifacts}
    ) as context:
        return retraining_sensor(context)


def report(instance, key, month, **metadata):
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=key, partition=f"{month}-01", metadata=metadata)
    )


def test_retraining_requests_once_per_trigger_and_says_why(trained, tmp_path):
    shutil.copytree(trained.home / "models", tmp_path / "models")
    artifacts = ArtifactStore(root=str(tmp_path))
    champion = artifacts.registry.champion()  # tested on 2013-03
    with dg.instance_for_test() as instance:
        for month in ("2013-01", "2013-02", "2013-03"):
            report(instance, FLIGHTS, month)
        assert isinstance(evaluate(instance, artifacts), dg.SkipReason)

        report(instance, FLIGHTS, "2013-04")
        first = evaluate(instance, artifacts)
        assert first.run_key == f"new-months:{champion}:2013-04"
        assert first.tags["flightline/retrain_reason"] == "1 new month(s) since 2013-03: 2013-04"
        # the same trigger again: the same run key, which Dagster launches only once
        assert evaluate(instance, artifacts).run_key == first.run_key

        report(instance, DRIFT, "2013-04", max_psi=0.05)
        assert evaluate(instance, artifacts).run_key == first.run_key  # no drift
        report(instance, DRIFT, "2013-04", max_psi=0.45)
        drifted = evaluate(instance, artifacts)
        assert drifted.run_key == f"drift:{champion}:2013-04"
        assert "max PSI 0.45" in drifted.tags["flightline/retrain_reason"]

        report(instance, PERFORMANCE, "2013-04", auc=0.71)
        assert evaluate(instance, artifacts).run_key == drifted.run_key  # still good enough
        report(instance, PERFORMANCE, "2013-04", auc=0.58)
        decayed = evaluate(instance, artifacts)
        assert decayed.run_key == f"performance:{champion}:2013-04"
        assert decayed.tags["flightline/retrain_reason"] == "live AUC 0.580 in 2013-04 < 0.65"


def test_monitoring_schedule_scores_the_latest_landed_month():
    from jobs import monitoring_schedule

    with dg.instance_for_test() as instance:
        with dg.build_schedule_context(instance=instance) as context:
            assert isinstance(monitoring_schedule(context), dg.SkipReason)
        for month in ("2013-01", "2013-02"):
            report(instance, FLIGHTS, month)
        with dg.build_schedule_context(instance=instance) as context:
            request = monitoring_schedule(context)
    assert request.partition_key == "2013-02-01"
    assert request.run_key == "drift:2013-02-01"


def test_automation_runs_by_default_and_models_follow_their_upstream():
    from definitions import defs

    sensors = {s.name: s for s in defs.sensors}
    for name in ("landing_sensor", "retraining_sensor", "flightline_automation"):
        assert sensors[name].default_status == dg.DefaultSensorStatus.RUNNING, name
    graph = defs.resolve_asset_graph()
    for key in (
        ["staging", "stg_flights"],
        ["marts", "dim_planes"],
        ["features", "flight_features"],
    ):
        assert graph.get(dg.AssetKey(key)).automation_condition.label == "follows upstream", key
