"""The scale generator: N years in the landing zone, with new airports and carriers."""

import polars as pl
import pytest

from flightline.ingest import load_file
from flightline.landing import landing_file
from flightline.raw_schemas import AIRLINES, FLIGHTS
from flightline.synthetic.scale import NEW_CARRIERS, land_scaled, scaled_months


def test_scaled_months() -> None:
    assert scaled_months(1) == []
    assert scaled_months(3)[0] == "2014-01" and scaled_months(3)[-1] == "2015-12"
    assert len(scaled_months(30)) == 29 * 12
    with pytest.raises(ValueError, match="at least 1"):
        scaled_months(0)


def test_two_years_land_with_new_carriers_and_airports(tmp_path) -> None:
    n = land_scaled(tmp_path, 2, progress=None)
    files = sorted(p.name for p in (tmp_path / "flights").iterdir())
    assert len(files) == 24 and files[-1] == "flights_2014-12.csv"
    real = pl.concat(
        pl.read_csv(landing_file(tmp_path, FLIGHTS, f"2013-{m:02d}"), infer_schema=False)
        for m in range(1, 13)
    )
    sim = pl.concat(
        pl.read_csv(landing_file(tmp_path, FLIGHTS, f"2014-{m:02d}"), infer_schema=False)
        for m in range(1, 13)
    )
    assert n == real.height + sim.height
    assert sim.height > real.height  # extra flights on new routes
    assert set(sim["dest"]) - set(real["dest"])  # new airports
    new_carriers = set(sim["carrier"]) - set(real["carrier"])
    assert new_carriers and new_carriers <= set(NEW_CARRIERS)
    airlines = pl.read_csv(landing_file(tmp_path, AIRLINES), infer_schema=False)
    assert new_carriers <= set(airlines["carrier"])
    key = ["year", "month", "day", "carrier", "flight", "origin"]
    assert sim.select(key).is_unique().all()


def test_a_simulated_month_loads_without_rejects(tmp_path) -> None:
    import duckdb

    land_scaled(tmp_path / "landing", 2, progress=None)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        result = load_file(
            conn,
            FLIGHTS,
            landing_file(tmp_path / "landing", FLIGHTS, "2014-07"),
            tmp_path / "landing",
            "2014-07",
        )
    assert result.rows_loaded > 0 and result.rows_rejected == 0
