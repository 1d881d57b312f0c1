"""End to end: a drifted month lands, the landing sensor ingests it, drift is measured and the
retraining sensor asks for a new model, saying why."""

import os
import shutil

import dagster as dg

from flightline.simulate import parse_drift, simulate_months
from sensors.landing import landing_sensor
from sensors.retraining import retraining_sensor
from tests.integration.conftest import make_resources


def test_a_drifted_month_leads_to_a_retraining_request(trained, tmp_path, monkeypatch):
    from definitions import defs

    # A copy of the trained platform: its warehouse, landing zone and registry.
    for name in ("warehouse.duckdb", "landing", "models"):
        src = trained.home / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    monkeypatch.setenv("FLIGHTLINE_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    resources = make_resources(tmp_path)
    champion = resources["artifacts"].registry.champion()
    for path in simulate_months(
        tmp_path / "landing", ["2014-01"], parse_drift("weather=0.5,carrier:EV=0.3")
    ):
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

        # only the new month's files are new: the rest carry the hashes of the copied zone
        with dg.build_sensor_context(
            instance=instance, definitions=defs, resources={"landing": resources["landing"]}
        ) as context:
            landing = landing_sensor(context)
        new = [r for r in landing.run_requests if r.partition_key == "2014-01-01"]
        assert len(new) == 2  # flights and weather of 2014-01
        for request in new:
            run(request.asset_selection, partition_key=request.partition_key)
        run(dg.AssetSelection.assets(["features", "flight_features"]))
        drift = run(
            dg.AssetSelection.assets(["monitoring", "feature_drift"]), partition_key="2014-01-01"
        )
        max_psi = drift.get_asset_materialization_events()[0].materialization.metadata["max_psi"]
        assert max_psi.value > 0.2

        with dg.build_sensor_context(
            instance=instance, definitions=defs, resources={"artifacts": resources["artifacts"]}
        ) as context:
            request = retraining_sensor(context)
    assert request.run_key == f"drift:{champion}:2014-01"
    assert request.tags["flightline/retrain_reason"].startswith("feature drift in 2014-01")
