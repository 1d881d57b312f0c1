"""The landing sensor against a real Dagster instance and a real landing zone."""

import json
import os
import shutil

import dagster as dg
import pytest

from flightline.landing import landing_file
from flightline.raw_schemas import FLIGHTS
from resources import LandingZone
from sensors.landing import landing_sensor


@pytest.fixture
def zone(landed_2013, tmp_path):
    root = shutil.copytree(landed_2013, tmp_path / "landing")
    old = 1_000_000_000  # settled files: modified long ago
    for path in root.rglob("*.csv"):
        os.utime(path, (old, old))
    return root


def evaluate(zone, cursor=None, instance=None):
    from definitions import defs

    with (
        dg.instance_for_test() as fresh,
        dg.build_sensor_context(
            instance=instance or fresh,
            cursor=cursor,
            definitions=defs,
            resources={"landing": LandingZone(root=str(zone))},
        ) as context,
    ):
        return landing_sensor(context)


def test_new_files_request_runs_for_their_partition_and_only_once(zone):
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
    assert dg.AssetKey(["marts", "fct_flights"]) in jan.asset_selection
    assert jan.tags["flightline/landing_file"] == "flights/flights_2013-01.csv"

    again = evaluate(zone, cursor=result.cursor)
    assert again.run_requests == []

    # the same file rewritten with new content is a new run, keyed by the new hash
    path = landing_file(zone, FLIGHTS, "2013-01")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")
    os.utime(path, (1_000_000_100, 1_000_000_100))
    changed = evaluate(zone, cursor=again.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["2013-01-01"]
    assert changed.run_requests[0].run_key != jan.run_key


def test_partial_and_outside_files_are_ignored_or_refused(zone, tmp_path):
    result = evaluate(zone)
    cursor = result.cursor
    (zone / "flights" / "flights_2013-03.csv.part").write_text("year,month\n")
    fresh = zone / "flights" / "flights_2013-04.csv"
    fresh.write_text("still being written")  # modified just now: not settled yet
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("x\n")
    (zone / "flights" / "flights_2013-05.csv").symlink_to(outside)

    later = evaluate(zone, cursor=cursor)
    assert later.run_requests == []
    known = {os.path.basename(k) for k in json.loads(later.cursor)}
    assert known.isdisjoint(
        {"flights_2013-03.csv.part", "flights_2013-04.csv", "flights_2013-05.csv"}
    )
    assert "refused flights_2013-05.csv: resolves outside the landing zone" in (
        later.skip_reason.skip_message
    )


def test_content_already_loaded_is_not_requested_again(zone, tmp_path):
    from dagster_duckdb import DuckDBResource

    from assets.raw import raw_assets

    flights_asset = next(a for a in raw_assets if a.key == dg.AssetKey(["raw", "flights"]))
    with dg.instance_for_test() as instance:
        dg.materialize(
            [flights_asset],
            partition_key="2013-01-01",
            instance=instance,
            resources={
                "warehouse": DuckDBResource(database=str(tmp_path / "w.duckdb")),
                "landing": LandingZone(root=str(zone)),
            },
        )
        result = evaluate(zone, instance=instance)
    keys = {r.run_key.rsplit(":", 1)[0] for r in result.run_requests}
    assert "flights:2013-01" not in keys
    assert "flights:2013-02" in keys
