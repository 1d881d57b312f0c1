"""Feature drift as a real Dagster asset, and the retraining sensor against a real instance."""

import shutil

import dagster as dg
import duckdb
import pytest
from dagster._core.test_utils import create_run_for_test

from resources import ArtifactStore
from sensors.retraining import (
    DELAY_MODEL,
    DRIFT,
    FEATURES,
    FLIGHTS,
    MONTH_INPUTS,
    PERFORMANCE,
    retraining_sensor,
)
from tests.integration.conftest import make_resources, with_partitions


def test_feature_drift_falls_back_to_the_previous_month_in_the_first_year(trained):
    result = trained.materialize(
        dg.AssetSelection.assets(["monitoring", "feature_drift"]), partition_key="2013-03-01"
    )
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    # no March a year earlier: the previous month is the reference, and says so
    assert metadata["reference_month"].value == "2013-02"
    assert "the previous month" in metadata["reference"].value
    assert metadata["aggregates_scored"].value is False
    # March against February: seasonal weather moves, the schedule barely does
    assert 0 < metadata["max_psi"].value < 2
    scored = {r.data["feature"] for r in metadata["psi_by_feature"].value.records}
    assert {"temp", "carrier_cat", "dest_cat"} <= scored and "all_rate_7d" not in scored
    with duckdb.connect(str(trained.home / "warehouse.duckdb"), read_only=True) as conn:
        rows = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE feature IN ('month', 'all_rate_7d')), "
            "max(psi) FILTER (WHERE feature = 'carrier_cat') "
            "FROM monitoring.feature_drift WHERE flight_month = '2013-03' "
            "AND reference_month = '2013-02'"
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
    assert metadata["auc"].value == pytest.approx(day_before, abs=5e-5)  # shown to 4 decimals
    assert metadata["model_versions"].value == champion
    assert metadata["rows_scored"].value == 28_834
    (row,) = metadata["by_model_version"].value.records  # one version: no pooled row
    assert row.data["model_version"] == champion and row.data["auc"] == metadata["auc"].value
    assert metadata["after_champion_test_month"].value is False  # the test month itself


def test_model_performance_says_which_input_is_missing(trained, tmp_path):
    from definitions import defs

    resources = make_resources(tmp_path)
    resources["artifacts"] = trained.resources["artifacts"]
    result = dg.materialize(
        [*defs.assets],
        selection=dg.AssetSelection.assets(["monitoring", "model_performance"]),
        resources=resources,
        partition_key="2013-03-01",
        instance=with_partitions("2013-03-01"),
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.error.message
    assert "predictions.flight_predictions does not exist yet" in message
    assert "serving/flight_predictions for 2013-03" in message


def evaluate(instance, artifacts):
    from definitions import defs

    with dg.build_sensor_context(
        instance=instance, definitions=defs, resources={"artifacts": artifacts}
    ) as context:
        return retraining_sensor(context)


def report(instance, key, month=None, **metadata):
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=key, partition=f"{month}-01" if month else None, metadata=metadata
        )
    )


def report_landed(instance, month):
    for key in MONTH_INPUTS:
        report(instance, key, month)


def report_features(instance, state, failing_check=None):
    report(instance, FEATURES, data_fingerprint=state)
    from definitions import defs

    for check in defs.resolve_asset_graph().asset_check_keys:
        if check.asset_key == FEATURES:
            instance.report_runless_asset_event(
                dg.AssetCheckEvaluation(
                    asset_key=FEATURES, check_name=check.name, passed=check.name != failing_check
                )
            )


def test_retraining_waits_for_the_month_then_trains_once_per_data_state(trained, tmp_path):
    shutil.copytree(trained.home / "models", tmp_path / "models")
    artifacts = ArtifactStore(root=str(tmp_path))
    champion = artifacts.registry.champion()  # tested on 2013-03
    with dg.instance_for_test() as instance:
        for month in ("2013-01", "2013-02", "2013-03"):
            report_landed(instance, month)
        report_features(instance, "state-a")
        current = evaluate(instance, artifacts)
        assert current.skip_message == f"champion {champion} is current (test month 2013-03)"

        # 2013-04 lands piece by piece: no training until it has reached the features
        report(instance, FLIGHTS, "2013-04")
        waiting = evaluate(instance, artifacts)
        assert "waiting for 2013-04: raw/weather is not materialized yet" in waiting.skip_message
        assert waiting.skip_message.startswith("1 new month(s) since 2013-03: 2013-04")
        report_landed(instance, "2013-04")
        assert "changed after the latest features" in evaluate(instance, artifacts).skip_message
        report_features(instance, "state-b", failing_check="one_row_per_flight")
        blocked = evaluate(instance, artifacts).skip_message
        assert "check one_row_per_flight: FAILED" in blocked
        report_features(instance, "state-b")
        first = evaluate(instance, artifacts)
        assert first.run_key == f"retrain:{champion}:state-b"
        assert first.tags["flightline/retrain_reason"] == "1 new month(s) since 2013-03: 2013-04"

        # drift and decay on the same data ask for the same training, saying why
        report(instance, DRIFT, "2013-04", max_psi=0.05)
        assert evaluate(instance, artifacts).tags["flightline/retrain_trigger"] == "new-months"
        report(instance, DRIFT, "2013-04", max_psi=0.45)
        drifted = evaluate(instance, artifacts)
        assert drifted.run_key == first.run_key
        assert "max PSI 0.45" in drifted.tags["flightline/retrain_reason"]
        report(instance, PERFORMANCE, "2013-04", auc=0.58)
        decayed = evaluate(instance, artifacts)
        assert decayed.run_key == first.run_key
        assert decayed.tags["flightline/retrain_reason"] == "live AUC 0.580 in 2013-04 < 0.65"

        # once a run holds that key, the tick says so instead of asking again
        create_run_for_test(instance, job_name="training", tags={"dagster/run_key": first.run_key})
        assert "already trained on this data" in evaluate(instance, artifacts).skip_message

        # the candidate on this data failed the gate: nothing until new data lands
        report(
            instance,
            DELAY_MODEL,
            version="v-failed",
            data_fingerprint="state-b",
            champion_at_training=champion,
            gate_passed=False,
        )
        failed = evaluate(instance, artifacts).skip_message
        assert "candidate v-failed was trained on this data (state state-b) and failed" in failed
        report_landed(instance, "2013-05")
        report_features(instance, "state-c")
        again = evaluate(instance, artifacts)
        assert again.run_key == f"retrain:{champion}:state-c"


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
