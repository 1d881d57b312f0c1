"""Bad landing files through real Dagster runs, a real DuckDB file and real dbt builds: invalid
rows are quarantined at load, nothing invalid reaches raw or the marts, a month over the reject
rate is refused before it commits, and no other month is affected."""

import dagster as dg
import duckdb

from assets.dbt import dbt_models, dbt_monthly_models
from assets.raw import raw_assets
from flightline.landing import landing_file
from flightline.raw_schemas import FLIGHTS
from tests.integration.conftest import with_partitions

FOUNDATION = [*raw_assets, dbt_models, dbt_monthly_models]
JAN, FEB = "2013-01-01", "2013-02-01"
COLS = list(FLIGHTS.columns)
# raw flights and weather of a month and the models they feed
FLIGHTS_PATH = [
    dg.AssetKey(["raw", "flights"]),
    dg.AssetKey(["raw", "weather"]),
    dg.AssetKey(["staging", "stg_flights"]),
    dg.AssetKey(["intermediate", "int_flights"]),
    dg.AssetKey(["staging", "stg_weather"]),
    dg.AssetKey(["marts", "fct_flights"]),
]


def materialize(resources, first: str, last: str, selection=None) -> dg.ExecuteInProcessResult:
    """One run over the months first..last (as `flightline materialize --from --to` runs them)."""
    return dg.materialize(
        FOUNDATION,
        resources=resources,
        selection=selection,
        instance=with_partitions(JAN, FEB),
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
        raise_on_error=False,
    )


def query(resources, sql: str) -> list[tuple]:
    with duckdb.connect(resources["warehouse"].database, read_only=True) as conn:
        return conn.execute(sql).fetchall()


def corrupt(path, rows: dict[int, dict[str, str]], header_suffix: str = "", bom: bool = False):
    lines = path.read_text().splitlines()
    out = [("\ufeff" if bom else "") + lines[0] + header_suffix]
    for i, line in enumerate(lines[1:]):
        fields = ["" if f == "NA" else f for f in line.split(",")]  # empty strings are null
        for column, value in rows.get(i, {}).items():
            fields[COLS.index(column)] = value
        out.append(",".join(fields) + (",A1" if header_suffix else ""))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def invalid_in_marts(resources) -> int:
    return query(
        resources,
        "SELECT count(*) FROM marts.fct_flights WHERE distance_miles < 1 OR length(tailnum) > 10 "
        "OR sched_dep_minute > 59 OR dep_time_hhmm > 2400 OR NOT regexp_full_match(dest, '[A-Z]{3}')",
    )[0][0]


def test_bad_rows_are_quarantined_a_bad_month_is_refused_and_other_months_build(warehouse_env):
    zone = warehouse_env["landing"].path
    corrupt(
        landing_file(zone, FLIGHTS, "2013-01"),
        {
            0: {"day": "32"},
            1: {"sched_dep_time": "575"},
            2: {"dep_time": "2460"},
            3: {"distance": "-1400"},
            4: {"tailnum": "N" * 1_000_000},
            5: {"dest": "iah"},
        },
        header_suffix=",gate",
        bom=True,
    )
    # January with impossible rows and February clean, in one run: the bad rows stay out of raw,
    # so neither the staging view nor any blocking dbt test breaks, for January or after it
    run = materialize(warehouse_env, JAN, FEB)
    assert run.success
    assert not [c.check_name for c in run.get_asset_check_evaluations() if not c.passed]
    raw = next(  # each month's materialization carries its own figures
        m.step_materialization_data.materialization.metadata
        for m in run.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["raw", "flights"]) and m.partition == JAN
    )
    assert raw["rows_rejected"].value == 6
    assert raw["extra_columns"].value == ["gate"]
    assert query(warehouse_env, "SELECT count(*) FROM raw.flights_rejects") == [(6,)]
    assert invalid_in_marts(warehouse_env) == 0
    months = "SELECT flight_month, count(*) FROM marts.fct_flights GROUP BY 1 ORDER BY 1"
    before = query(warehouse_env, months)
    assert before == [("2013-01", 27_004 - 6), ("2013-02", 24_951)]
    raw_before = query(warehouse_env, "SELECT _partition, count(*) FROM raw.flights GROUP BY 1")

    # February again, now with 2% impossible rows: refused before commit, with the figures
    corrupt(
        landing_file(zone, FLIGHTS, "2013-02"),
        {i: {"distance": "-5"} for i in range(0, 24_951, 50)},
    )
    refused = materialize(warehouse_env, FEB, FEB, FLIGHTS_PATH)
    assert not refused.success
    failure = next(e for e in refused.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.to_string()
    assert "flights_2013-02.csv, column 'distance': 500 of 24951 rows rejected (2.00%)" in message
    assert "not loaded, the previous version is kept" in message
    assert query(warehouse_env, months) == before
    assert query(warehouse_env, "SELECT _partition, count(*) FROM raw.flights GROUP BY 1") == (
        raw_before
    )
    assert query(warehouse_env, "SELECT count(*) FROM raw.flights_rejects") == [(6,)]
