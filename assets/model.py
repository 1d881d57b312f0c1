"""Model assets (group ``model``): train the delay model, gate it, and promote the champion."""

import base64
import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.event_log import latest_materialization, latest_metadata
from assets.features import flight_features as flight_features_asset
from assets.features import online_features as online_features_asset
from assets.metadata import rounded, rounded_metadata
from assets.plots import calibration_svg, calibration_table, roc_svg, roc_table
from assets.policies import WAREHOUSE_POOL
from flightline.backtest import (
    DEFAULT_FOLDS,
    backtest_months,
    backtest_plot_png,
    backtest_summary,
    rolling_origin_backtest,
)
from flightline.candidate import Candidate, CandidateSettings, save_candidate, train_candidate
from flightline.feature_table import (
    data_fingerprint,
    read_feature_months,
    read_training_window,
    stored_months,
)
from flightline.features import LABEL
from flightline.gate import GATE_CHECK_SPECS, GateThresholds
from flightline.training_data import DEFAULT_TRAIN_MONTHS, DEFAULT_TRAIN_ROWS
from flightline.training_plots import calibration_plot_png, roc_plot_png
from resources import ArtifactStore

DELAY_MODEL = dg.AssetKey(["model", "delay_model"])


class DelayModelConfig(dg.Config):
    test_month: str | None = None  # default: the last month landed
    train_months: int = DEFAULT_TRAIN_MONTHS  # months before the validation month
    train_rows: str = DEFAULT_TRAIN_ROWS  # day_before, as_served or both
    seed: int = 0
    threshold: float = 0.5  # probability at which a flight is reported as delayed
    shuffle_labels: bool = False  # negative control: train on permuted labels; the gate must fail
    auc_floor: float = GateThresholds.auc_floor  # a warning below it, not a blocker
    baseline_margin: float = GateThresholds.baseline_margin
    champion_tolerance: float = GateThresholds.champion_tolerance
    leakage_auc: float = GateThresholds.leakage_auc
    max_ece: float = GateThresholds.max_ece
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


def _table(header: tuple[str, ...], rows: list[tuple]) -> dg.MetadataValue:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def model_metadata(candidate: Candidate, folder: str) -> dict[str, object]:
    """What the UI shows for a trained model: headline figures, comparisons and plots."""
    result, card = candidate.result, candidate.card
    m = result.metrics
    preds = result.test_predictions
    y = preds[LABEL].to_numpy()
    roc_scores = {
        "LightGBM (as served)": preds["p_model"].to_numpy(),
        "logistic baseline": preds["p_logistic"].to_numpy(),
        "rate baseline": preds["p_rate_baseline"].to_numpy(),
    }
    calibration_scores = {
        "before calibration": preds["p_uncalibrated"].to_numpy(),
        f"after ({result.calibrator.method})": preds["p_model"].to_numpy(),
    }
    return rounded_metadata(
        {
            "version": card["version"],
            "identical_to_existing_version": candidate.identical_to or "no",
            "model_path": dg.MetadataValue.path(folder),
            "test_month": result.split.test,
            "test_auc_as_served": m["model"]["auc"],
            "test_auc_day_before": m["model_day_before"]["auc"],
            "test_brier_as_served": m["model"]["brier"],
            "test_ece_as_served": m["model"]["ece"],
            "test_ece_uncalibrated": m["model_uncalibrated"]["ece"],
            "calibration": result.calibrator.method,
            # Inline near the top of the asset page: SVG charts small enough for the UI to show
            # markdown inline; their tables and the full PNG plots further down.
            "roc_curve": roc_svg(y, roc_scores),
            "calibration_curve": calibration_svg(y, calibration_scores),
            "metrics": _table(
                ("scorer", "AUC", "PR-AUC", "Brier", "ECE"),
                [
                    (name, *(f"{m[name][k]:.4f}" for k in ("auc", "pr_auc", "brier", "ece")))
                    for name in (
                        "model",
                        "model_uncalibrated",
                        "model_day_before",
                        "rate_baseline",
                        "logistic_baseline",
                    )
                ],
            ),
            "champion_at_training": candidate.champion or "none",
            "train_months": ", ".join(result.split.train),
            "valid_month": result.split.valid,
            "train_rows": result.train_rows,
            "rows": card["rows"],
            "best_iteration": result.best_iteration,
            "train_seconds": round(result.train_seconds, 1),
            "top_features": _table(
                ("feature", "gain share"),
                [
                    (r["feature"], f"{r['gain_share']:.3f}")
                    for r in result.importance.head(15).iter_rows(named=True)
                ],
            ),
            "roc_table": roc_table(y, roc_scores),
            "calibration_table": calibration_table(y, preds["p_model"].to_numpy()),
            # Too large to show inline: behind "[Show Markdown]", one click away.
            "roc_curve_plot": png_markdown("ROC", roc_plot_png(y, roc_scores)),
            "calibration_plot": png_markdown(
                "calibration", calibration_plot_png(y, calibration_scores)
            ),
            "gate_passed": candidate.passed,
        }
    )


@dg.asset(
    key=DELAY_MODEL,
    group_name="model",
    deps=[flight_features_asset, online_features_asset],
    kinds={"lightgbm"},
    pool=WAREHOUSE_POOL,
    description=(
        "LightGBM classifier of 15+ minute arrival delays, calibrated. Time split: train on "
        "earlier months, early-stop and calibrate on the month before the test month, test on "
        "the last month landed as served (features from the snapshot the service would hold). "
        "Saved as LightGBM text plus model_card.json in a versioned folder; the gate's blocking "
        "checks decide whether it may become the champion."
    ),
    check_specs=[
        dg.AssetCheckSpec(name, asset=DELAY_MODEL, blocking=blocking, description=text)
        for name, blocking, text in GATE_CHECK_SPECS
    ],
)
def delay_model(
    context: dg.AssetExecutionContext,
    config: DelayModelConfig,
    warehouse: DuckDBResource,
    artifacts: ArtifactStore,
):
    with warehouse.get_connection() as conn:
        window = read_training_window(conn, config.test_month, config.train_months)
        fingerprint = data_fingerprint(conn)
    snapshot = latest_metadata(context.instance, online_features_asset.key)
    settings = CandidateSettings(
        seed=config.seed,
        threshold=config.threshold,
        train_rows=config.train_rows,
        bootstrap_samples=config.bootstrap_samples,
        shuffle_labels=config.shuffle_labels,
        thresholds=GateThresholds(
            auc_floor=config.auc_floor,
            baseline_margin=config.baseline_margin,
            champion_tolerance=config.champion_tolerance,
            leakage_auc=config.leakage_auc,
            max_ece=config.max_ece,
        ),
    )
    registry = artifacts.registry
    provenance = {
        "dagster_run_id": context.run.run_id,
        "upstream_data_versions": upstream_data_versions(
            context.instance, [flight_features_asset.key, online_features_asset.key]
        ),
        "online_features": {
            "version": snapshot.get("snapshot_version"),
            "as_of": snapshot.get("as_of"),
        },
    }
    split = window.split
    context.log.info(
        f"training on {split.train[0]}..{split.train[-1]}, validation {split.valid}, "
        f"test {split.test} ({config.train_rows} rows)"
    )
    candidate = train_candidate(
        window, registry, settings, provenance=provenance, log=context.log.info
    )
    if candidate.identical_to:
        context.log.info(
            f"identical to saved version {candidate.identical_to} (same model on the same data): "
            "not saved again"
        )
    folder = save_candidate(registry, candidate, snapshot.get("snapshot_path"))
    yield dg.MaterializeResult(
        metadata={
            **model_metadata(candidate, str(folder)),
            "data_fingerprint": fingerprint,
            "champion_at_training": registry.champion() or "none",
        }
    )
    for check in candidate.gate:
        yield dg.AssetCheckResult(
            check_name=check.name,
            passed=check.passed,
            severity=dg.AssetCheckSeverity.ERROR if check.blocking else dg.AssetCheckSeverity.WARN,
            description=check.description,
            metadata=rounded_metadata(check.metadata),
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
    # The gate of the latest delay_model run decides: an identical model saved by an earlier run
    # carries that run's verdict in its card, possibly under other thresholds.
    metadata = latest_metadata(context.instance, DELAY_MODEL)
    version = metadata.get("version")
    registry = artifacts.registry
    card = registry.card(version) if version else None
    if not card or not metadata.get("gate_passed"):
        raise dg.Failure(
            f"delay_model {version} did not pass the validation gate; champion unchanged"
        )
    previous = registry.champion()
    if version in registry.registered_versions():
        # The same model on the same data was registered before: no second promotion.
        return dg.MaterializeResult(
            metadata=rounded_metadata(
                {
                    "champion": previous or "none",
                    "previous_champion": previous or "none",
                    "promotion": f"none: {version} was registered before (identical model)",
                    "registry": dg.MetadataValue.path(str(registry.index_path)),
                }
            )
        )
    event = registry.register_and_promote(
        version,
        {"test_auc": card["metrics"]["model"]["auc"], "data_window": card["data_window"]},
        context.run.run_id,
    )
    return dg.MaterializeResult(
        metadata=rounded_metadata(
            {
                "champion": version,
                "previous_champion": previous or "none",
                "test_auc": card["metrics"]["model"]["auc"],
                "promotion": event,
                "registry": dg.MetadataValue.path(str(registry.index_path)),
            }
        )
    )


class BacktestConfig(dg.Config):
    folds: int = DEFAULT_FOLDS  # the last N landed months, each trained on the months before
    train_months: int = DEFAULT_TRAIN_MONTHS
    train_rows: str = DEFAULT_TRAIN_ROWS
    seed: int = 0


@dg.asset(
    key=["model", "backtest"],
    group_name="model",
    deps=[flight_features_asset],
    kinds={"lightgbm"},
    pool=WAREHOUSE_POOL,
    description=(
        "Rolling-origin backtest: for each of the last N landed months (default 3), trains as "
        "delay_model does on the months before it and scores that month as served. AUC, PR-AUC, "
        "Brier and ECE per month, their mean and spread: the model-quality figure the README "
        "reports. Run on demand (`flightline backtest`): it trains N models."
    ),
)
def backtest(
    context: dg.AssetExecutionContext, config: BacktestConfig, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    with warehouse.get_connection() as conn:
        months = stored_months(conn)
        tested = backtest_months(months, config.folds)
        if not tested:
            raise dg.Failure(f"a backtest needs at least 3 landed months; found {months}")
        first = months.index(tested[0]) - 1 - config.train_months
        day_before, served = read_feature_months(conn, months[max(first, 0) :])
    folds = rolling_origin_backtest(
        day_before,
        served,
        folds=config.folds,
        train_months=config.train_months,
        train_rows=config.train_rows,
        seed=config.seed,
        first_month=months[0],
        log=context.log.info,
    )
    summary = backtest_summary(folds)
    return dg.MaterializeResult(
        metadata=rounded_metadata(
            {
                "months": ", ".join(tested),
                "auc_mean": summary["auc"]["mean"],
                "auc_std": summary["auc"]["std"],
                "ece_mean": summary["ece"]["mean"],
                "brier_mean": summary["brier"]["mean"],
                "summary": summary,
                "folds": _table(tuple(folds.columns), rounded(folds.rows())),
                "auc_by_month_plot": png_markdown("AUC by month", backtest_plot_png(folds)),
            }
        )
    )
