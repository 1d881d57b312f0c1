"""Features, the gated model and the registry through real Dagster runs (fixture: ``trained``)."""

import json

import dagster as dg
import duckdb
import lightgbm as lgb

from assets.model import DELAY_MODEL
from flightline.features import FEATURE_COLUMNS, MODEL_FEATURES
from flightline.gate import GATE_CHECKS
from tests.integration.conftest import SMALL_HISTORY_GATE

BENTO_ASSETS = [
    dg.AssetKey(["serving", "bento_model"]),
    dg.AssetKey(["serving", "delay_service_bento"]),
]
MODEL_TO_BENTO = dg.AssetSelection.assets(DELAY_MODEL, ["model", "champion_model"], *BENTO_ASSETS)


def test_features_table_has_every_flight_and_checks_pass(trained):
    with duckdb.connect(str(trained.home / "warehouse.duckdb"), read_only=True) as conn:
        n_features, n_served, n_flights = conn.execute(
            "SELECT (SELECT count(*) FROM features.flight_features), "
            "(SELECT count(*) FROM features.flight_features_served), "
            "(SELECT count(*) FROM marts.fct_flights)"
        ).fetchone()
        columns = [r[0] for r in conn.execute("DESCRIBE features.flight_features").fetchall()]
        # As served: each month from the snapshot of its first day (0..30 days stale).
        stale = conn.execute(
            "SELECT flight_month, min(state_stale_days), max(state_stale_days) "
            "FROM features.flight_features_served GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert n_features == n_served == n_flights == 27_004 + 24_951 + 28_834
    assert stale == [("2013-01", 0, 30), ("2013-02", 0, 27), ("2013-03", 0, 30)]
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
    metrics = card["metrics"]
    assert 0.6 < metrics["model"]["auc"] < 0.9
    assert metrics["model"]["auc"] > metrics["rate_baseline"]["auc"]
    # Both evaluations are named: as served (the headline) and with day-before features.
    assert "as served" in card["evaluation"] and "day before" in card["evaluation"]
    assert metrics["model_day_before"]["n"] == metrics["model"]["n"]
    assert card["calibration"]["method"] in ("platt", "isotonic")
    assert set(card["reliability"]) == {"uncalibrated", "calibrated"}
    assert card["features"] == MODEL_FEATURES and card["model_hash"]
    assert card["dagster_run_id"] and card["upstream_data_versions"]
    assert (folder / "online_features" / "state.json").exists()
    booster = lgb.Booster(model_file=str(folder / "model.txt"))
    assert booster.feature_name() == card["features"]


def test_the_model_page_shows_its_curves_inline_and_rounded_figures(trained):
    from assets.event_log import latest_materialization
    from assets.plots import MARKDOWN_INLINE_LIMIT

    metadata = latest_materialization(trained.instance, DELAY_MODEL).metadata
    for chart in ("roc_curve", "calibration_curve"):  # markdown short enough to render inline
        assert len(metadata[chart].value) < MARKDOWN_INLINE_LIMIT
    assert metadata["roc_table"].records[-1].data["FPR"] == "AUC"
    floats = {k: v.value for k, v in metadata.items() if isinstance(v, dg.FloatMetadataValue)}
    assert "test_auc_as_served" in floats
    assert all(v == round(v, 4) for v in floats.values()), floats


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
    assert checks["beats_baselines"] is False
    assert checks["not_worse_than_champion"] is False
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {DELAY_MODEL}  # nothing downstream of the failed gate ran
    assert registry.index() == before


def test_an_identical_model_is_not_registered_or_promoted_again(trained):
    registry = trained.resources["artifacts"].registry
    before = registry.index()
    saved = sorted(p.name for p in (trained.home / "models" / "delay_model").iterdir())
    result = trained.materialize(
        dg.AssetSelection.assets(DELAY_MODEL, ["model", "champion_model"]),
        raise_on_error=False,
        run_config=SMALL_HISTORY_GATE,
    )
    by_key = {
        e.asset_key: e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    model = by_key[DELAY_MODEL]
    assert model["version"].value == model["identical_to_existing_version"].value
    assert model["version"].value == before["champion"]
    promotion = by_key[dg.AssetKey(["model", "champion_model"])]["promotion"].value
    assert promotion.startswith("none")
    assert registry.index() == before  # no new version, no promotion event
    assert sorted(p.name for p in (trained.home / "models" / "delay_model").iterdir()) == saved


def test_serving_assets_build_a_bento_and_score_a_month_with_the_champion(trained):
    import bentoml

    champion = trained.resources["artifacts"].registry.champion()
    result = trained.materialize(dg.AssetSelection.assets(*BENTO_ASSETS))
    bento_tag = (
        result.asset_materializations_for_node("serving__delay_service_bento")[0]
        .metadata["bento_tag"]
        .value
    )
    bento = bentoml.bentos.get(bento_tag)
    assert bento.info.labels["model_version"] == champion
    assert bento.info.args["model_tag"].startswith("delay_model:")

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
