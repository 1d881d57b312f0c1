"""The retraining sensor: start the training job when the champion has fallen behind the data.

Triggers (first match wins, recorded in the run's tags): a month's live AUC below the floor, a
month whose feature drift (PSI) crossed the threshold, or a month landed after the champion's test
month. Whatever the trigger, it trains at most once per (champion, data state): the data state is
the feature table's fingerprint (its months and their inputs), so a drift or performance signal on
data a candidate has already been trained on, and failed the gate with, waits for new data. It
waits, too, until every month after the champion's test month has reached the features with their
blocking checks passed. Every skipped tick says why. Reads the registry file and Dagster's event
log, never the warehouse.
"""

import dagster as dg

from assets.event_log import latest_metadata, latest_record
from flightline.drift import DRIFT_THRESHOLD
from flightline.months import month_of, partition_key
from jobs import training_job
from resources import ArtifactStore

NEW_MONTHS_TRIGGER = 1  # retrain once this many months have landed after the champion's test month
MIN_LIVE_AUC = 0.65  # retrain when a month's live AUC falls below this
FLIGHTS = dg.AssetKey(["raw", "flights"])
FEATURES = dg.AssetKey(["features", "flight_features"])
DELAY_MODEL = dg.AssetKey(["model", "delay_model"])
DRIFT = dg.AssetKey(["monitoring", "feature_drift"])
PERFORMANCE = dg.AssetKey(["monitoring", "model_performance"])
# What a month must have before the features can count it: its loads and its mart partition.
MONTH_INPUTS = [
    FLIGHTS,
    dg.AssetKey(["raw", "weather"]),
    dg.AssetKey(["marts", "fct_flights"]),
]


def months_after(instance: dg.DagsterInstance, key: dg.AssetKey, month: str) -> list[str]:
    return sorted(
        month_of(p) for p in instance.get_materialized_partitions(key) if month_of(p) > month
    )


def first_crossing(
    instance: dg.DagsterInstance, key: dg.AssetKey, months: list[str], field: str, crosses
) -> tuple[str, float] | None:
    """The first of ``months`` whose latest materialization of ``key`` has a ``field`` value
    for which ``crosses(value)`` holds."""
    for month in months:
        value = latest_metadata(instance, key, partition_key(month)).get(field)
        if value is not None and crosses(value):
            return month, value
    return None


def _latest_storage_id(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None
) -> int | None:
    record = latest_record(instance, key, partition)
    return record.storage_id if record else None


def features_not_ready(
    instance: dg.DagsterInstance, months: list[str], check_keys: list[dg.AssetCheckKey]
) -> str | None:
    """Why the feature table does not yet hold ``months`` with passed checks; None when it does.

    A month is ready when its raw loads and its fct_flights partition are materialized, the
    feature table was materialized after all of them, and its blocking checks passed."""
    loaded = {
        (month, key): _latest_storage_id(instance, key, partition_key(month))
        for month in months
        for key in MONTH_INPUTS
    }
    for (month, key), at in loaded.items():
        if at is None:
            return f"waiting for {month}: {key.to_user_string()} is not materialized yet"
    features_at = _latest_storage_id(instance, FEATURES) or 0
    for (month, key), at in loaded.items():
        if features_at < at:
            return (
                f"waiting for {month} to reach the features: {key.to_user_string()} changed "
                "after the latest features/flight_features"
            )
    for check in check_keys:
        record = instance.get_latest_asset_check_evaluation_record(check)
        status = record.status.value if record else "not run"
        if status != "SUCCEEDED":
            return f"waiting for the features' check {check.name}: {status}"
    return None


def retraining_decision(
    instance: dg.DagsterInstance, artifacts: ArtifactStore, check_keys: list[dg.AssetCheckKey]
) -> dg.RunRequest | dg.SkipReason:
    """What the sensor does now: a run request, or the reason for not retraining."""
    registry = artifacts.registry
    champion = registry.champion()
    if champion is None:
        return dg.SkipReason("no champion yet: run the training job once (make run)")
    test_month = registry.card(champion)["data_window"]["test_month"]
    new_months = months_after(instance, FLIGHTS, test_month)
    drift = first_crossing(
        instance,
        DRIFT,
        months_after(instance, DRIFT, test_month),
        "max_psi",
        lambda psi: psi > DRIFT_THRESHOLD,
    )
    decay = first_crossing(
        instance,
        PERFORMANCE,
        months_after(instance, PERFORMANCE, test_month),
        "auc",
        lambda auc: auc < MIN_LIVE_AUC,
    )
    if decay:
        month, auc = decay
        trigger, reason = "performance", f"live AUC {auc:.3f} in {month} < {MIN_LIVE_AUC}"
    elif drift:
        month, max_psi = drift
        trigger = "drift"
        reason = f"feature drift in {month}: max PSI {max_psi:.2f} > {DRIFT_THRESHOLD}"
    elif len(new_months) >= NEW_MONTHS_TRIGGER:
        trigger = "new-months"
        reason = f"{len(new_months)} new month(s) since {test_month}: {', '.join(new_months)}"
    else:
        return dg.SkipReason(f"champion {champion} is current (test month {test_month})")

    waiting = features_not_ready(instance, new_months, check_keys)
    if waiting:
        return dg.SkipReason(f"{reason}, but {waiting}")
    state = latest_metadata(instance, FEATURES).get("data_fingerprint", "unknown")
    trained = latest_metadata(instance, DELAY_MODEL)
    if (
        trained.get("data_fingerprint") == state
        and trained.get("champion_at_training") == champion
        and not trained.get("gate_passed")
    ):
        return dg.SkipReason(
            f"{reason}, but candidate {trained.get('version')} was trained on this data "
            f"(state {state}) and failed the gate: champion {champion} stays until new data lands"
        )
    return dg.RunRequest(
        # One training per champion and data state, whichever trigger asks first.
        run_key=f"retrain:{champion}:{state}",
        tags={
            "flightline/trigger": "retraining",
            "flightline/retrain_trigger": trigger,
            "flightline/retrain_reason": reason,
            "flightline/champion_at_trigger": champion,
            "flightline/data_state": state,
        },
    )


@dg.sensor(
    job=training_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Retrains once per champion and data state, when a month landed after the champion's "
        "test month, its features drift or its live AUC falls, and only after that month has "
        "reached the features with their checks passed. Skipped ticks say why."
    ),
)
def retraining_sensor(context: dg.SensorEvaluationContext, artifacts: ArtifactStore):
    graph = context.repository_def.asset_graph
    checks = [k for k in graph.asset_check_keys if k.asset_key == FEATURES]
    decision = retraining_decision(context.instance, artifacts, checks)
    if isinstance(decision, dg.RunRequest):
        already = context.instance.get_runs(
            dg.RunsFilter(tags={"dagster/run_key": decision.run_key}), limit=1
        )
        if already:
            run = already[0]
            return dg.SkipReason(
                f"{decision.tags['flightline/retrain_reason']}: already trained on this data "
                f"for champion {decision.tags['flightline/champion_at_trigger']} "
                f"(run {run.run_id[:8]}, {run.status.value})"
            )
    return decision
