"""Validation and loading of landing files into raw.*, including every bad-input policy."""

import shutil
from pathlib import Path

import duckdb
import pytest

from flightline.ingest import LandingFileError, load_file, reject_reason_sql
from flightline.landing import landing_file
from flightline.raw_schemas import FLIGHTS, WEATHER


@pytest.fixture
def zone(landed_2013, tmp_path) -> Path:
    """A private copy of the landing zone that a test may corrupt."""
    return Path(shutil.copytree(landed_2013, tmp_path / "landing"))


@pytest.fixture
def conn(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as c:
        yield c


def jan(zone: Path) -> Path:
    return landing_file(zone, FLIGHTS, "2013-01")


def load_jan(conn, zone):
    return load_file(conn, FLIGHTS, jan(zone), zone, "2013-01")


def snapshot(conn) -> list[tuple]:
    return conn.execute(
        "SELECT _partition, count(*), sum(hash(year, month, day, carrier, flight, origin, arr_delay)) "
        "FROM raw.flights GROUP BY 1 ORDER BY 1"
    ).fetchall()


def rewrite(path: Path, edit) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


def test_load_types_and_load_columns(conn, zone):
    result = load_jan(conn, zone)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (27_004, 27_004, 0)
    types = dict(
        conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema='raw' AND table_name='flights'"
        ).fetchall()
    )
    assert types["arr_delay"] == "INTEGER"
    assert types["time_hour"] == "TIMESTAMP WITH TIME ZONE"
    assert types["_loaded_at"] == "TIMESTAMP WITH TIME ZONE"
    row = conn.execute(
        "SELECT DISTINCT _source_file, _file_hash, _partition FROM raw.flights"
    ).fetchall()
    assert row == [("flights/flights_2013-01.csv", result.file_hash, "2013-01")]
    nulls = conn.execute("SELECT count(*) FROM raw.flights WHERE dep_time IS NULL").fetchone()[0]
    assert nulls == 521  # cancelled in January: NA became NULL


def test_reloading_a_month_replaces_it_without_duplicates(conn, zone):
    load_jan(conn, zone)
    load_file(conn, FLIGHTS, landing_file(zone, FLIGHTS, "2013-02"), zone, "2013-02")
    before = snapshot(conn)
    load_jan(conn, zone)
    assert snapshot(conn) == before
    assert before[0][1] == 27_004 and before[1][1] == 24_951


@pytest.mark.parametrize(
    ("edit", "column", "problem"),
    [
        (lambda ls: [ls[0].replace(",tailnum", "")] + ls[1:], "tailnum", "missing column"),
        (lambda ls: [ls[0] + ",gate"] + [x + ",A1" for x in ls[1:]], "gate", "unexpected column"),
        (lambda ls: [ls[0]], None, "no rows"),
        (lambda ls: [], None, "no header"),
        (lambda ls: ls[:10] + [ls[10] + ",1,2"] + ls[11:], None, "not a readable CSV"),
    ],
    ids=["missing-column", "extra-column", "no-rows", "empty-file", "malformed-line"],
)
def test_whole_file_faults_fail_and_change_nothing(conn, zone, edit, column, problem):
    load_jan(conn, zone)
    before = snapshot(conn)
    rewrite(jan(zone), edit)
    with pytest.raises(LandingFileError, match=problem) as err:
        load_jan(conn, zone)
    assert "flights_2013-01.csv" in str(err.value)
    if column:
        assert f"column '{column}'" in str(err.value)
    assert snapshot(conn) == before


def test_a_column_of_the_wrong_type_fails_the_file(conn, zone):
    load_jan(conn, zone)
    before = snapshot(conn)
    idx = list(FLIGHTS.columns).index("distance")

    def text_distance(lines):
        rows = [line.split(",") for line in lines[1:]]
        for r in rows:
            r[idx] = "far"
        return [lines[0]] + [",".join(r) for r in rows]

    rewrite(jan(zone), text_distance)
    with pytest.raises(LandingFileError, match=r"column 'distance': wrong type: expected INTEGER"):
        load_jan(conn, zone)
    assert snapshot(conn) == before


def test_unparsable_values_reject_only_their_rows(conn, zone):
    idx = list(FLIGHTS.columns).index("arr_delay")

    def corrupt(lines):
        out = [lines[0]]
        for i, line in enumerate(lines[1:]):
            fields = line.split(",")
            if i in (4, 9):
                fields[idx] = "late"
            out.append(",".join(fields))
        return out

    rewrite(jan(zone), corrupt)
    result = load_jan(conn, zone)
    assert (result.rows_loaded, result.rows_rejected) == (27_002, 2)
    assert result.reject_reasons == {"arr_delay": 2}
    rejects = conn.execute(
        "SELECT _line, _reason, arr_delay FROM raw.flights_rejects ORDER BY 1"
    ).fetchall()
    assert rejects == [
        (6, "arr_delay: cannot parse 'late' as INTEGER", "late"),
        (11, "arr_delay: cannot parse 'late' as INTEGER", "late"),
    ]


def test_duplicate_keys_keep_the_first_row_and_reject_the_rest(conn, zone):
    rewrite(jan(zone), lambda ls: ls + ls[1:4])
    result = load_jan(conn, zone)
    assert (result.rows_loaded, result.rows_rejected) == (27_004, 3)
    assert result.reject_reasons == {"key": 3}
    reason = conn.execute(
        "SELECT _reason FROM raw.flights_rejects ORDER BY _line LIMIT 1"
    ).fetchone()[0]
    assert reason == "key: duplicate (2013, 1, 1, UA, 1545, EWR) first seen on line 2"
    dupes = conn.execute(
        "SELECT count(*) - count(DISTINCT (year, month, day, carrier, flight, origin)) "
        "FROM raw.flights"
    ).fetchone()[0]
    assert dupes == 0


def test_rows_of_another_month_and_missing_keys_are_rejected(conn, zone):
    feb = landing_file(zone, FLIGHTS, "2013-02").read_text().splitlines()[1:3]
    carrier = list(FLIGHTS.columns).index("carrier")

    def edit(lines):
        blank = lines[1].split(",")
        blank[carrier] = "NA"
        return [lines[0], ",".join(blank), *lines[2:], *feb]

    rewrite(jan(zone), edit)
    result = load_jan(conn, zone)
    assert result.reject_reasons == {"month": 2, "carrier": 1}
    reasons = [
        r
        for (r,) in conn.execute(
            "SELECT _reason FROM raw.flights_rejects ORDER BY _line"
        ).fetchall()
    ]
    assert reasons[0] == "carrier: missing required value"
    assert reasons[1] == "month: row is for 2013-02, not 2013-01"


def test_reject_reasons_cover_every_typed_and_required_column():
    sql = reject_reason_sql(WEATHER, "2013-01")
    for column in ("temp", "wind_dir", "time_hour", "origin"):
        assert f"'{column}:" in sql
    assert "not 2013-01" in sql
