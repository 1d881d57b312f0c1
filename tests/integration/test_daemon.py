"""The closed loop under the real daemon and webserver.

``flightline ui`` (``dagster dev``: webserver + daemon) runs on a free port over a data folder of
the test's own, with a champion trained on January–March 2013. A simulated January 2014 lands,
and everything is asserted through the webserver's GraphQL API: the landing sensor's runs, the
month's partition and its materializations, the retraining run with its reason, and no second
training. Polling ends as soon as the state is reached; the deadline only bounds a hung run.
"""

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.local_servers import free_port
from flightline import settings
from flightline.cli import install_instance_config
from flightline.synthetic.knobs import parse_drift
from flightline.synthetic.simulate import simulate_months

pytestmark = pytest.mark.slow

DEADLINE_SECONDS = 30 * 60  # generous: runs queue one at a time on a busy 2-core machine
POLL_SECONDS = 5
SETTLED = 1_000_000_000  # landing files modified long ago: complete, not still being written
COPIED = ["2013-01-01", "2013-02-01", "2013-03-01"]
NEW = "2014-01-01"

RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    ... on Runs { results { runId jobName status startTime endTime tags { key value } } }
  }
}"""
PARTITIONS = """
query Partitions($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) { ... on AssetNode { partitionKeys } }
}"""
MATERIALIZATIONS = """
query Materializations($key: AssetKeyInput!, $partitions: [String!]) {
  assetOrError(assetKey: $key) {
    ... on Asset {
      assetMaterializations(partitions: $partitions, limit: 1) {
        partition
        metadataEntries {
          label
          ... on IntMetadataEntry { intValue }
          ... on TableMetadataEntry { table { records } }
        }
      }
    }
  }
}"""
REPOSITORIES = """
{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }
"""
TICKS = """
query Ticks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    ... on Sensor { sensorState { ticks(limit: 20) { status timestamp skipReason } } }
  }
}"""


class GraphQL:
    def __init__(self, url: str):
        self.url = url

    def __call__(self, query: str, **variables: Any) -> dict:
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        assert not answer.get("errors"), answer["errors"]
        return answer["data"]

    def runs(self, job: str, **tags: str) -> list[dict]:
        filter_ = {"pipelineName": job, "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        return self(RUNS, filter=filter_)["runsOrError"]["results"]

    def partitions(self, *path: str) -> list[str]:
        return self(PARTITIONS, key={"path": list(path)})["assetNodeOrError"]["partitionKeys"]

    def latest(self, partition: str, *path: str) -> dict[str, Any] | None:
        """Metadata of the partition's latest materialization (ints and tables), or None."""
        asset = self(MATERIALIZATIONS, key={"path": list(path)}, partitions=[partition])
        events = asset["assetOrError"].get("assetMaterializations") or []
        if not events:
            return None
        return {e["label"]: e.get("intValue", e.get("table")) for e in events[0]["metadataEntries"]}


def tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["tags"]}


def done(runs: list[dict], count: int, may_fail: bool = False) -> list[dict] | None:
    """The runs once ``count`` of them have ended; fails on a failed one unless ``may_fail`` (a
    training whose candidate fails the gate fails its run)."""
    ok = ("SUCCESS", "FAILURE") if may_fail else ("SUCCESS",)
    for run in runs:
        assert run["status"] in (*ok, "QUEUED", "NOT_STARTED", "STARTING", "STARTED"), (
            f"run {run['runId']} of {run['jobName']}: {run['status']}"
        )
    ended = [r for r in runs if r["status"] in ok]
    return ended if len(ended) >= count else None


def wait_for(what: str, probe: Callable[[], Any], server: subprocess.Popen, log: Path) -> Any:
    """Poll ``probe`` until it returns something truthy, the server dies or the deadline passes."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            value = probe()
        except (urllib.error.URLError, ConnectionError):
            value = None  # the webserver is not up yet
        if value:
            return value
        if server.poll() is not None:
            pytest.fail(
                f"dagster dev exited ({server.returncode}) waiting for {what}:\n{tail(log)}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {DEADLINE_SECONDS}s:\n{tail(log)}")
        time.sleep(POLL_SECONDS)


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def platform(trained, tmp_path, monkeypatch) -> Path:
    """A data folder with the trained January–March 2013 (warehouse, landing zone, champion) and
    the Dagster instance that recorded their loads, as after `flightline run`."""
    shutil.copytree(trained.home, tmp_path, dirs_exist_ok=True)
    monkeypatch.setenv("FLIGHTLINE_HOME", str(tmp_path))
    monkeypatch.setenv("FLIGHTLINE_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    config = install_instance_config(tmp_path / "dagster_home")
    # Loading the definitions (and dbt's parse) takes minutes on a busy machine: the code server
    # gets longer than Dagster's 180 s default to start (an edited file `flightline ui` keeps).
    config.write_text(config.read_text() + "code_servers:\n  local_startup_timeout: 900\n")
    return tmp_path


def test_a_landed_month_is_ingested_and_retrains_once_under_the_daemon(platform):
    started = time.monotonic()
    port = free_port()
    log = platform / "dagster_dev.log"
    api = GraphQL(f"http://127.0.0.1:{port}/graphql")
    with log.open("w") as out:
        server = subprocess.Popen(
            [shutil.which("flightline") or "flightline", "ui", "--port", str(port)],
            cwd=settings.PROJECT_ROOT,
            env=os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the daemon's runs stop with it
        )
    try:
        repo = wait_for(
            "code location",
            lambda: api(REPOSITORIES)["repositoriesOrError"].get("nodes"),
            server,
            log,
        )[0]
        # Only the months that landed have partitions: no empty month up to today.
        assert api.partitions("raw", "flights") == COPIED

        january = simulate_months(platform / "landing", ["2014-01"], parse_drift("none"))
        for path in january:
            os.utime(path, (SETTLED, SETTLED))
        flights_rows = sum(1 for _ in january[0].open()) - 1

        # The landing sensor adds the month's partition and starts one ingest run per file.
        ingests = wait_for(
            "landing runs for 2014-01",
            lambda: done(api.runs("ingest", **{"dagster/partition": NEW}), 2),
            server,
            log,
        )
        assert {tags(r)["flightline/landing_file"] for r in ingests} == {
            "flights/flights_2014-01.csv",
            "weather/weather_2014-01.csv",
        }
        assert all(tags(r)["flightline/trigger"] == "landing" for r in ingests)
        assert api.partitions("raw", "flights") == [*COPIED, NEW]
        assert api.partitions("marts", "fct_flights") == [*COPIED, NEW]
        flights = api.latest(NEW, "raw", "flights")
        assert flights["rows_read"] == flights_rows  # the month's own figures, not the range's
        assert 0 < flights["dagster/row_count"] <= flights_rows
        assert [r["file"] for r in map(json.loads, flights["source_files"]["records"])] == [
            "flights/flights_2014-01.csv"
        ]
        assert (
            wait_for(
                "fct_flights for 2014-01",
                lambda: api.latest(NEW, "marts", "fct_flights"),
                server,
                log,
            )
            is not None
        )

        # The features follow (automation), then the retraining sensor asks for one training.
        (training,) = wait_for(
            "the retraining run", lambda: done(api.runs("training"), 1, may_fail=True), server, log
        )
        assert tags(training)["flightline/retrain_trigger"] == "new-months"
        assert (
            tags(training)["flightline/retrain_reason"] == "1 new month(s) since 2013-03: 2014-01"
        )

        # Its next ticks skip, saying why, and no second training follows.
        selector = {
            "repositoryLocationName": repo["location"]["name"],
            "repositoryName": repo["name"],
            "sensorName": "retraining_sensor",
        }

        def skipped_after_training() -> str | None:
            ticks = api(TICKS, selector=selector)["sensorOrError"]["sensorState"]["ticks"]
            later = [t for t in ticks if t["timestamp"] > training["endTime"]]
            return next((t["skipReason"] for t in later if t["status"] == "SKIPPED"), None)

        reason = wait_for(
            "a retraining tick after the training", skipped_after_training, server, log
        )
        # the new champion is current, or the candidate failed the gate on this very data
        assert "is current (test month 2014-01)" in reason or "failed the gate" in reason, reason
        assert len(api.runs("training")) == 1
        print(f"\ndaemon loop: {time.monotonic() - started:.0f}s; last retraining tick: {reason}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
