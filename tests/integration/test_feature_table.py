"""The feature table in the warehouse: built month by month, identical to a one-shot build."""

import dagster as dg
import duckdb
from polars.testing import assert_frame_equal

from flightline.feature_table import (
    FEATURES_TABLE,
    build_feature_table,
    read_planes,
    update_feature_table,
)
from flightline.warehouse import read_table

FEATURES = dg.AssetSelection.assets(["features", "flight_features"])


def stored(conn):
    return read_table(conn, f"SELECT * FROM {FEATURES_TABLE} ORDER BY flight_id")


def one_shot(conn):
    flights = read_table(conn, "SELECT * FROM marts.fct_flights ORDER BY flight_id")
    table, vocabulary = build_feature_table(flights, read_planes(conn))
    return table.sort("flight_id"), vocabulary


def rebuilt_months(result) -> str:
    node = "features__flight_features"
    return result.asset_materializations_for_node(node)[0].metadata["rebuilt_months"].value


def test_stored_features_equal_a_one_shot_build_and_a_rerun_rebuilds_nothing(trained):
    with duckdb.connect(str(trained.home / "warehouse.duckdb"), read_only=True) as conn:
        expected, _ = one_shot(conn)
        assert_frame_equal(stored(conn), expected)
    assert rebuilt_months(trained.materialize(FEATURES)) == "none"
    full = trained.materialize(
        FEATURES,
        run_config={"ops": {"features__flight_features": {"config": {"full_rebuild": True}}}},
    )
    assert rebuilt_months(full) == "2013-01..2013-03 (3)"
    with duckdb.connect(str(trained.home / "warehouse.duckdb"), read_only=True) as conn:
        assert_frame_equal(stored(conn), expected)


def test_month_sized_chunks_give_the_same_table_and_a_changed_month_rebuilds_what_it_reaches(
    trained, tmp_path
):
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes((trained.home / "warehouse.duckdb").read_bytes())
    with duckdb.connect(str(copy)) as conn:
        expected, vocabulary = one_shot(conn)
        update = update_feature_table(conn, full_rebuild=True, chunk_months=1)
        assert update.rebuilt_months == ["2013-01", "2013-02", "2013-03"]
        assert update.vocabulary == vocabulary
        assert_frame_equal(stored(conn), expected)
        # One late-arriving correction in January: January and the two months after it are stale.
        conn.execute(
            "UPDATE marts.fct_flights SET arr_delay_minutes = arr_delay_minutes + 1 "
            "WHERE flight_id = (SELECT min(flight_id) FROM marts.fct_flights "
            "WHERE flight_month = '2013-01' AND arr_delay_minutes IS NOT NULL)"
        )
        assert update_feature_table(conn).rebuilt_months == ["2013-01", "2013-02", "2013-03"]
        conn.execute("DELETE FROM marts.fct_flights WHERE flight_month = '2013-03'")
        update = update_feature_table(conn)
        assert update.removed_months == ["2013-03"] and update.rebuilt_months == []
        assert conn.execute(
            f"SELECT count(*) FROM {FEATURES_TABLE} WHERE flight_month = '2013-03'"
        ).fetchone() == (0,)
