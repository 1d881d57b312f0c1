"""Validation and loading of landing files into raw.*, including every bad-input policy."""

import gzip
import shutil
from pathlib import Path

import duckdb
import pytest

from flightline import ingest
from flightline.ingest import (
    LandingFileError,
    RejectRateError,
    file_groups,
    load_file,
    load_files,
)
from flightline.landing import landing_file
from flightline.raw_schemas import FLIGHTS, WEATHER
from flightline.raw_validation import column_reason_sql

COLS = list(FLIGHTS.columns)
N = 2_000  # rows per month in the small zone: enough for every case, quick to load


@pytest.fixture
def full_zone(landed_2013, tmp_path) -> Path:
    """A private copy of the landing zone that a test may corrupt."""
    return Path(shutil.copytree(landed_2013, tmp_path / "landing"))


@pytest.fixture
def zone(landed_2013, tmp_path) -> Path:
    """A landing zone with the first N flights of January and of February, to corrupt."""
    root = tmp_path / "small"
    for month in ("2013-01", "2013-02"):
        lines = landing_file(landed_2013, FLIGHTS, month).read_text().splitlines()[: N + 1]
        target = landing_file(root, FLIGHTS, month)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def conn(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as c:
        yield c


def jan(zone: Path) -> Path:
    return landing_file(zone, FLIGHTS, "2013-01")


def feb(zone: Path) -> Path:
    return landing_file(zone, FLIGHTS, "2013-02")


def load_jan(conn, zone, **kwargs):
    return load_file(conn, FLIGHTS, jan(zone), zone, "2013-01", **kwargs)


def snapshot(conn) -> list[tuple]:
    """Every month's rows and rejects, as fingerprints: equal means nothing changed."""
    return conn.execute(
        "SELECT _partition, count(*), sum(hash(year, month, day, carrier, flight, origin, "
        "arr_delay, _loaded_at)) FROM raw.flights GROUP BY 1 "
        "UNION ALL SELECT 'rejects ' || _partition, count(*), sum(hash(_line, _reason, _loaded_at))"
        " FROM raw.flights_rejects GROUP BY 1 ORDER BY 1"
    ).fetchall()


def rewrite(path: Path, edit) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


def set_fields(line: str, **values: str) -> str:
    fields = line.split(",")
    for column, value in values.items():
        fields[COLS.index(column)] = value
    return ",".join(fields)


def edit_rows(path: Path, edits: dict[int, dict[str, str]]) -> None:
    """Set fields on data rows (0 = the first row after the header)."""
    rewrite(
        path,
        lambda ls: (
            [ls[0]] + [set_fields(x, **edits[i]) if i in edits else x for i, x in enumerate(ls[1:])]
        ),
    )


def rejects(conn) -> list[tuple]:
    return conn.execute("SELECT _line, _reason FROM raw.flights_rejects ORDER BY 1").fetchall()


def test_load_types_and_load_columns(conn, full_zone):
    result = load_jan(conn, full_zone)
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


def test_reloading_a_month_replaces_it_without_duplicates(conn, full_zone):
    zone = full_zone
    load_jan(conn, zone)
    load_file(conn, FLIGHTS, feb(zone), zone, "2013-02")
    counts = "SELECT _partition, count(*) FROM raw.flights GROUP BY 1 ORDER BY 1"
    before = conn.execute(counts).fetchall()
    load_jan(conn, zone)
    assert conn.execute(counts).fetchall() == before == [("2013-01", 27_004), ("2013-02", 24_951)]


@pytest.mark.parametrize(
    ("content", "column", "problem"),
    [
        (lambda t: t.replace(",tailnum", "", 1), "tailnum", "missing column"),
        (lambda t: t.replace(",tailnum", ",carrier", 1), "carrier", "more than once"),
        (lambda t: t.splitlines()[0] + "\n", None, "file has a header but no rows"),
        (lambda t: "", None, "file is empty: no header line"),
        (lambda t: t.replace(",", ";"), None, "delimiter: .* semicolon-separated"),
        (lambda t: t.replace(",", "\t"), None, "delimiter: .* tab-separated"),
        (lambda t: gzip.compress(t.encode()), None, "compression: the file is gzip-compressed"),
        (lambda t: t.encode("utf-16"), None, "encoding: the file is UTF-16 text"),
        (lambda t: ("année," + t).encode("latin-1"), None, "encoding: the header is not UTF-8"),
        (lambda t: bytes(range(256)) * 300, None, "not delimited text: binary data"),
    ],
    ids=[
        "missing-column",
        "repeated-column",
        "no-rows",
        "empty-file",
        "semicolons",
        "tabs",
        "gzip",
        "utf-16",
        "latin-1-header",
        "binary",
    ],
)
def test_whole_file_faults_fail_and_change_nothing(conn, zone, content, column, problem):
    load_jan(conn, zone)
    before = snapshot(conn)
    data = content(jan(zone).read_text())
    if isinstance(data, str):
        data = data.encode()
    jan(zone).write_bytes(data)
    with pytest.raises(LandingFileError, match=problem) as err:
        load_jan(conn, zone)
    assert str(err.value).startswith(str(jan(zone)))
    if column:
        assert f"column '{column}'" in str(err.value)
    assert snapshot(conn) == before


def test_a_column_of_the_wrong_type_fails_the_file(conn, zone):
    load_jan(conn, zone)
    before = snapshot(conn)
    edit_rows(jan(zone), {i: {"distance": "far"} for i in range(N)})
    with pytest.raises(LandingFileError, match=r"column 'distance': wrong type: expected INTEGER"):
        load_jan(conn, zone)
    assert snapshot(conn) == before


def test_unparsable_values_reject_only_their_rows(conn, zone):
    edit_rows(jan(zone), {4: {"arr_delay": "late"}, 9: {"arr_delay": "late"}})
    result = load_jan(conn, zone)
    assert (result.rows_loaded, result.rows_rejected) == (N - 2, 2)
    assert result.reject_reasons == {"arr_delay": 2}
    got = conn.execute(
        "SELECT _line, _reason, arr_delay FROM raw.flights_rejects ORDER BY 1"
    ).fetchall()
    assert got == [
        (6, "arr_delay: cannot parse 'late' as INTEGER", "late"),
        (11, "arr_delay: cannot parse 'late' as INTEGER", "late"),
    ]


IMPOSSIBLE = {  # row -> (fields, the reason it must be rejected with)
    0: ({"day": "32"}, "day: 32 is outside [1, 31]"),
    1: ({"sched_dep_time": "575"}, "sched_dep_time: 575 is not a clock time (HHMM, minutes 00-59)"),
    2: ({"dep_time": "2460"}, "dep_time: 2460 is outside [0, 2400]"),
    3: ({"distance": "-1400"}, "distance: -1400 is outside [1, 12000]"),
    4: ({"tailnum": "N" * 1_000_000}, "tailnum: 1000000 characters, at most 10"),
    5: ({"origin": "BOS"}, "origin: 'BOS' is not one of EWR, JFK, LGA"),
    6: ({"carrier": "u1"}, "carrier: 'u1' does not have the shape [A-Z0-9]{2}"),
    7: ({"hour": "5"}, "hour: hour and minute 5:00 disagree with sched_dep_time 0600"),
    8: (
        {"time_hour": "2013-01-01T12:00:00Z"},
        "time_hour: not the UTC hour of the scheduled departure (2013-01-01 11:00 UTC)",
    ),
    9: (
        {"dep_time": "NA"},
        "dep_delay: dep_time and dep_delay must be both present or both missing",
    ),
    10: ({"air_time": "NA"}, "arr_delay: an arrival delay needs dep_time, air_time and arr_time"),
    11: ({"month": "2", "day": "30"}, "day: 2013-02-30 is not a calendar date"),
    12: ({"year": "2013x"}, "year: cannot parse '2013x' as INTEGER"),
    13: ({"dest": "NEWARK"}, "dest: 6 characters, at most 3"),
}


def test_values_outside_their_domain_are_rejected_with_the_reason(conn, zone):
    edit_rows(jan(zone), {i: fields for i, (fields, _) in IMPOSSIBLE.items()})
    result = load_jan(conn, zone, max_reject_rate=None)
    got = dict(rejects(conn))
    for i, (_, reason) in IMPOSSIBLE.items():
        assert reason in got.pop(i + 2), reason
    assert not got
    assert result.rows_loaded == N - len(IMPOSSIBLE)
    # row 11 is for February in January's file: the calendar rule names the date first
    assert "month: row is for 2013-02, not 2013-01" in dict(rejects(conn))[13]
    bad = conn.execute(
        "SELECT count(*) FROM raw.flights WHERE distance < 1 OR length(tailnum) > 10 "
        "OR sched_dep_time % 100 >= 60 OR origin NOT IN ('EWR', 'JFK', 'LGA')"
    ).fetchone()[0]
    assert bad == 0


def test_bom_empty_strings_and_extra_columns_load_like_the_clean_file(conn, zone, tmp_path):
    load_jan(conn, zone)
    clean = conn.execute("SELECT * EXCLUDE (_loaded_at, _file_hash) FROM raw.flights").fetchall()
    lines = jan(zone).read_text().splitlines()
    blank = [",".join("" if f == "NA" else f for f in x.split(",")) for x in lines[1:]]
    drifted = ["\ufeff" + lines[0] + ",gate,"] + [x + ",A1,x" for x in blank]
    jan(zone).write_text("\n".join(drifted) + "\n", encoding="utf-8")
    result = load_jan(conn, zone)
    assert (result.rows_loaded, result.rows_rejected) == (N, 0)
    assert result.extra_columns == ["gate", "(unnamed column 21)"]
    again = conn.execute("SELECT * EXCLUDE (_loaded_at, _file_hash) FROM raw.flights").fetchall()
    assert sorted(again, key=str) == sorted(clean, key=str)


def test_exact_duplicates_are_dropped_and_key_conflicts_rejected(conn, zone):
    def edit(lines):
        conflict = set_fields(lines[1], arr_delay="99")  # same key as line 2, other values
        return lines + lines[1:4] + [conflict]

    rewrite(jan(zone), edit)
    result = load_jan(conn, zone)
    assert (result.rows_read, result.rows_loaded) == (N + 4, N)
    assert (result.duplicates_dropped, result.rows_rejected) == (3, 1)
    assert rejects(conn) == [
        (N + 5, "key: (2013, 1, 1, UA, 1545, EWR) is already on line 2 with other values")
    ]
    dupes = conn.execute(
        "SELECT count(*) - count(DISTINCT (year, month, day, carrier, flight, origin)) "
        "FROM raw.flights"
    ).fetchone()[0]
    assert dupes == 0


def test_rows_of_another_month_and_missing_keys_are_rejected(conn, zone):
    feb_rows = feb(zone).read_text().splitlines()[1:3]
    rewrite(jan(zone), lambda ls: [ls[0], set_fields(ls[1], carrier="NA"), *ls[2:], *feb_rows])
    result = load_jan(conn, zone)
    assert result.reject_reasons == {"month": 2, "carrier": 1}
    reasons = [r for _, r in rejects(conn)]
    assert reasons[0] == "carrier: missing required value"
    assert reasons[1] == "month: row is for 2013-02, not 2013-01"


def test_broken_lines_are_rejected_as_rows_and_the_rest_loads(conn, zone):
    path = jan(zone)
    lines = path.read_bytes().split(b"\n")[:-1]  # the file ends with a newline
    lines[5] = lines[5] + b",extra"
    lines[6] = lines[6].replace(b"N", b"\xe9", 1)  # a Latin-1 byte
    lines[7] = lines[7].replace(b",EWR,", b',"EWR,', 1)  # an unterminated quote
    lines[8] = lines[8] + b"\x00"
    path.write_bytes(b"\n".join(lines) + b"\n\n" + lines[-1][:20])  # blank, then a cut-off line
    result = load_jan(conn, zone)
    got = conn.execute(
        "SELECT _line, _reason, _raw_line IS NOT NULL FROM raw.flights_rejects ORDER BY 1"
    ).fetchall()
    last = len(lines) + 2
    assert got == [
        (6, "row: 20 fields, more than the header's 19", True),
        (7, f"encoding: not UTF-8 (byte 0xe9 at offset {lines[6].index(0xE9)})", True),
        (8, "row: unterminated or misplaced quote", True),
        (9, "encoding: NUL byte (binary data)", True),
        (last, "row: 7 fields, fewer than the header's 19; truncated?", True),
    ]
    assert result.reject_reasons == {"row": 3, "encoding": 2}
    # the rows after the broken ones load, with their own line numbers
    assert result.rows_loaded == N - 4
    assert result.rows_read == N + 1


def test_a_month_over_the_reject_rate_is_not_loaded_and_the_error_has_the_figures(conn, zone):
    load_jan(conn, zone)
    before = snapshot(conn)
    edit_rows(jan(zone), {i: {"distance": "-5"} for i in range(0, N, 50)})  # 2%
    with pytest.raises(RejectRateError) as err:
        load_jan(conn, zone)
    message = str(err.value)
    assert f"flights_2013-01.csv, column 'distance': 40 of {N} rows rejected (2.00%)" in message
    assert "more than max_reject_rate 1.00%: not loaded, the previous version is kept" in message
    assert "line 2: distance: -5 is outside [1, 12000]" in message
    assert err.value.result.reject_reasons == {"distance": 40}
    assert snapshot(conn) == before
    # a higher threshold lets the same file load, its bad rows quarantined
    assert load_jan(conn, zone, max_reject_rate=0.05).rows_rejected == 40


def test_one_bad_file_in_a_batch_changes_no_month(conn, zone):
    load_files(conn, FLIGHTS, [(jan(zone), "2013-01"), (feb(zone), "2013-02")], zone)
    before = snapshot(conn)
    rewrite(feb(zone), lambda ls: [ls[0].replace(",dest", "")] + ls[1:])
    rewrite(jan(zone), lambda ls: ls[:-1])  # January changed and valid
    with pytest.raises(LandingFileError, match="flights_2013-02.csv, column 'dest'"):
        load_files(conn, FLIGHTS, [(jan(zone), "2013-01"), (feb(zone), "2013-02")], zone)
    assert snapshot(conn) == before


def test_files_validated_together_keep_their_own_figures_lines_and_refusals(
    conn, zone, tmp_path, monkeypatch
):
    # January: an exact duplicate and a row of February; February: a key conflict, and a
    # column the table does not have (its own layout: read apart from January's).
    rewrite(jan(zone), lambda ls: ls + ls[1:2] + feb(zone).read_text().splitlines()[1:2])
    rewrite(feb(zone), lambda ls: ls + [set_fields(ls[1], arr_delay="99")])
    rewrite(feb(zone), lambda ls: [ls[0] + ",gate"] + [line + ",A1" for line in ls[1:]])
    files = [(jan(zone), "2013-01"), (feb(zone), "2013-02")]
    assert file_groups(files) == [files]  # a year of 1x months fits in one pass
    assert file_groups(files, limit=1) == [[files[0]], [files[1]]]

    january, february = load_files(conn, FLIGHTS, files, zone)
    assert (january.rows_read, january.rows_loaded, january.duplicates_dropped) == (N + 2, N, 1)
    assert january.reject_reasons == {"month": 1}
    assert (february.rows_read, february.rows_loaded) == (N + 1, N)
    assert february.reject_reasons == {"key": 1}
    assert (january.extra_columns, february.extra_columns) == ([], ["gate"])
    assert conn.execute(
        "SELECT _partition, _line, _reason, _source_file FROM raw.flights_rejects ORDER BY 1"
    ).fetchall() == [
        ("2013-01", N + 3, "month: row is for 2013-02, not 2013-01", "flights/flights_2013-01.csv"),
        (
            "2013-02",
            N + 2,
            "key: (2013, 2, 1, US, 1117, EWR) is already on line 2 with other values",
            "flights/flights_2013-02.csv",
        ),
    ]

    # One file per pass loads the same rows and rejects.
    def tables(c) -> list[list[tuple]]:
        return [
            c.execute(f"SELECT * EXCLUDE (_loaded_at) FROM raw.{name} ORDER BY ALL").fetchall()
            for name in ("flights", "flights_rejects")
        ]

    monkeypatch.setattr(ingest, "file_groups", lambda fs: [[f] for f in fs])
    with duckdb.connect(str(tmp_path / "apart.duckdb")) as apart:
        assert [r.reject_reasons for r in load_files(apart, FLIGHTS, files, zone)] == [
            {"month": 1},
            {"key": 1},
        ]
        assert tables(apart) == tables(conn)
    monkeypatch.undo()

    # A refusal names its own file, and no month of the pass changes.
    before = snapshot(conn)
    edit_rows(feb(zone), {i: {"distance": "-5"} for i in range(0, N, 50)})  # 2%
    with pytest.raises(RejectRateError, match="flights_2013-02.csv, column 'distance': 40 of"):
        load_files(conn, FLIGHTS, files, zone)
    assert snapshot(conn) == before


def test_column_reasons_cover_every_rule_of_a_column():
    sql = column_reason_sql("wind_speed", WEATHER.schema["wind_speed"], required=False)
    assert "cannot parse" in sql and "BETWEEN 0.0 AND 250.0" in sql
    assert "regexp_full_match" in column_reason_sql("carrier", FLIGHTS.schema["carrier"], True)
