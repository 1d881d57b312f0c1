"""The landing sensor: new or changed landing files start ingest runs for exactly their partition.

It reads only the landing zone (never the warehouse). The run key carries the file's hash, so the
same content is never ingested twice, even if the cursor is lost.
"""

import json

import dagster as dg

from assets.event_log import latest_metadata
from flightline.ingest import FULL_PARTITION
from flightline.landing_scan import changed_files, scan
from jobs import ingest_job
from resources import LandingZone

# What each landing file feeds, within the ingest job: its raw asset and the dbt models after it.
DOWNSTREAM = {
    "flights": [["raw", "flights"], ["staging", "stg_flights"], ["marts", "fct_flights"]],
    "weather": [["raw", "weather"], ["staging", "stg_weather"], ["marts", "fct_flights"]],
    "airlines": [["raw", "airlines"], ["staging", "stg_airlines"], ["marts", "dim_airlines"]],
    "airports": [["raw", "airports"], ["staging", "stg_airports"], ["marts", "dim_airports"]],
    "planes": [["raw", "planes"], ["staging", "stg_planes"], ["marts", "dim_planes"]],
}


def loaded_sha256(instance: dg.DagsterInstance, table: str, month: str | None) -> str | None:
    """The hash of the file behind the latest load of this table and month, from Dagster's own
    event log (the sensor never opens the warehouse)."""
    partition = f"{month}-01" if month else None
    files = latest_metadata(instance, dg.AssetKey(["raw", table]), partition).get("source_files")
    for record in files.records if files else []:
        if record.data["partition"] == (month or FULL_PARTITION):
            return record.data["sha256"]
    return None


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts an ingest run for each new or changed file in the landing zone.",
)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
    seen = json.loads(context.cursor) if context.cursor else {}
    files, skipped = scan(landing.path)
    for s in skipped:
        context.log.warning(f"landing sensor refused {s.path}: {s.reason}")
    changed, seen = changed_files(files, seen)
    requests = []
    for f, digest in changed:
        if loaded_sha256(context.instance, f.table, f.month) == digest:
            continue  # this exact content is already loaded (e.g. by `flightline run`)
        keys = [dg.AssetKey(k) for k in DOWNSTREAM[f.table]]
        requests.append(
            dg.RunRequest(
                run_key=f"{f.table}:{f.month or 'full'}:{digest}",
                partition_key=f"{f.month}-01" if f.month else None,
                asset_selection=keys,
                tags={
                    "flightline/landing_file": str(f.path.relative_to(landing.path)),
                    "flightline/sha256": digest,
                    "flightline/trigger": "landing",
                },
            )
        )
    return dg.SensorResult(
        run_requests=requests,
        cursor=json.dumps(seen),
        skip_reason=None
        if requests
        else dg.SkipReason(
            f"no new landing files ({len(files)} known)"
            + "".join(f"; refused {s.path.name}: {s.reason}" for s in skipped)
        ),
    )
