"""The dbt tests on the marts repeat the load's domain rules with the same figures."""

import re
from pathlib import Path

import pytest
import yaml

from flightline.raw_schemas import RAW_TABLES

MARTS = Path(__file__).parents[2] / "dbt_project" / "models" / "marts"

# mart model -> mart column -> (raw table, raw column) it comes from
SOURCES = {
    "fct_flights": {
        "flight_number": ("flights", "flight"),
        "distance_miles": ("flights", "distance"),
        "sched_dep_hour": ("flights", "hour"),
        "sched_dep_minute": ("flights", "minute"),
        "sched_arr_hhmm": ("flights", "sched_arr_time"),
        "dep_time_hhmm": ("flights", "dep_time"),
        "arr_time_hhmm": ("flights", "arr_time"),
        "dep_delay_minutes": ("flights", "dep_delay"),
        "arr_delay_minutes": ("flights", "arr_delay"),
        "air_time_minutes": ("flights", "air_time"),
        "carrier": ("flights", "carrier"),
        "tailnum": ("flights", "tailnum"),
        "dest": ("flights", "dest"),
        **{c: ("weather", c) for c in ("temp", "dewp", "humid", "wind_dir", "wind_speed")},
        **{c: ("weather", c) for c in ("wind_gust", "precip", "pressure", "visib")},
        "plane_year_built": ("planes", "year"),
        "plane_seats": ("planes", "seats"),
        "plane_engines": ("planes", "engines"),
    },
    "dim_airports": {
        "airport_code": ("airports", "faa"),
        "lat": ("airports", "lat"),
        "lon": ("airports", "lon"),
        "alt": ("airports", "alt"),
        "tz_offset": ("airports", "tz"),
        "dst": ("airports", "dst"),
        "tzone": ("airports", "tzone"),
    },
    "dim_planes": {
        "year_built": ("planes", "year"),
        "engines": ("planes", "engines"),
        "seats": ("planes", "seats"),
        "speed": ("planes", "speed"),
        "tailnum": ("planes", "tailnum"),
    },
    "dim_airlines": {"carrier": ("airlines", "carrier")},
}


def domain_tests() -> dict[str, dict]:
    models = [m for yml in MARTS.glob("*.yml") for m in yaml.safe_load(yml.read_text())["models"]]
    found = {}
    for model in models:
        for test in model.get("data_tests", []):
            if isinstance(test, dict) and "within_domain" in test:
                found[model["name"]] = test["within_domain"]["arguments"]
    return found


@pytest.mark.parametrize("model", sorted(SOURCES))
def test_every_mart_rule_has_the_figures_of_the_load(model):
    args = domain_tests()[model]
    checked = set()
    for column, (lo, hi) in args.get("ranges", {}).items():
        table, raw = SOURCES[model][column]
        col = RAW_TABLES[table].schema[raw]
        assert (lo, hi) == (col.min, col.max), (model, column)
        checked.add(column)
    for column in args.get("clock_times", []):
        table, raw = SOURCES[model][column]
        assert RAW_TABLES[table].schema[raw].hhmm, (model, column)
    for column, pattern in args.get("patterns", {}).items():
        table, raw = SOURCES[model][column]
        col = RAW_TABLES[table].schema[raw]
        if col.values:  # one of a few values: the pattern accepts exactly those letters
            letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
            assert {v for v in letters if re.fullmatch(pattern, v)} == set(col.values)
        else:
            assert pattern == col.pattern, (model, column)
        checked.add(column)
    # every ranged or shaped raw column the mart carries is tested there
    for column, (table, raw) in SOURCES[model].items():
        col = RAW_TABLES[table].schema[raw]
        if col.min is not None or col.pattern or col.values:
            assert column in checked, (model, column)
