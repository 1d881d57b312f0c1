"""Features, the gated model and the registry through real Dagster runs (fixture: ``trained``)."""

import json

import dagster as dg
import duckdb
import lightgbm as lgb

from assets.model import DELAY_MODEL, GATE_CHECKS
from flightline.features import FEATURE_COLUMNS

BENTO_ASSETS = [
    dg.AssetKey(["serving", "bento_model"]),
    dg.AssetKey(["serving", "flight_delay_bento"]),
]
MODEL_TO_BENTO = dg.AssetSelection.assets(DELAY_MODEL, ["model", "champion_model"], *BENTO_ASSETS)


def test_features_table_has_every_flight_and_checks_pass(trained):
    with duckdb.connect(str(trained.home / "warehouse.duckdb"), read_only=True) as conn:
        n_features, n_flights = conn.execute(
            "SELECT (SELECT count(*) FROM features.flight_features), "
            "(SELECT count(*) FROM marts.fct_flights)"
        ).fetchone()
        columns = [r[0] for r in conn.execute("DESCRIBE features.flight_features").fetchall()]
    assert n_features == n_flights == 27_004 + 24_951 + 28_834
    assert set(FEATURE_COLUMNS) <= set(columns)
    evaluations = trained.instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [
            dg.AssetCheckKey(dg.AssetKey(["features", "flight_features"]), name)
            for name in (
                "no_unexpected_nulls",
                "one_row_per_flight",
                "no_forbidden_columns",
                "features_point_in_time",
            )
        ]
    )
    assert len(evaluations) == 4
    assert all(e.status.value == "SUCCEEDED" for e in evaluations.values())


def test_training_registers_a_validated_champion_with_a_readable_card(trained):
    index = json.loads((trained.home / "models" / "registry.json").read_text())
    champion = index["champion"]
    assert champion and index["versions"][0]["status"] == "validated"
    assert index["events"][0]["event"] == "promotion" and index["events"][0]["to"] == champion
    folder = trained.home / "models" / "delay_model" / champion
    card = json.loads((folder / "model_card.json").read_text())
    assert card["data_window"] == {
        "train_months": ["2013-01"],
        "valid_month": "2013-02",
        "test_month": "2013-03",
        "first_month": "2013-01",
    }
    assert card["gate"]["passed"] is True
    assert 0.6 < card["metrics"]["model"]["auc"] < 0.9
    assert card["metrics"]["model"]["auc"] > card["metrics"]["rate_baseline"]["auc"]
    assert card["dagster_run_id"] and card["upstream_data_versions"]
    assert (folder / "online_features" / "state.json").exists()
    booster = lgb.Booster(model_file=str(folder / "model.txt"))
    assert booster.feature_name() == card["features"]


def test_shuffled_labels_fail_the_gate_and_leave_the_champion(trained):
    registry = trained.resources["artifacts"].registry
    before = registry.index()
    result = trained.materialize(
        MODEL_TO_BENTO,
        raise_on_error=False,
        run_config={"ops": {"model__delay_model": {"config": {"shuffle_labels": True}}}},
    )
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert set(checks) == set(GATE_CHECKS)
    assert checks["auc_above_floor"] is False
    assert checks["beats_baselines"] is False
    assert checks["not_worse_than_champion"] is False
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {DELAY_MODEL}  # nothing downstream of the failed gate ran
    assert registry.index() == before


def test_same_inputs_give_the_same_model_text(trained):
    registry = trained.resources["artifacts"].registry
    first = registry.version_dir(registry.champion()) / "model.txt"
    result = trained.materialize(dg.AssetSelection.assets(DELAY_MODEL), raise_on_error=False)
    version = result.get_asset_materialization_events()[0].materialization.metadata["version"].value
    assert version != registry.champion()
    assert (registry.version_dir(version) / "model.txt").read_text() == first.read_text()


def test_serving_assets_build_a_bento_and_score_a_month_with_the_champion(trained):
    import bentoml

    champion = trained.resources["artifacts"].registry.champion()
    result = trained.materialize(dg.AssetSelection.assets(*BENTO_ASSETS))
    bento_tag = (
        result.asset_materializations_for_node("serving__flight_delay_bento")[0]
        .metadata["bento_tag"]
        .value
    )
    bento = bentoml.bentos.get(bento_tag)
    assert bento.info.labels["model_version"] == champion
    assert bento.info.args["model_tag"].startswith("flight_delay_model:")

    trained.materialize(
        dg.AssetSelection.assets(["serving", "flight_predictions"]), partition_key="2013-03-01"
    )
    with duckdb.connect(str(trained.home / "warehouse.duckdb"), read_only=True) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT flight_id), min(model_version), max(model_version), "
            "min(delay_probability), max(delay_probability) FROM predictions.flight_predictions "
            "WHERE flight_month = '2013-03'"
        ).fetchone()
    assert rows[:4] == (28_834, 28_834, champion, champion)
    assert 0 < rows[4] < rows[5] < 1
