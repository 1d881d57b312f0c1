"""The landing sensor: new or changed landing files start ingest runs for exactly their partition.

It reads only the landing zone (never the warehouse). The run key carries the file's hash, so the
same content is never ingested twice, even if the cursor is lost. Nothing in the zone can fail a
tick: a bad entry is refused with a logged reason and the tick goes on with the others.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable

import dagster as dg

from assets.event_log import latest_metadata
from assets.partitions import month_key, monthly_partitions
from flightline.ingest import FULL_PARTITION
from flightline.landing_scan import CURSOR_HASH_CHARS, Skipped, changed_files, scan
from jobs import ingest_job
from resources import LandingZone

# What each landing file feeds, within the ingest job: its raw asset and the dbt models after it.
DOWNSTREAM = {
    "flights": [
        ["raw", "flights"],
        ["staging", "stg_flights"],
        ["intermediate", "int_flights"],
        ["marts", "fct_flights"],
    ],
    "weather": [["raw", "weather"], ["staging", "stg_weather"], ["marts", "fct_flights"]],
    "airlines": [["raw", "airlines"], ["staging", "stg_airlines"], ["marts", "dim_airlines"]],
    "airports": [["raw", "airports"], ["staging", "stg_airports"], ["marts", "dim_airports"]],
    "planes": [["raw", "planes"], ["staging", "stg_planes"], ["marts", "dim_planes"]],
}
SHOWN_REFUSALS = 5  # in the tick's skip message; every new refusal is also logged


def loaded_sha256(instance: dg.DagsterInstance, table: str, month: str | None) -> str | None:
    """The hash of the file behind the latest load of this table and month, from Dagster's own
    event log (the sensor never opens the warehouse)."""
    partition = f"{month}-01" if month else None
    files = latest_metadata(instance, dg.AssetKey(["raw", table]), partition).get("source_files")
    for record in files.records if files else []:
        if record.data["partition"] == (month or FULL_PARTITION):
            return record.data["sha256"]
    return None


def partition_months(now: float) -> tuple[str, str] | None:
    """First and last monthly partition ('YYYY-MM') as of ``now``; None before the first."""
    with dg.partition_loading_context(effective_dt=dt.datetime.fromtimestamp(now, dt.UTC)):
        first = monthly_partitions.get_first_partition_key()
        last = monthly_partitions.get_last_partition_key()
    return (month_key(first), month_key(last)) if first and last else None


CURSOR_VERSION = 2


def write_cursor(seen: dict[str, list], refused: dict[str, str]) -> str:
    """The cursor as compact JSON: files grouped by table folder and keyed by month ('' for a
    reference table), ``{"flights": {"2013-01": [size, mtime_ns, sha256 prefix]}}``, instead of
    one full path and full hash each. The sensor's page in the UI shows it whole."""
    files: dict[str, dict[str, list]] = {}
    for path, entry in sorted(seen.items()):
        folder, _, name = path.partition("/")
        stem = name.removesuffix(".csv")
        key = stem.removeprefix(f"{folder}_") if stem != folder else ""
        if f"{folder}/{_file_name(folder, key)}" != path:
            key = name  # not a landing file name: kept whole
        files.setdefault(folder, {})[key] = entry
    state = {"v": CURSOR_VERSION, "files": files, "refused": refused}
    return json.dumps(state, separators=(",", ":"))


def _file_name(folder: str, key: str) -> str:
    if key.endswith(".csv"):
        return key
    return f"{folder}_{key}.csv" if key else f"{folder}.csv"


def read_cursor(cursor: str | None) -> tuple[dict[str, list], dict[str, str]]:
    """(files seen: relative path -> [size, mtime_ns, sha256 prefix], refusals already logged).

    Reads the compact cursor and the earlier one (full paths and hashes); older cursors held only
    the files, by path: everything is hashed again (run keys still dedupe)."""
    state = json.loads(cursor) if cursor else {}
    refused = state.get("refused", {})
    if state.get("v") == CURSOR_VERSION:
        seen = {
            f"{folder}/{_file_name(folder, key)}": entry
            for folder, entries in state["files"].items()
            for key, entry in entries.items()
        }
        return seen, refused
    if "files" in state:  # full paths and full hashes
        return {p: [*e[:2], e[2][:CURSOR_HASH_CHARS]] for p, e in state["files"].items()}, refused
    return {}, {}


def build_landing_sensor(clock: Callable[[], float] = time.time) -> dg.SensorDefinition:
    """The sensor, reading the time from ``clock`` (tests pass a fixed one)."""

    @dg.sensor(
        name="landing_sensor",
        job=ingest_job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts an ingest run for each new or changed file in the landing zone.",
    )
    def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
        root = landing.path
        seen, logged = read_cursor(context.cursor)
        now = clock()
        found = scan(root, now, partition_months(now))
        changed, seen, unreadable = changed_files(found.files, seen, root)
        refused: list[Skipped] = found.skipped + unreadable
        reasons = {str(s.path.relative_to(root)): s.reason for s in refused}
        for s in refused:
            if logged.get(str(s.path.relative_to(root))) != s.reason:  # log each refusal once
                context.log.warning(f"landing sensor refused {s.path}: {s.reason}")
        requests = []
        for f, digest in changed:
            if loaded_sha256(context.instance, f.table, f.month) == digest:
                continue  # this exact content is already loaded (e.g. by `flightline run`)
            requests.append(
                dg.RunRequest(
                    run_key=f"{f.table}:{f.month or 'full'}:{digest}",
                    partition_key=f"{f.month}-01" if f.month else None,
                    asset_selection=[dg.AssetKey(k) for k in DOWNSTREAM[f.table]],
                    tags={
                        "flightline/landing_file": str(f.path.relative_to(root)),
                        "flightline/sha256": digest,
                        "flightline/trigger": "landing",
                    },
                )
            )
        message = f"no new landing files ({len(found.files)} known)"
        message += "".join(f"; refused {s.path.name}: {s.reason}" for s in refused[:SHOWN_REFUSALS])
        if len(refused) > SHOWN_REFUSALS:
            message += f"; and {len(refused) - SHOWN_REFUSALS} more refused (see the tick's logs)"
        if found.waiting:
            message += f"; {len(found.waiting)} not complete yet, e.g. {found.waiting[0].path.name}"
            message += f": {found.waiting[0].reason}"
        return dg.SensorResult(
            run_requests=requests,
            cursor=write_cursor(seen, reasons),
            skip_reason=None if requests else dg.SkipReason(message),
        )

    return landing_sensor


landing_sensor = build_landing_sensor()
