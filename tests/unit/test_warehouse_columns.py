"""A column renamed between versions is renamed in place in the warehouse: no row is lost."""

import duckdb
import polars as pl

from flightline.warehouse import read_table, rename_columns, replace_rows

TABLE = "predictions.flight_predictions"


def test_an_old_column_name_is_renamed_keeping_every_row(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        rename_columns(conn, TABLE, {"weather_filled": "weather_from_snapshot"})  # no table yet
        old = pl.DataFrame(
            {"flight_month": ["2013-01", "2013-02"], "weather_filled": [True, False]}
        )
        replace_rows(conn, TABLE, old, "flight_month", ["2013-01", "2013-02"])
        rename_columns(conn, TABLE, {"weather_filled": "weather_from_snapshot"})
        rename_columns(conn, TABLE, {"weather_filled": "weather_from_snapshot"})  # idempotent
        new = pl.DataFrame({"flight_month": ["2013-02"], "weather_from_snapshot": [True]})
        replace_rows(conn, TABLE, new, "flight_month", ["2013-02"])
        rows = read_table(conn, f"SELECT * FROM {TABLE} ORDER BY flight_month")
    assert rows.columns == ["flight_month", "weather_from_snapshot"]
    assert rows["weather_from_snapshot"].to_list() == [True, True]
