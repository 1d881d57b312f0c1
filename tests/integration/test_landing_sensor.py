"""The landing sensor against a real Dagster instance and a real landing zone.

Time comes from an injected clock: no test depends on how long a tick takes.
"""

import datetime as dt
import json
import os
import shutil

import dagster as dg
import pytest

import flightline.landing_scan as landing_scan
from flightline.landing import landing_file
from flightline.landing_scan import SETTLE_SECONDS
from flightline.raw_schemas import FLIGHTS
from resources import LandingZone
from sensors.landing import build_landing_sensor, read_cursor, write_cursor

NOW = dt.datetime(2014, 6, 15, 12, tzinfo=dt.UTC).timestamp()  # partitions 2013-01 .. 2014-05
SETTLED = 1_000_000_000  # modified long before NOW
JAN, FEB = "2013-01-01", "2013-02-01"


@pytest.fixture
def zone(landed_2013, tmp_path):
    root = shutil.copytree(landed_2013, tmp_path / "landing")
    for path in root.rglob("*.csv"):
        os.utime(path, (SETTLED, SETTLED))
    return root


@pytest.fixture(scope="module")
def instance():
    """One Dagster instance for the module: the sensor only reads it (creating one per tick is
    what would make these tests slow)."""
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def evaluate(instance):
    """Evaluate the landing sensor once, at ``now`` by its clock."""
    from definitions import defs

    def tick(zone, cursor=None, now=NOW, on=None):
        with dg.build_sensor_context(
            instance=on or instance,
            cursor=cursor,
            definitions=defs,
            resources={"landing": LandingZone(root=str(zone))},
        ) as context:
            return build_landing_sensor(clock=lambda: now)(context)

    return tick


def requested(result) -> set[str]:
    return {r.run_key.rsplit(":", 1)[0] for r in result.run_requests}


def refused(result) -> dict[str, str]:
    return json.loads(result.cursor)["refused"]


def touch(path, when: float, text: str = "year,month\n") -> None:
    if not path.exists():
        path.write_text(text)
    os.utime(path, (when, when))


def test_new_files_request_runs_for_their_partition_and_only_once(evaluate, zone):
    result = evaluate(zone)
    requests = {r.run_key.rsplit(":", 1)[0]: r for r in result.run_requests}
    assert set(requests) == {
        "flights:2013-01",
        "flights:2013-02",
        "weather:2013-01",
        "weather:2013-02",
        "airlines:full",
        "airports:full",
        "planes:full",
    }
    jan = requests["flights:2013-01"]
    assert jan.partition_key == "2013-01-01"
    assert jan.tags["flightline/landing_file"] == "flights/flights_2013-01.csv"
    # what a file feeds comes from the asset graph: its raw asset and the models after it in the
    # ingest job; a reference table's run leaves out the monthly mart (it has no month)
    assert [k.to_user_string() for k in jan.asset_selection] == [
        "intermediate/int_flights",
        "marts/fct_flights",
        "raw/flights",
        "staging/stg_flights",
    ]
    assert [k.to_user_string() for k in requests["planes:full"].asset_selection] == [
        "marts/dim_planes",
        "raw/planes",
        "staging/stg_planes",
    ]
    # the landed months get their partitions, in the same tick, in calendar order
    (added,) = result.dynamic_partitions_requests
    assert (added.partitions_def_name, added.partition_keys) == ("months", [JAN, FEB])

    again = evaluate(zone, cursor=result.cursor)
    assert again.run_requests == []

    # the same file rewritten with new content is a new run, keyed by the new hash
    path = landing_file(zone, FLIGHTS, "2013-01")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")
    os.utime(path, (SETTLED + 100, SETTLED + 100))
    with dg.instance_for_test() as instance:  # one where the months already have partitions
        instance.add_dynamic_partitions("months", [JAN, FEB])
        changed = evaluate(zone, cursor=again.cursor, on=instance)
    assert [r.partition_key for r in changed.run_requests] == [JAN]
    assert changed.run_requests[0].run_key != jan.run_key
    assert not changed.dynamic_partitions_requests  # nothing new to add


def test_partial_and_outside_files_are_ignored_or_refused(evaluate, zone, tmp_path):
    result = evaluate(zone)
    (zone / "flights" / "flights_2013-03.csv.part").write_text("year,month\n")
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("x\n")
    (zone / "flights" / "flights_2013-05.csv").symlink_to(outside)

    later = evaluate(zone, cursor=result.cursor)
    assert later.run_requests == []
    known = {os.path.basename(k) for k in read_cursor(later.cursor)[0]}
    assert "flights_2013-02.csv" in known
    assert known.isdisjoint({"flights_2013-03.csv.part", "flights_2013-05.csv"})
    assert "refused flights_2013-05.csv: resolves outside the landing zone" in (
        later.skip_reason.skip_message
    )


def test_bad_entries_are_refused_one_by_one_and_valid_files_still_run(evaluate, zone, tmp_path):
    flights = zone / "flights"
    for name in ("flights_2013-13.csv", "flights_2013-00.csv", "flights_2012-12.csv"):
        touch(flights / name, SETTLED)
    touch(flights / "flights_2014-06.csv", SETTLED)  # the month has not ended at NOW
    touch(flights / "flights_2013-1.csv", SETTLED)
    (flights / "flights_2013-04.csv").symlink_to(tmp_path / "deleted.csv")  # dangling
    (flights / "flights_2013-06.csv").mkdir()
    (zone / "gates").mkdir()

    result = evaluate(zone)  # does not raise
    assert {"flights:2013-01", "flights:2013-02", "planes:full"} <= requested(result)
    assert refused(result) == {
        "flights/flights_2013-13.csv": "month 2013-13 does not exist",
        "flights/flights_2013-00.csv": "month 2013-00 does not exist",
        "flights/flights_2012-12.csv": "month 2012-12 is before the first partition (2013-01)",
        "flights/flights_2014-06.csv": "month 2014-06 is after the last partition (2014-05): "
        "a month gets its partition once it has ended",
        "flights/flights_2013-1.csv": "not a landing file name (expected flights_YYYY-MM.csv)",
        "flights/flights_2013-04.csv": "dangling symlink: its target does not exist",
        "flights/flights_2013-06.csv": "not a regular file",
        "gates": "not a table folder (expected ['flights', 'weather', 'airlines', 'airports', "
        "'planes'])",
    }
    # once its month has ended, the same file is a landing file like any other
    in_july = evaluate(zone, cursor=result.cursor, now=NOW + 30 * 86_400)
    assert requested(in_july) == {"flights:2014-06"}


def test_a_file_is_complete_when_its_marker_says_so(evaluate, zone):
    flights = zone / "flights"
    cursor = evaluate(zone).cursor
    march, april = flights / "flights_2013-03.csv", flights / "flights_2013-04.csv"
    touch(march, SETTLED)
    touch(april, SETTLED)
    touch(flights / "flights_2013-03.csv.done", SETTLED - 10)  # older than its file
    waiting = evaluate(zone, cursor=cursor)
    assert waiting.run_requests == []
    # the folder now uses markers: January and February (already known) wait for theirs too
    assert "4 not complete yet, e.g. flights_2013-01.csv: waiting for flights_2013-01.csv.done" in (
        waiting.skip_reason.skip_message
    )
    touch(flights / "flights_2013-03.csv.done", SETTLED + 10)
    ready = evaluate(zone, cursor=waiting.cursor)
    assert requested(ready) == {"flights:2013-03"}  # April waits for its own marker
    touch(flights / "flights_2013-04.csv.done", SETTLED + 10)
    assert requested(evaluate(zone, cursor=ready.cursor)) == {"flights:2013-04"}


def test_without_a_marker_a_file_must_be_untouched_for_the_settle_time(evaluate, zone):
    cursor = evaluate(zone).cursor
    written = NOW - 5
    touch(zone / "weather" / "weather_2013-03.csv", written)
    early = evaluate(zone, cursor=cursor, now=written + SETTLE_SECONDS - 1)
    assert early.run_requests == []
    assert "weather_2013-03.csv: modified 59s ago" in early.skip_reason.skip_message
    later = evaluate(zone, cursor=early.cursor, now=written + SETTLE_SECONDS + 1)
    assert requested(later) == {"weather:2013-03"}


def test_thousands_of_entries_keep_each_tick_bounded(evaluate, zone, monkeypatch):
    hashed: list[str] = []
    real_hash = landing_scan.file_sha256

    def counting_hash(path):
        hashed.append(path.name)
        return real_hash(path)

    monkeypatch.setattr(landing_scan, "file_sha256", counting_hash)
    monkeypatch.setattr(landing_scan, "MAX_HASH_FILES_PER_TICK", 10)
    flights = zone / "flights"
    for i in range(3_000):
        (flights / f"notes_{i}.txt").write_text("")
        (flights / f"flights_2013-{i:04d}.csv.part").write_text("")
    for month in range(3, 13):
        touch(flights / f"flights_2013-{month:02d}.csv", SETTLED)

    cursor, runs = None, set()
    for _ in range(3):
        tick = evaluate(zone, cursor=cursor)
        runs |= requested(tick)
        cursor = tick.cursor
    assert len(hashed) == 17 and len(runs) == 17  # 10 on the first tick, 7 on the second
    assert len(refused(tick)) == 3_000
    assert "and 2995 more refused" in tick.skip_reason.skip_message
    hashed.clear()
    assert evaluate(zone, cursor=cursor).run_requests == [] and hashed == []


def test_content_already_loaded_is_not_requested_again(evaluate, zone, tmp_path):
    from dagster_duckdb import DuckDBResource

    from assets.raw import raw_assets

    flights_asset = next(a for a in raw_assets if a.key == dg.AssetKey(["raw", "flights"]))
    with dg.instance_for_test() as instance:  # a fresh one: this test records a load
        instance.add_dynamic_partitions("months", [JAN])
        dg.materialize(
            [flights_asset],
            partition_key=JAN,
            instance=instance,
            resources={
                "warehouse": DuckDBResource(database=str(tmp_path / "w.duckdb")),
                "landing": LandingZone(root=str(zone)),
            },
        )
        result = evaluate(zone, on=instance)
        # a month loaded before it had a partition (a data folder from before the partitions
        # were the landed months) gets one, although its file is not loaded again
        instance.delete_dynamic_partition("months", JAN)
        migrated = evaluate(zone, on=instance)
    keys = requested(result)
    assert "flights:2013-01" not in keys
    assert "flights:2013-02" in keys
    assert result.dynamic_partitions_requests[0].partition_keys == [FEB]
    assert "flights:2013-01" not in requested(migrated)
    assert migrated.dynamic_partitions_requests[0].partition_keys == [JAN, FEB]


def test_the_cursor_is_compact_and_reads_back_exactly(evaluate, zone):
    result = evaluate(zone)
    seen, refusals = read_cursor(result.cursor)
    assert len(seen) == 7 and refusals == {}
    assert (
        seen["flights/flights_2013-01.csv"][2]
        == next(
            r.run_key.rsplit(":", 1)[1]
            for r in result.run_requests
            if r.run_key.startswith("flights:2013-01")
        )[: landing_scan.CURSOR_HASH_CHARS]
    )
    assert read_cursor(write_cursor(seen, {"gates": "not a table folder"})) == (
        seen,
        {"gates": "not a table folder"},
    )
    state = json.loads(result.cursor)
    assert set(state["files"]) == {"flights", "weather", "airlines", "airports", "planes"}
    assert set(state["files"]["flights"]) == {"2013-01", "2013-02"}
    assert set(state["files"]["planes"]) == {""}
    # the earlier cursor (full paths and hashes) is read, and its files are not hashed again
    earlier = json.dumps({"files": {p: [*e[:2], e[2] + "0" * 48] for p, e in seen.items()}})
    assert len(result.cursor) < 0.6 * len(earlier)  # about half
    assert read_cursor(earlier)[0] == seen
    assert evaluate(zone, cursor=earlier).run_requests == []
