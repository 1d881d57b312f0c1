"""The retraining sensor: start the training job when the champion has fallen behind the data.

Triggers (each recorded in the run's tags), first match wins: a month's live AUC below the floor,
a month whose feature drift (PSI) crossed the threshold, or a configured number of months landed
after the champion's test month. The run key
names the champion and the trigger, so one trigger never starts two trainings; when the gate
fails the champion stays, and so does the key. Reads the registry file and Dagster's event log,
never the warehouse.
"""

import dagster as dg

from assets.event_log import latest_metadata
from flightline.drift import DRIFT_THRESHOLD
from jobs import training_job
from resources import ArtifactStore

NEW_MONTHS_TRIGGER = 1  # retrain once this many months have landed after the champion's test month
MIN_LIVE_AUC = 0.65  # retrain when a month's live AUC falls below this
FLIGHTS = dg.AssetKey(["raw", "flights"])
DRIFT = dg.AssetKey(["monitoring", "feature_drift"])
PERFORMANCE = dg.AssetKey(["monitoring", "model_performance"])


def months_after(instance: dg.DagsterInstance, key: dg.AssetKey, month: str) -> list[str]:
    return sorted(p[:7] for p in instance.get_materialized_partitions(key) if p[:7] > month)


def first_crossing(
    instance: dg.DagsterInstance, key: dg.AssetKey, months: list[str], field: str, crosses
) -> tuple[str, float] | None:
    """The first of ``months`` whose latest materialization of ``key`` has a ``field`` value
    for which ``crosses(value)`` holds."""
    for month in months:
        value = latest_metadata(instance, key, f"{month}-01").get(field)
        if value is not None and crosses(value):
            return month, value
    return None


@dg.sensor(
    job=training_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retrains when new months land after the champion's data or features drift.",
)
def retraining_sensor(context: dg.SensorEvaluationContext, artifacts: ArtifactStore):
    registry = artifacts.registry
    champion = registry.champion()
    if champion is None:
        return dg.SkipReason("no champion yet: run the training job once (make run)")
    test_month = registry.card(champion)["data_window"]["test_month"]
    new_months = months_after(context.instance, FLIGHTS, test_month)
    instance = context.instance
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
        reason = f"live AUC {auc:.3f} in {month} < {MIN_LIVE_AUC}"
        run_key = f"performance:{champion}:{month}"
    elif drift:
        month, max_psi = drift
        reason = f"feature drift in {month}: max PSI {max_psi:.2f} > {DRIFT_THRESHOLD}"
        run_key = f"drift:{champion}:{month}"
    elif len(new_months) >= NEW_MONTHS_TRIGGER:
        reason = f"{len(new_months)} new month(s) since {test_month}: {', '.join(new_months)}"
        run_key = f"new-months:{champion}:{new_months[-1]}"
    else:
        return dg.SkipReason(f"champion {champion} is current (test month {test_month})")
    return dg.RunRequest(
        run_key=run_key,
        tags={
            "flightline/trigger": "retraining",
            "flightline/retrain_reason": reason,
            "flightline/champion_at_trigger": champion,
        },
    )
