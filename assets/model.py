"""Model assets (group ``model``): train the delay model, gate it, and promote the champion."""

import base64
import datetime as dt
import shutil

import dagster as dg
import lightgbm as lgb
import polars as pl
from dagster_duckdb import DuckDBResource

from assets.event_log import latest_materialization, latest_metadata
from assets.features import flight_features as flight_features_asset
from assets.features import online_features as online_features_asset
from assets.partitions import WAREHOUSE_POOL
from flightline.feature_table import read_training_window, recode_categoricals, stored_vocabulary
from flightline.gate import GateThresholds, evaluate_gate
from flightline.registry import model_version
from flightline.training import (
    DEFAULT_TRAIN_MONTHS,
    LABEL,
    bootstrap_auc_diff,
    calibration_plot_png,
    labels,
    predict,
    roc_plot_png,
    train_and_evaluate,
)
from resources import ArtifactStore

DELAY_MODEL = dg.AssetKey(["model", "delay_model"])
GATE_CHECKS = [
    "auc_above_floor",
    "beats_baselines",
    "not_worse_than_champion",
    "no_leakage_tripwire",
]


class DelayModelConfig(dg.Config):
    test_month: str | None = None  # default: the last month landed
    train_months: int = DEFAULT_TRAIN_MONTHS  # months before the validation month
    seed: int = 0
    threshold: float = 0.5  # probability at which a flight is reported as delayed
    shuffle_labels: bool = False  # negative control: train on permuted labels; the gate must fail
    auc_floor: float = GateThresholds.auc_floor
    baseline_margin: float = GateThresholds.baseline_margin
    champion_tolerance: float = GateThresholds.champion_tolerance
    leakage_auc: float = GateThresholds.leakage_auc
    bootstrap_samples: int = 200


def png_markdown(title: str, png: bytes) -> dg.MetadataValue:
    return dg.MetadataValue.md(
        f"![{title}](data:image/png;base64,{base64.b64encode(png).decode()})"
    )


def upstream_data_versions(instance: dg.DagsterInstance, keys: list[dg.AssetKey]) -> dict:
    """Data version of each upstream asset's latest materialization, for the model card."""
    versions = {}
    for key in keys:
        materialization = latest_materialization(instance, key)
        tags = (materialization.tags or {}) if materialization else {}
        versions[key.to_user_string()] = tags.get("dagster/data_version")
    return versions


def champion_scores(artifacts: ArtifactStore, test: pl.DataFrame, vocabulary: dict) -> tuple:
    """(champion version, its probabilities on ``test``) or (None, None) without a champion."""
    registry = artifacts.registry
    champion = registry.champion()
    if champion is None:
        return None, None
    card = registry.card(champion)
    rows = recode_categoricals(test, vocabulary, card["vocabulary"])
    return champion, predict(registry.booster(champion), rows)


@dg.asset(
    key=DELAY_MODEL,
    group_name="model",
    deps=[flight_features_asset, online_features_asset],
    kinds={"lightgbm"},
    pool=WAREHOUSE_POOL,
    description=(
        "LightGBM classifier of 15+ minute arrival delays. Time split: train on earlier months, "
        "early-stop on the month before the test month, test on the last month landed. Saved as "
        "LightGBM text plus model_card.json in a versioned folder; blocking checks gate it."
    ),
    check_specs=[dg.AssetCheckSpec(name, asset=DELAY_MODEL, blocking=True) for name in GATE_CHECKS],
)
def delay_model(
    context: dg.AssetExecutionContext,
    config: DelayModelConfig,
    warehouse: DuckDBResource,
    artifacts: ArtifactStore,
):
    with warehouse.get_connection() as conn:
        split, table = read_training_window(conn, config.test_month, config.train_months)
        vocabulary = stored_vocabulary(conn)
    if config.shuffle_labels:
        table = table.with_columns(pl.col(LABEL).shuffle(seed=config.seed))

    result = train_and_evaluate(table, test_month=split.test, seed=config.seed)
    test = table.filter((pl.col("flight_month") == result.split.test) & pl.col(LABEL).is_not_null())
    test = test.sort("flight_id")
    preds = result.test_predictions.sort("flight_id")
    y, p_model = labels(test), preds["p_model"].to_numpy()
    champion, p_champion = champion_scores(artifacts, test, vocabulary)
    interval = (
        bootstrap_auc_diff(y, p_model, p_champion, n=config.bootstrap_samples, seed=config.seed)
        if champion
        else None
    )
    metrics = result.metrics
    baselines = {
        "rate_baseline": metrics["rate_baseline"]["auc"],
        "logistic_baseline": metrics["logistic_baseline"]["auc"],
    }
    thresholds = GateThresholds(
        config.auc_floor, config.baseline_margin, config.champion_tolerance, config.leakage_auc
    )
    gate = evaluate_gate(metrics["model"]["auc"], baselines, interval, thresholds)

    model_text = result.booster.model_to_string()
    trained_at = dt.datetime.now(dt.UTC)
    version = model_version(model_text, trained_at)
    snapshot = latest_metadata(context.instance, online_features_asset.key)
    card = {
        "model_name": "delay_model",
        "version": version,
        "trained_at": trained_at.isoformat(timespec="seconds"),
        "dagster_run_id": context.run.run_id,
        "label": "is_delayed: arrival 15+ minutes late (cancelled and diverted flights excluded)",
        "threshold": config.threshold,
        "vocabulary": vocabulary,
        "data_window": {
            "train_months": list(result.split.train),
            "valid_month": result.split.valid,
            "test_month": result.split.test,
            "first_month": str(table["flight_month"].min()),
        },
        "rows": {
            "train_and_valid": int(
                table.filter(pl.col("flight_month") < result.split.test)[LABEL].is_not_null().sum()
            ),
            "test": test.height,
        },
        "upstream_data_versions": upstream_data_versions(
            context.instance, [flight_features_asset.key, online_features_asset.key]
        ),
        "online_features": {
            "version": snapshot.get("snapshot_version"),
            "as_of": snapshot.get("as_of"),
        },
        "champion_at_training": champion,
        "champion_auc_diff_interval": interval,
        "gate": {"passed": all(c.passed for c in gate), **{c.name: c.passed for c in gate}},
        "shuffled_labels": config.shuffle_labels,
        "lightgbm_version": lgb.__version__,
        **result.card(),
    }
    registry = artifacts.registry
    folder = registry.save_version(version, model_text, card, result.test_predictions)
    if snapshot.get("snapshot_path"):
        shutil.copytree(snapshot["snapshot_path"], folder / "online_features", dirs_exist_ok=True)

    top = result.importance.head(15)
    scores = {
        "LightGBM": p_model,
        "logistic baseline": preds["p_logistic"].to_numpy(),
        "rate baseline": preds["p_rate_baseline"].to_numpy(),
    }
    yield dg.MaterializeResult(
        metadata={
            "version": version,
            "model_path": dg.MetadataValue.path(str(folder)),
            "test_auc": metrics["model"]["auc"],
            "test_pr_auc": metrics["model"]["pr_auc"],
            "test_log_loss": metrics["model"]["log_loss"],
            "test_brier": metrics["model"]["brier"],
            "valid_auc": metrics["model_valid"]["auc"],
            "rate_baseline_auc": baselines["rate_baseline"],
            "logistic_baseline_auc": baselines["logistic_baseline"],
            "champion_at_training": champion or "none",
            "train_months": ", ".join(result.split.train),
            "valid_month": result.split.valid,
            "test_month": result.split.test,
            "rows_test": test.height,
            "rows_train_and_valid": card["rows"]["train_and_valid"],
            "best_iteration": result.best_iteration,
            "train_seconds": round(result.train_seconds, 1),
            "top_features": dg.MetadataValue.md(
                "| feature | gain share |\n|---|---|\n"
                + "\n".join(
                    f"| {r['feature']} | {r['gain_share']:.3f} |" for r in top.iter_rows(named=True)
                )
            ),
            "roc_curve": png_markdown("ROC", roc_plot_png(y, scores)),
            "calibration": png_markdown("calibration", calibration_plot_png(y, p_model)),
            "gate_passed": card["gate"]["passed"],
        }
    )
    for check in gate:
        yield dg.AssetCheckResult(
            check_name=check.name,
            passed=check.passed,
            description=check.description,
            metadata=check.metadata,
        )


@dg.asset(
    key=["model", "champion_model"],
    group_name="model",
    deps=[delay_model],
    kinds={"json"},
    # A champion older than a quarter has missed several months of data.
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=dt.timedelta(days=92), warn_window=dt.timedelta(days=62)
    ),
    description=(
        "The registry's champion. Runs only after every blocking check of delay_model passed: "
        "registers that version as validated and promotes it, recording the promotion in "
        "models/registry.json."
    ),
)
def champion_model(context: dg.AssetExecutionContext, artifacts: ArtifactStore):
    version = latest_metadata(context.instance, DELAY_MODEL).get("version")
    registry = artifacts.registry
    card = registry.card(version) if version else None
    if not card or not card["gate"]["passed"]:
        raise dg.Failure(
            f"delay_model {version} did not pass the validation gate; champion unchanged"
        )
    previous = registry.champion()
    event = registry.register_and_promote(
        version,
        {"test_auc": card["metrics"]["model"]["auc"], "data_window": card["data_window"]},
        context.run.run_id,
    )
    return dg.MaterializeResult(
        metadata={
            "champion": version,
            "previous_champion": previous or "none",
            "test_auc": card["metrics"]["model"]["auc"],
            "promotion": event,
            "registry": dg.MetadataValue.path(str(registry.index_path)),
        }
    )
