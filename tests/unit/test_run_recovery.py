"""Run recovery on a real (temporary, SQLite) Dagster instance with a real pool slot table."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import dagster as dg
import psutil
import pytest
from dagster._core.events import EngineEventData
from dagster._core.utils import make_new_run_id

from flightline.run_recovery import (
    HOST_TAG,
    PID_TAG,
    PROCESS_START_TAG,
    SlotWaitReporter,
    describe_wait,
    process_tags,
    recover_orphaned_runs,
)

POOL = "duckdb"


@pytest.fixture
def instance(tmp_path):
    with dg.instance_for_test(
        temp_dir=str(tmp_path),
        overrides={"concurrency": {"pools": {"default_limit": 1, "granularity": "op"}}},
    ) as instance:
        instance.event_log_storage.set_concurrency_slots(POOL, 1)
        yield instance


@pytest.fixture(scope="module")
def dead_process() -> dict[str, str]:
    """Tags of a process that ran and exited (reaped: not even a zombie)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = psutil.Process(child.pid).create_time()
    child.kill()
    child.wait()
    host = process_tags()[HOST_TAG]
    return {PID_TAG: str(child.pid), HOST_TAG: host, PROCESS_START_TAG: f"{started:.3f}"}


def add_run(instance, tags: dict[str, str], status=dg.DagsterRunStatus.STARTED) -> dg.DagsterRun:
    run = dg.DagsterRun(job_name="ingest", run_id=make_new_run_id(), status=status, tags=tags)
    return instance.add_run(run)


def claim(instance, run: dg.DagsterRun, step: str = "raw__flights") -> bool:
    status = instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, step)
    return status.is_claimed


def holders(instance) -> set[str]:
    return {s.run_id for s in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots}


def status(instance, run: dg.DagsterRun) -> dg.DagsterRunStatus:
    return instance.get_run_by_id(run.run_id).status


def test_a_dead_process_run_is_failed_and_its_slot_freed(instance, dead_process):
    run = add_run(instance, dead_process)
    assert claim(instance, run)
    waiting = add_run(instance, process_tags())
    assert not claim(instance, waiting)  # the slot is held: the hang a dead run used to cause

    recovery = recover_orphaned_runs(instance)

    assert recovery.failed == [run.run_id] and recovery.freed == {run.run_id: [POOL]}
    assert status(instance, run) == dg.DagsterRunStatus.FAILURE
    assert run.run_id not in holders(instance)
    assert claim(instance, waiting)  # its queued step gets the freed slot
    (line,) = recovery.lines
    assert run.run_id in line and f"pid {dead_process[PID_TAG]}" in line and POOL in line
    failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert "is gone" in failure[0].dagster_event.message


def test_a_live_process_run_is_left_running(instance):
    run = add_run(instance, process_tags())
    assert claim(instance, run)
    recovery = recover_orphaned_runs(instance)
    assert not recovery and status(instance, run) == dg.DagsterRunStatus.STARTED
    assert holders(instance) == {run.run_id}


def test_a_reused_pid_does_not_keep_a_dead_run_alive(instance):
    # Our own pid, but a process creation time that is not ours: the recorded process is gone.
    tags = {**process_tags(), PROCESS_START_TAG: "1000.000"}
    run = add_run(instance, tags)
    assert recover_orphaned_runs(instance).failed == [run.run_id]


def test_a_run_on_another_host_is_reported_not_touched(instance, dead_process):
    run = add_run(instance, {**dead_process, HOST_TAG: "some-other-host"})
    assert claim(instance, run)
    recovery = recover_orphaned_runs(instance)
    assert recovery.failed == [] and recovery.left_alone == [run.run_id]
    assert "some-other-host" in recovery.lines[0]
    assert status(instance, run) == dg.DagsterRunStatus.STARTED and holders(instance) == {
        run.run_id
    }


def test_an_untagged_run_is_judged_by_its_engine_event_pid(instance, dead_process):
    # Runs launched from the UI carry no flightline tags; their run worker logs its pid.
    run = add_run(instance, {})
    pid = int(dead_process[PID_TAG])
    instance.report_engine_event(
        f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid)
    )
    alive = add_run(instance, {})
    instance.report_engine_event("Started.", alive, EngineEventData.in_process(os.getpid()))
    assert recover_orphaned_runs(instance).failed == [run.run_id]
    assert status(instance, alive) == dg.DagsterRunStatus.STARTED


def test_a_finished_run_still_holding_a_slot_is_freed(instance):
    run = add_run(instance, process_tags())
    assert claim(instance, run)
    instance.report_run_failed(instance.get_run_by_id(run.run_id), "failed in the UI")
    recovery = recover_orphaned_runs(instance)
    assert recovery.failed == [] and recovery.freed == {run.run_id: [POOL]}
    assert holders(instance) == set() and "is FAILURE" in recovery.lines[0]


def test_a_blocked_run_says_which_run_holds_the_pool(instance, dead_process):
    holder = add_run(instance, dead_process)
    assert claim(instance, holder, "dbt_monthly_models")
    blocked = add_run(instance, process_tags())
    assert not claim(instance, blocked)

    (line,) = describe_wait(instance, blocked.run_id)
    assert f"pool '{POOL}' (limit 1)" in line and "step raw__flights" in line
    assert f"held by run {holder.run_id} (job ingest, step dbt_monthly_models" in line
    assert describe_wait(instance, holder.run_id) == []

    said = threading.Event()
    lines: list[str] = []

    def emit(text: str) -> None:
        lines.append(text)
        said.set()

    with SlotWaitReporter(instance, blocked.run_id, poll_s=0.05, emit=emit):
        assert said.wait(30)
    assert lines[0] == line
