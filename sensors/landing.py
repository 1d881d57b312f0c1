"""The landing sensor: new or changed landing files start ingest runs for exactly their partition.

It reads only the landing zone (never the warehouse). The run key carries the file's hash, so the
same content is never ingested twice, even if the cursor is lost. Nothing in the zone can fail a
tick: a bad entry is refused with a logged reason and the tick goes on with the others.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import dagster as dg

from assets.event_log import latest_metadata
from assets.partitions import (
    MONTHS_PARTITIONS,
    add_partitions_request,
    landable_months,
    new_partition_keys,
)
from flightline.ingest import FULL_PARTITION
from flightline.landing_scan import CURSOR_HASH_CHARS, Skipped, changed_files, scan
from flightline.months import partition_key
from jobs import ingest_job
from resources import LandingZone

if TYPE_CHECKING:
    from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph

SHOWN_REFUSALS = 5  # in the tick's skip message; every new refusal is also logged


def loaded_sha256(instance: dg.DagsterInstance, table: str, month: str | None) -> str | None:
    """The hash of the file behind the latest load of this table and month, from Dagster's own
    event log (the sensor never opens the warehouse)."""
    partition = partition_key(month) if month else None
    files = latest_metadata(instance, dg.AssetKey(["raw", table]), partition).get("source_files")
    for record in files.records if files else []:
        if record.data["partition"] == (month or FULL_PARTITION):
            return record.data["sha256"]
    return None


def ingest_targets(asset_graph: BaseAssetGraph, table: str) -> list[dg.AssetKey]:
    """What a landing file of ``table`` feeds, from the asset graph: its raw asset and everything
    after it within the ingest job. A reference table's run has no month, so it leaves out the
    monthly assets (they pick the change up when their months next build)."""
    raw = dg.AssetKey(["raw", table])
    keys = (dg.AssetSelection.assets(raw).downstream() & ingest_job.selection).resolve(asset_graph)
    if asset_graph.get(raw).partitions_def is None:
        keys = {k for k in keys if asset_graph.get(k).partitions_def is None}
    return sorted(keys, key=lambda k: k.path)


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
        found = scan(root, now, landable_months(now))
        changed, seen, unreadable = changed_files(found.files, seen, root)
        refused: list[Skipped] = found.skipped + unreadable
        reasons = {str(s.path.relative_to(root)): s.reason for s in refused}
        for s in refused:
            if logged.get(str(s.path.relative_to(root))) != s.reason:  # log each refusal once
                context.log.warning(f"landing sensor refused {s.path}: {s.reason}")
        requests = []
        targets: dict[str, list[dg.AssetKey]] = {}
        for f, digest in changed:
            if loaded_sha256(context.instance, f.table, f.month) == digest:
                continue  # this exact content is already loaded (e.g. by `flightline run`)
            requests.append(
                dg.RunRequest(
                    run_key=f"{f.table}:{f.month or 'full'}:{digest}",
                    partition_key=partition_key(f.month) if f.month else None,
                    asset_selection=targets.setdefault(
                        f.table, ingest_targets(context.repository_def.asset_graph, f.table)
                    ),
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
        # A landed month gets its partition before its runs are requested (Dagster applies the
        # partition requests first), so the UI lists exactly the months that have data. Every
        # complete file counts, requested or already loaded: a data folder loaded before the
        # partitions were dynamic gets its months on the first tick.
        new_keys = new_partition_keys(
            context.instance.get_dynamic_partitions(MONTHS_PARTITIONS),
            [f.month for f in found.files if f.month],
        )
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[add_partitions_request(new_keys)] if new_keys else None,
            cursor=write_cursor(seen, reasons),
            skip_reason=None if requests else dg.SkipReason(message),
        )

    return landing_sensor


landing_sensor = build_landing_sensor()
