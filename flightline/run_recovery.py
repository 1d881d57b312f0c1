"""Crash recovery for Dagster runs whose process died (``kill -9``, OOM, a closed laptop).

A run executed in a process that dies stays STARTED in the instance for ever and keeps its slot
in the ``duckdb`` concurrency pool, so the next run on the data folder waits for ever. Dagster's
daemon cannot tell: the default run launcher has no run-worker health check, and in-process runs
(``flightline run``) have no run worker at all. So each run says which process runs it (tags
:data:`PID_TAG`, :data:`HOST_TAG`, :data:`PROCESS_START_TAG`; runs launched from the UI record
their pid in an engine event instead), and :func:`recover_orphaned_runs` marks the runs of a
process that is gone as failed and frees their slots. :class:`SlotWaitReporter` says what a run
waits for while its step is blocked on a pool.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg
import psutil
from dagster._core.events import DagsterEventType

PID_TAG = "flightline/pid"
HOST_TAG = "flightline/host"
# The process's creation time: a pid alone can be reused by an unrelated process after a crash.
PROCESS_START_TAG = "flightline/process_started"
# Slack when comparing process creation times (psutil rounds them; clocks tick coarsely).
START_TOLERANCE_S = 1.0

# NOT_STARTED is included for runs with our tags only: the UI creates NOT_STARTED runs just
# before launching them, and those have no process yet.
UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def process_tags() -> dict[str, str]:
    """Tags that identify the current process, for every run it executes."""
    return {
        PID_TAG: str(os.getpid()),
        HOST_TAG: socket.gethostname(),
        PROCESS_START_TAG: f"{psutil.Process().create_time():.3f}",
    }


@dataclass(frozen=True)
class RunOwner:
    """The process that executes a run, as far as the instance knows."""

    pid: int
    host: str | None  # None: not recorded (assumed local on a local instance)
    started: float | None  # the process's creation time, when recorded

    def describe(self) -> str:
        return f"pid {self.pid}" + (f" on {self.host}" if self.host else "")


def run_owner(instance: dg.DagsterInstance, run: dg.DagsterRun) -> RunOwner | None:
    """The run's process: from our tags, else from the run's first engine event with a pid."""
    tags = run.tags
    if PID_TAG in tags:
        started = tags.get(PROCESS_START_TAG)
        return RunOwner(int(tags[PID_TAG]), tags.get(HOST_TAG), float(started) if started else None)
    # Runs launched by the UI's run launcher: "Started process for run (pid: N)" comes first;
    # later pid events can be step subprocesses, which are not the run's life.
    for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        data = event.engine_event_data if event else None
        if data is not None and event.step_key is None and "pid" in data.metadata:
            return RunOwner(int(data.metadata["pid"].value), None, None)
    return None


def process_alive(owner: RunOwner, run_started: float | None = None) -> bool:
    """Whether ``owner`` (on this host) still runs: same pid, not a zombie, not a reused pid."""
    try:
        process = psutil.Process(owner.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        created = process.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # another user's process: it exists, assume it is the owner
        return True
    if owner.started is not None:
        return abs(created - owner.started) <= START_TOLERANCE_S
    # Without a recorded start, a process younger than the run cannot be the one executing it.
    return run_started is None or created <= run_started + START_TOLERANCE_S


def _is_local_instance(instance: dg.DagsterInstance) -> bool:
    """SQLite storage lives in the data folder: every run on it ran on this machine."""
    return "sqlite" in type(instance.run_storage).__name__.lower()


@dataclass
class Recovery:
    """What :func:`recover_orphaned_runs` did, as lines for the user."""

    failed: list[str] = field(default_factory=list)  # run ids marked failed
    freed: dict[str, list[str]] = field(default_factory=dict)  # run id -> pools freed
    left_alone: list[str] = field(default_factory=list)  # messages about runs we cannot judge
    lines: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.lines)


def _held_pools(instance: dg.DagsterInstance) -> dict[str, list[str]]:
    """run id -> the pools in which it holds a slot or has a step queued."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    held: dict[str, list[str]] = {}
    for key in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(key)
        for run_id in {s.run_id for s in info.claimed_slots} | {
            p.run_id for p in info.pending_steps
        }:
            held.setdefault(run_id, []).append(key)
    return held


def recover_orphaned_runs(instance: dg.DagsterInstance) -> Recovery:
    """Fail the unfinished runs whose process is gone and free every slot no live run holds.

    Runs on another host, or with no recorded process on a shared (non-SQLite) instance, are
    left to Dagster's run monitoring and only reported if they hold a pool slot.
    """
    recovery = Recovery()
    held = _held_pools(instance)
    local = _is_local_instance(instance)
    here = socket.gethostname()
    for record in instance.get_run_records(dg.RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        if run.status == dg.DagsterRunStatus.NOT_STARTED and PID_TAG not in run.tags:
            continue
        owner = run_owner(instance, run)
        if owner is None or (owner.host is None and not local) or owner.host not in (None, here):
            if run.run_id in held:
                where = owner.describe() if owner else "an unrecorded process"
                recovery.left_alone.append(run.run_id)
                recovery.lines.append(
                    f"run {run.run_id} (job {run.job_name}) holds pool {', '.join(held[run.run_id])}"
                    f" and runs in {where}, which this machine cannot check: leaving it to Dagster"
                )
            continue
        if process_alive(owner, record.start_time):
            continue
        message = (
            f"The process that ran this run ({owner.describe()}) is gone (killed or crashed); "
            "marked failed by flightline so that its concurrency slots are freed."
        )
        instance.report_run_failed(run, message)
        recovery.failed.append(run.run_id)
        pools = held.get(run.run_id, [])
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        if pools:
            recovery.freed[run.run_id] = pools
        recovery.lines.append(
            f"run {run.run_id} (job {run.job_name}) was left {run.status.value} by "
            f"{owner.describe()}, which is gone: marked it failed"
            + (f" and freed its slot in pool {', '.join(pools)}" if pools else "")
        )
    # Slots of runs that finished (e.g. marked failed in the UI) or were deleted, but kept them.
    unfinished = {
        r.dagster_run.run_id for r in instance.get_run_records(dg.RunsFilter(statuses=UNFINISHED))
    }
    for run_id, pools in held.items():
        if run_id in unfinished or run_id in recovery.freed:
            continue
        run = instance.get_run_by_id(run_id)
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        recovery.freed[run_id] = pools
        state = f"is {run.status.value}" if run else "no longer exists"
        recovery.lines.append(
            f"run {run_id} {state} but still held pool {', '.join(pools)}: freed it"
        )
    return recovery


# --------------------------------------------------------------------------------------------
# Saying what a blocked run waits for
# --------------------------------------------------------------------------------------------


def describe_wait(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """One line per pool in which ``run_id`` has a step queued behind other runs' slots."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    lines = []
    for key in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(key)
        waiting = sorted(
            p.step_key
            for p in info.pending_steps
            if p.run_id == run_id and not p.assigned_timestamp
        )
        holders = [s for s in info.claimed_slots if s.run_id != run_id]
        if not waiting or not holders:
            continue
        held_by = []
        for slot in holders:
            run = instance.get_run_by_id(slot.run_id)
            owner = run_owner(instance, run) if run else None
            held_by.append(
                f"run {slot.run_id} (job {run.job_name if run else '?'}, step {slot.step_key}"
                + (f", {owner.describe()}" if owner else "")
                + ")"
            )
        lines.append(
            f"waiting for a slot in pool '{key}' (limit {info.slot_count}) for step "
            f"{', '.join(waiting)}: held by {'; '.join(held_by)}. It frees when that run ends "
            "(a dead run is recovered by the next flightline command)."
        )
    return lines


class SlotWaitReporter:
    """A background thread that prints :func:`describe_wait` when it changes (or every
    ``repeat_s``) while a run executes in this process."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        run_id: str,
        *,
        poll_s: float = 2.0,
        repeat_s: float = 60.0,
        emit: Callable[[str], None] = print,
    ) -> None:
        self.instance, self.run_id = instance, run_id
        self.poll_s, self.repeat_s, self.emit = poll_s, repeat_s, emit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="slot-wait", daemon=True)

    def __enter__(self) -> SlotWaitReporter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        last: list[str] = []
        last_at = 0.0
        while not self._stop.wait(self.poll_s):
            try:
                lines = describe_wait(self.instance, self.run_id)
            except Exception:  # a reporting thread must never disturb the run
                continue
            now = time.monotonic()
            if lines and (lines != last or now - last_at >= self.repeat_s):
                for line in lines:
                    self.emit(line)
                last_at = now
            last = lines
