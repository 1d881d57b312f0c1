"""Test-wide setup: every test runs against throwaway data folders, never the project's data/."""

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

# Before any project import: resources.dbt exports the DuckDB path when it is first imported.
_session_home = Path(tempfile.mkdtemp(prefix="flightline-test-"))
os.environ["FLIGHTLINE_HOME"] = str(_session_home)
os.environ["FLIGHTLINE_DUCKDB_PATH"] = str(_session_home / "warehouse.duckdb")
os.environ["BENTOML_HOME"] = str(_session_home / "bentoml")
os.environ["BENTOML_DO_NOT_TRACK"] = "true"
os.environ.pop("DAGSTER_HOME", None)


@pytest.fixture(scope="session")
def landed_2013(tmp_path_factory) -> Path:
    """A landing zone with January and February 2013, landed once per session (read-only)."""
    from flightline.landing import land
    from flightline.months import month_range

    zone = tmp_path_factory.mktemp("landing")
    land(zone, month_range("2013-01", "2013-02"))
    return zone


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL cluster for the session (initdb + pg_ctl on a free port), removed at
    the end; yields the URL of its database ``flightline``. Skipped only without the binaries."""
    from bench.pg_cluster import PostgresUnavailable, server_bin_dir, throwaway_cluster

    try:
        server_bin_dir()
    except PostgresUnavailable as exc:
        pytest.skip(f"no PostgreSQL server on this machine ({exc}); .ci/run installs one")
    with throwaway_cluster() as url:
        yield url


# Tests that build a trained pipeline, start PostgreSQL or run the CLI end to end take minutes;
# `make test-fast` (-m "not slow") skips them. Derived from the fixtures a test uses, so a new
# test on these fixtures lands in the right tier without anyone remembering to mark it.
SLOW_FIXTURES = {"trained", "postgres_url", "partial_year"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    items.sort(key=start_order(items))


# The longest files, started first (`make test` hands out whole files in collection order, with
# --no-loadscope-reorder): the daemon's closed loop (~8 min on 2 cores), the concurrent lake
# ingests and the lake-vs-file comparison (~6 min), the partial-year run (~4 min).
LONGEST_FIRST = ("test_daemon.py", "test_scale_out.py", "test_served_quality.py")


def start_order(items) -> Callable[[pytest.Item], int]:
    """The longest files first, then the other files with slow tests, then the rest: the long
    work starts while the short files fill the gaps, instead of minutes-long files left for the
    end. Among the slow files, those without the ``trained`` pipeline first: they run while one
    worker builds it and the others wait for it."""
    rank: dict[Path, int] = {}
    for item in items:
        if item.path.name in LONGEST_FIRST:
            rank[item.path] = LONGEST_FIRST.index(item.path.name)
        elif item.get_closest_marker("slow"):
            slow = len(LONGEST_FIRST) + ("trained" in getattr(item, "fixturenames", ()))
            rank[item.path] = min(rank.get(item.path, slow), slow)
        else:
            rank.setdefault(item.path, len(LONGEST_FIRST) + 2)
    return lambda item: rank[item.path]
