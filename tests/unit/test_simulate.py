"""Simulated months: the real schema and layout, consistent times, drift knobs that do what they say."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pytest

from flightline.ingest import load_file
from flightline.landing import landing_file
from flightline.raw_schemas import FLIGHTS, WEATHER
from flightline.synthetic.knobs import NO_DRIFT, DriftSpec, parse_drift
from flightline.synthetic.routes import NEW_ROUTES_PER_ORIGIN, new_routes
from flightline.synthetic.simulate import simulate_month, simulate_months
from flightline.synthetic.templates import load_templates

NY = ZoneInfo("America/New_York")
INTS = [c for c, t in FLIGHTS.columns.items() if t == "INTEGER"]


@pytest.fixture(scope="module")
def templates():
    return load_templates()


@pytest.fixture(scope="module")
def march(templates):
    """2014-03 (DST starts on the 9th in 2014, the 10th in 2013) without drift."""
    return simulate_month("2014-03", NO_DRIFT, 0, templates)


def typed(flights: pl.DataFrame) -> pl.DataFrame:
    return flights.with_columns(pl.col(c).cast(pl.Int64, strict=False) for c in INTS)


def late_share(flights: pl.DataFrame, carrier: str | None = None) -> float:
    t = typed(flights).filter(pl.col("arr_delay").is_not_null())
    if carrier:
        t = t.filter(pl.col("carrier") == carrier)
    return float((t["arr_delay"] >= 15).mean())


def minutes(col: str) -> pl.Expr:
    return pl.col(col) // 100 * 60 + pl.col(col) % 100


# ---- parsing ------------------------------------------------------------------------------


def test_parse_drift_reads_every_knob_and_round_trips():
    spec = parse_drift(" weather=0.3, carrier:ev=0.2 ,routes=0.05,carrier:9E=0.1")
    assert spec.weather == 0.3 and spec.routes == 0.05
    assert dict(spec.carriers) == {"9E": 0.1, "EV": 0.2}
    assert parse_drift(spec.to_spec()) == spec
    assert spec.to_spec() == "weather=0.3,carrier:9E=0.1,carrier:EV=0.2,routes=0.05"
    for empty in ("", "none", " NONE "):
        assert parse_drift(empty) == NO_DRIFT and NO_DRIFT.is_none
    assert str(NO_DRIFT) == "none"
    assert parse_drift("carrier:EV=0,weather=0") == NO_DRIFT


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("weather", "'weather'"),
        ("weather=abc", "'weather=abc'"),
        ("weather=1.5", "'weather=1.5'"),
        ("routes=-0.1", "'routes=-0.1'"),
        ("weather=0.2,wether=0.3", "'wether=0.3'"),
        ("carrier:E=0.2", "'carrier:E=0.2'"),
        ("carrier=0.2", "'carrier=0.2'"),
        ("carrier:EV=0.1,carrier:ev=0.2", "'carrier:ev=0.2'"),
        ("weather=0.1,weather=0.2", "'weather=0.2'"),
        ("weather=0.1,,routes=0.1", "empty part"),
        ("weather=0.1=0.2", "'weather=0.1=0.2'"),
    ],
)
def test_parse_drift_errors_name_the_bad_part(text, names):
    with pytest.raises(ValueError, match=names):
        parse_drift(text)


def test_drift_spec_validates_direct_construction():
    with pytest.raises(ValueError, match="weather"):
        DriftSpec(weather=2)
    with pytest.raises(ValueError, match="carrier:EV"):
        DriftSpec(carriers={"ev": -1})


def test_refuses_real_months_unknown_carriers_and_bad_seeds(templates, tmp_path):
    with pytest.raises(ValueError, match="after 2013"):
        simulate_months(tmp_path, ["2013-12"], templates=templates)
    with pytest.raises(ValueError, match="carrier:ZZ"):
        simulate_months(tmp_path, ["2014-01"], parse_drift("carrier:ZZ=0.1"), templates=templates)
    with pytest.raises(ValueError, match="seed"):
        simulate_months(tmp_path, ["2014-01"], seed=-1, templates=templates)
    assert not any(tmp_path.iterdir())


# ---- a faithful month ---------------------------------------------------------------------


def test_landed_month_has_the_real_layout_and_loads_without_rejects(templates, tmp_path):
    drift = parse_drift("weather=0.3,carrier:EV=0.2,routes=0.05")
    written = simulate_months(tmp_path, ["2014-01"], drift, seed=1, templates=templates)
    flights_path = landing_file(tmp_path, FLIGHTS, "2014-01")
    weather_path = landing_file(tmp_path, WEATHER, "2014-01")
    assert written == [flights_path, weather_path]
    assert not list(tmp_path.rglob("*.part"))

    flights = pl.read_csv(flights_path, infer_schema=False)
    weather = pl.read_csv(weather_path, infer_schema=False)
    assert flights.columns == list(FLIGHTS.columns)
    assert weather.columns == list(WEATHER.columns)
    assert set(flights["year"]) == {"2014"} and set(flights["month"]) == {"1"}
    assert (flights["dep_time"] == "NA").sum() > 0  # cancelled flights written as in the source
    assert (weather["wind_gust"] == "NA").sum() > 0
    assert flights.select(pl.struct(FLIGHTS.key).is_duplicated().any()).item() is False
    assert weather.select(pl.struct(WEATHER.key).is_duplicated().any()).item() is False

    # The real loader accepts every row: types, required values, month, unique keys.
    with duckdb.connect() as conn:
        for table, path in ((FLIGHTS, flights_path), (WEATHER, weather_path)):
            result = load_file(conn, table, path, tmp_path, "2014-01")
            assert result.rows_rejected == 0, result.reject_reasons
            assert result.rows_loaded == result.rows_read > 0


def test_without_drift_a_month_is_the_template_with_new_dates(templates):
    flights, weather = simulate_month("2014-01", NO_DRIFT, 0, templates)
    real = templates.flights.filter(pl.col("month") == "1").with_columns(
        pl.when(pl.all() != "NA").then(pl.all())  # the source keeps 'NA' as text
    )
    assert flights.height == real.height == 27_004
    same = [c for c in FLIGHTS.columns if c not in ("year", "time_hour")]
    assert flights.select(same).sort(same).equals(real.select(same).sort(same))
    assert weather.height == templates.weather.filter(pl.col("month") == "1").height


def test_leap_february_repeats_the_last_template_day(templates):
    flights, weather = simulate_month("2016-02", NO_DRIFT, 0, templates)
    per_day = flights.group_by("day").len()
    assert per_day.height == 29
    assert per_day.filter(pl.col("day") == "29")["len"].item() == (
        per_day.filter(pl.col("day") == "28")["len"].item()
    )
    assert flights.select(pl.struct(FLIGHTS.key).is_duplicated().any()).item() is False
    assert "29" in set(weather["day"])


@pytest.mark.parametrize("month", ["2014-03", "2014-11"])
def test_time_hour_is_the_new_york_local_hour_in_utc(templates, march, month):
    flights, weather = (
        march if month == "2014-03" else simulate_month(month, NO_DRIFT, 0, templates)
    )
    for df in (flights, weather):
        local = (
            pl.col("time_hour")
            .str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
            .dt.convert_time_zone("America/New_York")
        )
        checked = df.with_columns(
            local.dt.strftime("%Y-%-m-%-d %-H").alias("from_utc"),
            pl.concat_str("year", "month", "day", separator="-").alias("date"),
        ).with_columns((pl.col("date") + " " + pl.col("hour")).alias("from_columns"))
        assert (checked["from_utc"] == checked["from_columns"]).all()
    # Flights still find their weather hour as often as in the real data.
    joined = flights.join(weather, on=["origin", "time_hour"], how="left", suffix="_w")
    assert joined["temp"].is_not_null().mean() > 0.99


def test_dst_changes_follow_the_target_year(templates, march):
    flights, weather = march
    # 2014-03-09 is already daylight time (2013's change was on the 10th): 10:00 EDT = 14:00Z.
    ten = flights.filter(pl.col("day") == "9", pl.col("hour") == "10")
    assert ten.height > 0 and set(ten["time_hour"]) == {"2014-03-09T14:00:00Z"}
    expected = datetime(2014, 3, 9, 10, tzinfo=NY).astimezone(UTC)
    assert expected.strftime("%Y-%m-%dT%H:%M:%SZ") == "2014-03-09T14:00:00Z"
    # The skipped local hour has no weather, the surrounding ones do.
    spring = weather.filter(pl.col("origin") == "JFK", pl.col("day") == "9")
    assert "2" not in set(spring["hour"]) and {"1", "3"} <= set(spring["hour"])
    # In autumn the repeated local 1 am appears twice, an hour apart in UTC.
    _, nov = simulate_month("2014-11", NO_DRIFT, 0, templates)
    repeated = nov.filter(pl.col("origin") == "JFK", pl.col("day") == "2", pl.col("hour") == "1")
    assert sorted(repeated["time_hour"]) == ["2014-11-02T05:00:00Z", "2014-11-02T06:00:00Z"]


# ---- drift knobs --------------------------------------------------------------------------


def test_carrier_knob_raises_the_late_share_by_about_y(templates, march):
    base, base_weather = march
    drifted, weather = simulate_month("2014-03", parse_drift("carrier:EV=0.2"), 0, templates)
    assert late_share(drifted, "EV") - late_share(base, "EV") == pytest.approx(0.2, abs=0.005)
    # Other carriers and the weather are untouched.
    assert drifted.filter(pl.col("carrier") != "EV").equals(base.filter(pl.col("carrier") != "EV"))
    assert weather.equals(base_weather)


def test_weather_knob_makes_storm_days_with_worse_weather_and_delays(templates, march):
    base, base_weather = march
    drifted, weather = simulate_month("2014-03", parse_drift("weather=0.3"), 0, templates)
    visib = weather["visib"].cast(pl.Float64)
    assert visib.mean() < base_weather["visib"].cast(pl.Float64).mean() - 1.0
    changed_days = set(
        weather.join(base_weather, on=["origin", "time_hour"], suffix="_b").filter(
            pl.col("visib") != pl.col("visib_b")
        )["day"]
    )
    assert len(changed_days) == round(0.3 * 31)  # 9 storm days
    storm = pl.col("day").is_in(sorted(changed_days))
    on_storm = weather.filter(storm).with_columns(
        pl.col(c).cast(pl.Float64, strict=False) for c in ("precip", "wind_speed")
    )
    assert (on_storm["precip"] > 0).all() and on_storm["wind_speed"].min() >= 5
    # Flights on storm days are later, the others unchanged, cancellations kept.
    assert late_share(drifted.filter(storm)) > late_share(base.filter(storm)) + 0.3
    assert drifted.filter(~storm).equals(base.filter(~storm))
    assert drifted["dep_time"].null_count() == base["dep_time"].null_count() > 0


def test_routes_knob_adds_flights_on_routes_never_flown(templates, march):
    base, _ = march
    drifted, _ = simulate_month("2014-03", parse_drift("routes=0.05"), 0, templates)
    flown = templates.flights.select("origin", "dest").unique()
    new = drifted.join(flown, on=["origin", "dest"], how="anti")
    assert drifted.height - base.height == new.height == round(0.05 * base.height)
    pairs = new.select("origin", "dest").unique()
    assert pairs.height == 3 * NEW_ROUTES_PER_ORIGIN
    assert set(pairs["dest"]) <= set(templates.airports["faa"])
    assert drifted.select(pl.struct(FLIGHTS.key).is_duplicated().any()).item() is False
    assert (new["flight"].cast(pl.Int64) >= 9000).all()
    # The same routes every month for a seed, different ones for another seed.
    routes = new_routes(templates, 0)
    assert set(routes.select("origin", "dest").iter_rows()) == set(pairs.iter_rows())
    assert not routes.equals(new_routes(templates, 1))


def test_drifted_outcomes_stay_internally_consistent(templates):
    drift = parse_drift("weather=0.5,carrier:B6=0.3,routes=0.1")
    t = typed(simulate_month("2014-11", drift, 3, templates)[0])
    departed = t.filter(pl.col("dep_delay").is_not_null())
    dep_ok = (minutes("sched_dep_time") + pl.col("dep_delay") - minutes("dep_time")) % 1440 == 0
    assert departed.select(dep_ok.all()).item()
    arrived = t.filter(pl.col("arr_delay").is_not_null())
    arr_ok = (minutes("sched_arr_time") + pl.col("arr_delay") - minutes("arr_time")) % 1440 == 0
    assert arrived.select(arr_ok.all()).item()
    assert arrived.select(pl.col("air_time").is_between(15, 800).all()).item()
    clock = pl.col("dep_time", "arr_time", "sched_dep_time", "sched_arr_time")
    assert (
        t.select((clock.is_null() | (clock.is_between(1, 2400) & (clock % 100 < 60))).all()).row(0)
        == (True,) * 4
    )
    # Cancelled flights (never departed) keep every outcome missing.
    cancelled = t.filter(pl.col("dep_time").is_null())
    outcomes = pl.col("dep_delay", "arr_time", "arr_delay", "air_time")
    assert cancelled.height > 0
    assert cancelled.select(outcomes.is_null().all()).row(0) == (True,) * 4


def test_same_seed_same_files_other_seed_other_files(templates, tmp_path):
    drift = parse_drift("weather=0.2,carrier:EV=0.1,routes=0.02")
    a = simulate_months(tmp_path / "a", ["2014-01", "2014-02"], drift, seed=7, templates=templates)
    b = simulate_months(tmp_path / "b", ["2014-02"], drift, seed=7, templates=templates)
    c = simulate_months(tmp_path / "c", ["2014-02"], drift, seed=8, templates=templates)
    # A month does not depend on the other months simulated with it.
    assert a[2].read_bytes() == b[0].read_bytes() and a[3].read_bytes() == b[1].read_bytes()
    assert c[0].read_bytes() != b[0].read_bytes() and c[1].read_bytes() != b[1].read_bytes()
