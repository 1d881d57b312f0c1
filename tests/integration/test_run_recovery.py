"""``kill -9`` of ``flightline materialize`` while its run holds the duckdb pool slot, then the
same command again (with ``--features``): it recovers the dead run, says so, and completes with the
full row counts, features included.

Everything is real: the CLI in a subprocess on a data folder of its own, its Dagster instance
(SQLite, the project's dagster.yaml with the pool limit), DuckDB and dbt.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from flightline.landing import land
from flightline.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow  # the CLI end to end, twice

POOL = "duckdb"
# Bounds, not expectations: each wait ends as soon as its condition holds.
RUN_HOLDS_SLOT_TIMEOUT_S = 300
COMMAND_TIMEOUT_S = 900


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "BENTOML_HOME"))}
    env.pop("FLIGHTLINE_DUCKDB_PATH", None)
    path = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # dbt, as under uv
    return {**env, "PATH": path, "FLIGHTLINE_HOME": str(home), "PYTHONUNBUFFERED": "1"}


def flightline(home: Path, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flightline.cli", *args],
        cwd=PROJECT_ROOT,
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its dbt children can be cleaned up as a group afterwards
        **kwargs,
    )


def wait_for_slot_holder(instance: dg.DagsterInstance, process: subprocess.Popen) -> str:
    """The id of the STARTED run that holds the pool slot, polling until there is one."""
    deadline = time.monotonic() + RUN_HOLDS_SLOT_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()[-5000:]
        storage = instance.event_log_storage
        if POOL in storage.get_concurrency_keys():
            for slot in storage.get_concurrency_info(POOL).claimed_slots:
                run = instance.get_run_by_id(slot.run_id)
                if run and run.status == dg.DagsterRunStatus.STARTED:
                    return run.run_id
        time.sleep(0.2)
    pytest.fail(f"no run held pool {POOL} within {RUN_HOLDS_SLOT_TIMEOUT_S} s")


def kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)


def test_kill_9_during_materialize_then_the_same_command_completes(tmp_path):
    home = tmp_path / "data"
    land(home / "landing", ["2013-01"])
    landed = sum(1 for _ in (home / "landing/flights/flights_2013-01.csv").open()) - 1
    first = flightline(home, "materialize", "--from", "2013-01", "--to", "2013-01")
    try:
        # It says so once its instance has created its storage: opening the instance while the
        # CLI creates it would race it to set up the same SQLite files.
        said = ""
        while not said.startswith("added partitions"):
            said = first.stdout.readline()
            assert said, "the command ended before adding its partitions"
        with dg.DagsterInstance.from_config(str(home / "dagster_home")) as instance:
            run_id = wait_for_slot_holder(instance, first)
            first.send_signal(signal.SIGKILL)  # the flightline process alone, as `kill -9 <pid>`
            first.wait(30)
            # The state that hung the next command for ever before recovery existed.
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
            info = instance.event_log_storage.get_concurrency_info(POOL)
            assert run_id in {slot.run_id for slot in info.claimed_slots}
    finally:
        kill_group(first)  # dbt children the kill orphaned, so they do not outlive the test

    # The same command, now also bringing the features up to date in the same process.
    again = flightline(home, "materialize", "--from", "2013-01", "--to", "2013-01", "--features")
    try:
        output, _ = again.communicate(timeout=COMMAND_TIMEOUT_S)
    finally:
        kill_group(again)
    assert again.returncode == 0, output[-5000:]
    (said,) = [line for line in output.splitlines() if line.startswith("recovery:")]
    assert run_id in said and "which is gone: marked it failed" in said
    assert f"freed its slot in pool {POOL}" in said

    with dg.DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        runs = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
        assert sorted(r.dagster_run.job_name for r in runs) == ["features", "ingest"]
        assert not instance.event_log_storage.get_concurrency_info(POOL).claimed_slots
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        raw = conn.execute("SELECT count(*) FROM raw.flights").fetchone()[0]
        rejects = conn.execute("SELECT count(*) FROM raw.flights_rejects").fetchone()[0]
        fct = conn.execute("SELECT count(*) FROM marts.fct_flights").fetchone()[0]
        features = conn.execute("SELECT count(*) FROM features.flight_features").fetchone()[0]
    assert raw + rejects == landed and raw == fct == features == 27_004

    counts = flightline(home, "counts")
    output, _ = counts.communicate(timeout=COMMAND_TIMEOUT_S)
    assert counts.returncode == 0, output
    assert "marts.fct_flights" in output and "27,004" in output
