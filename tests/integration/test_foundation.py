"""Raw → staging → marts with real landing files, a real DuckDB file, real dbt and real Dagster runs."""

import dagster as dg
import duckdb
import pytest

from assets.dbt import dbt_models, dbt_monthly_models
from assets.event_log import latest_metadata
from assets.raw import raw_assets
from flightline.landing import landing_file
from flightline.raw_schemas import FLIGHTS
from resources.dbt import dbt_project
from tests.integration.conftest import with_partitions

FOUNDATION = [*raw_assets, dbt_models, dbt_monthly_models]
JAN, FEB = "2013-01-01", "2013-02-01"


def materialize(resources, partition_key: str, raise_on_error: bool = True):
    return dg.materialize(
        FOUNDATION,
        resources=resources,
        partition_key=partition_key,
        instance=with_partitions(partition_key),
        raise_on_error=raise_on_error,
    )


def query(resources, sql: str) -> list[tuple]:
    with duckdb.connect(resources["warehouse"].database, read_only=True) as conn:
        return conn.execute(sql).fetchall()


def counts(resources) -> dict[str, int]:
    tables = ["raw.flights", "raw.weather", "staging.stg_flights", "marts.fct_flights"]
    return {t: query(resources, f"SELECT count(*) FROM {t}")[0][0] for t in tables}


@pytest.mark.slow  # four ingest runs of two real months: minutes, like the trained fixtures
def test_two_months_flow_from_landing_to_marts_and_reruns_change_nothing(warehouse_env):
    for month in (JAN, FEB):
        result = materialize(warehouse_env, month)
        checks = result.get_asset_check_evaluations()
        failed = [c.check_name for c in checks if not c.passed]
        assert not failed, failed
        # every dbt test ran as an asset check, and the raw reject-rate checks too
        names = {c.check_name for c in checks}
        assert "unique_fct_flights_flight_id" in names
        assert "reject_rate_below_threshold" in names
        assert len(checks) > 40
        # figures are rounded in the UI (raw loads and dbt's durations alike)
        for event in result.get_asset_materialization_events():
            for key, value in event.materialization.metadata.items():
                if isinstance(value, dg.FloatMetadataValue):
                    assert value.value == round(value.value, 4), (event.asset_key, key, value)

    after_two = counts(warehouse_env)
    assert after_two == {
        "raw.flights": 51_955,  # 27,004 in January + 24,951 in February
        "raw.weather": 4_235,  # one 1,048 mph wind reading is rejected
        "staging.stg_flights": 51_955,
        "marts.fct_flights": 51_955,
    }
    assert query(
        warehouse_env, "SELECT flight_month, count(*) FROM marts.fct_flights GROUP BY 1 ORDER BY 1"
    ) == [("2013-01", 27_004), ("2013-02", 24_951)]

    types = dict(
        query(
            warehouse_env,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'marts' AND table_name = 'fct_flights'",
        )
    )
    assert types["flight_date"] == "DATE"
    assert types["sched_dep_local"] == "TIMESTAMP"
    assert types["sched_dep_utc"] == "TIMESTAMP WITH TIME ZONE"
    assert types["is_delayed"] == "BOOLEAN"
    assert types["temp"] == "DOUBLE"

    # the label: arrival 15+ minutes late, NULL for flights that never arrived
    labels = query(
        warehouse_env,
        """
        SELECT count(*) FILTER (WHERE is_delayed),
               count(*) FILTER (WHERE is_delayed IS NULL),
               count(*) FILTER (WHERE is_cancelled)
        FROM marts.fct_flights WHERE flight_month = '2013-01'""",
    )[0]
    assert labels == (
        query(
            warehouse_env, "SELECT count(*) FROM raw.flights WHERE month = 1 AND arr_delay >= 15"
        )[0][0],
        query(
            warehouse_env, "SELECT count(*) FROM raw.flights WHERE month = 1 AND arr_delay IS NULL"
        )[0][0],
        521,
    )

    # landing and materializing January again changes no row count
    rerun = materialize(warehouse_env, JAN)
    assert counts(warehouse_env) == after_two
    # both dbt invocations started from the previous parse on this warehouse (no full parse),
    # and the staging tests tested January only
    invocations = sorted((dbt_project.project_dir / "target").glob(f"*-{rerun.run_id[:7]}-*"))
    assert [p.name.split("-")[0] for p in invocations] == ["dbt_models", "dbt_monthly_models"]
    for folder in invocations:
        assert "Unable to do partial parsing" not in (folder / "dbt.log").read_text()
    (staging_test,) = invocations[0].glob("compiled/**/not_null_stg_flights_carrier.sql")
    assert "flight_date < cast('2013-02-01' as date)" in staging_test.read_text()
    assert query(
        warehouse_env, "SELECT count(*) - count(DISTINCT flight_id) FROM marts.fct_flights"
    ) == [(0,)]


def test_a_range_run_gives_each_month_its_own_metadata(warehouse_env):
    """One run over January..February (as `flightline run` loads months): each partition's
    materialization carries its own month's rows and file, not the range's."""
    instance = with_partitions(JAN, FEB)
    result = dg.materialize(
        raw_assets,
        selection=[dg.AssetKey(["raw", "flights"])],
        resources=warehouse_env,
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": JAN,
            "dagster/asset_partition_range_end": FEB,
        },
    )
    assert len(instance.get_runs()) == 1 and result.success
    expected = {
        JAN: (27_004, "flights/flights_2013-01.csv"),
        FEB: (24_951, "flights/flights_2013-02.csv"),
    }
    for key, (rows, file) in expected.items():
        metadata = latest_metadata(instance, dg.AssetKey(["raw", "flights"]), key)
        assert metadata["dagster/row_count"] == rows
        assert metadata["rows_read"] == rows
        assert [r.data["file"] for r in metadata["source_files"].records] == [file]


def test_a_bad_file_fails_the_run_and_leaves_loaded_data_intact(warehouse_env):
    materialize(warehouse_env, JAN)
    before = counts(warehouse_env)
    path = landing_file(warehouse_env["landing"].path, FLIGHTS, "2013-01")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0].replace(",arr_delay", "")] + lines[1:]) + "\n")

    result = materialize(warehouse_env, JAN, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.to_string()
    assert "flights_2013-01.csv, column 'arr_delay': missing column" in message
    assert counts(warehouse_env) == before


def test_definitions_load_with_lineage_raw_to_staging_to_marts():
    from definitions import defs

    graph = defs.resolve_asset_graph()
    parents = {
        k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
        for k in graph.get_all_asset_keys()
    }
    assert "raw/flights" in parents["staging/stg_flights"]
    assert parents["intermediate/int_flights"] == {"staging/stg_flights"}
    assert {"intermediate/int_flights", "staging/stg_weather"} <= parents["marts/fct_flights"]
    assert graph.get(dg.AssetKey(["marts", "fct_flights"])).partitions_def is not None
    assert graph.get(dg.AssetKey(["raw", "flights"])).group_name == "raw"
    assert graph.get(dg.AssetKey(["staging", "stg_flights"])).group_name == "staging"
    assert graph.get(dg.AssetKey(["intermediate", "int_flights"])).group_name == "staging"
    assert graph.get(dg.AssetKey(["marts", "fct_flights"])).group_name == "marts"
    checks = {k.name for k in graph.asset_check_keys}
    assert "unique_fct_flights_flight_id" in checks
    assert defs.resolve_job_def("ingest") is not None
    for key in (["raw", "flights"], ["features", "flight_features"], ["model", "champion_model"]):
        assert graph.get(dg.AssetKey(key)).freshness_policy is not None, key
