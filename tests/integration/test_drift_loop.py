"""End to end: simulated months land, the landing sensor ingests them, drift is measured against
the same month a year earlier, and the retraining sensor asks for one training, saying why."""

import datetime as dt
import os
import shutil

import dagster as dg

from flightline.synthetic.knobs import parse_drift
from flightline.synthetic.simulate import simulate_months
from sensors.landing import build_landing_sensor
from sensors.retraining import retraining_sensor
from tests.integration.conftest import make_resources

WEATHER = ["visib", "precip"]  # storm days: visibility / 4, rain
CARRIER = ["carrier_excess_rate_7d", "carrier_excess_rate_28d"]  # EV's delays rise
ROUTES = ["dest_cat"]  # flights to destinations never flown before
UNCHANGED = ["sched_dep_hour", "plane_seats", "carrier_cat", "origin_cat"]
NOW = dt.datetime(2014, 6, 15, tzinfo=dt.UTC).timestamp()  # the landing sensor's clock


def test_drift_means_change_not_season_and_triggers_one_training(trained, tmp_path, monkeypatch):
    from definitions import defs

    # A copy of the trained platform (January–March 2013): its warehouse, landing zone, registry.
    for name in ("warehouse.duckdb", "landing", "models"):
        src = trained.home / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    monkeypatch.setenv("FLIGHTLINE_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    resources = make_resources(tmp_path)
    champion = resources["artifacts"].registry.champion()
    landing = tmp_path / "landing"
    drift_knobs = "weather=0.5,carrier:EV=0.3,routes=0.1"
    paths = simulate_months(landing, ["2014-01"], parse_drift("none"))
    paths += simulate_months(landing, ["2014-02"], parse_drift(drift_knobs))
    for path in paths:
        os.utime(path, (1_000_000_000, 1_000_000_000))  # settled: not still being written

    with dg.instance_for_test() as instance:

        def run(selection, **kwargs):
            return dg.materialize(
                [*defs.assets, *defs.asset_checks],
                selection=selection,
                resources=resources,
                instance=instance,
                **kwargs,
            )

        def drift(month):
            result = run(
                dg.AssetSelection.assets(["monitoring", "feature_drift"]),
                partition_key=f"{month}-01",
            )
            metadata = result.get_asset_materialization_events()[0].materialization.metadata
            psi = {
                r.data["feature"]: r.data["psi"] for r in metadata["psi_by_feature"].value.records
            }
            return metadata, psi

        def retraining():
            with dg.build_sensor_context(
                instance=instance, definitions=defs, resources={"artifacts": resources["artifacts"]}
            ) as context:
                return retraining_sensor(context)

        # only the new months' files are new: the rest carry the hashes of the copied zone
        with dg.build_sensor_context(
            instance=instance, definitions=defs, resources={"landing": resources["landing"]}
        ) as context:
            # (this instance has no record of the copied 2013 loads: requested again, not run)
            tick = build_landing_sensor(clock=lambda: NOW)(context)
        requests = [r for r in tick.run_requests if (r.partition_key or "").startswith("2014")]
        assert sorted(r.partition_key for r in requests) == ["2014-01-01"] * 2 + ["2014-02-01"] * 2
        # the landed months get their partitions, in calendar order, before their runs
        (added,) = tick.dynamic_partitions_requests
        assert added.partition_keys[-2:] == ["2014-01-01", "2014-02-01"]
        assert added.partition_keys == sorted(added.partition_keys)
        instance.add_dynamic_partitions(added.partitions_def_name, added.partition_keys)
        for request in requests:
            run(request.asset_selection, partition_key=request.partition_key)
        # landed, but not through the features yet: no training
        assert "to reach the features" in retraining().skip_message
        run(dg.AssetSelection.assets(["features", "flight_features"]))

        # An undrifted January against January 2013: no drift, although winter differs from
        # the champion's training months. (Only the planes have aged a year.)
        january, psi = drift("2014-01")
        assert january["reference_month"].value == "2013-01"
        assert january["max_psi"].value < 0.1, psi
        request = retraining()
        assert request.tags["flightline/retrain_trigger"] == "new-months"

        # Each knob shows up in the features it changes, and only there.
        february, psi = drift("2014-02")
        assert february["reference_month"].value == "2013-02"
        assert february["aggregates_scored"].value is True
        for feature in WEATHER + CARRIER + ROUTES:
            assert psi[feature] > 0.2, (feature, psi[feature])
        for feature in UNCHANGED:
            assert psi[feature] < 0.1, (feature, psi[feature])

        # the drift names its reason, on the same data state: the same single training
        drifted = retraining()
        assert drifted.tags["flightline/retrain_reason"].startswith("feature drift in 2014-02")
        assert (
            drifted.run_key
            == request.run_key
            == f"retrain:{champion}:" + (drifted.tags["flightline/data_state"])
        )
