"""The training feature table: every flight of ``fct_flights`` with its point-in-time features.

The table is maintained by month. A month's features depend only on its own flights and those of
the :data:`LOOKBACK_DAYS` before it (every aggregate is a window of at most 28 days), so a new or
changed month rebuilds that month and the :data:`LOOKBACK_MONTHS` after it, never the whole
history, and a full build runs in chunks of months whose memory does not grow with the years of
history. The vocabulary and the table's checks have their own modules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import duckdb
import polars as pl

from flightline.feature_vocabulary import extend_vocabulary, vocabulary_frame, vocabulary_from_frame
from flightline.features import (
    CATEGORICAL_SOURCES,
    FEATURE_COLUMNS,
    MAX_WINDOW_DAYS,
    SNAPSHOT_DAY,
    STATE_FORMAT_VERSION,
    FeatureState,
    Vocabulary,
    build_feature_state,
    build_vocabulary,
    flight_feature_rows,
    route_distances,
)
from flightline.months import first_day, months_reached, previous_month, shift_month
from flightline.training_data import MONTH_COLUMN, MonthSplit, month_split, training_table
from flightline.warehouse import read_table, replace_rows, replace_table, table_exists

FEATURES_TABLE = "features.flight_features"
# The same flights with features as served: from the snapshot of their month's start.
SERVED_FEATURES_TABLE = "features.flight_features_served"
VOCABULARY_TABLE = "features.vocabulary"
# Per month: the fingerprint of the inputs its stored features were built from.
BUILDS_TABLE = "features.flight_feature_builds"
# Flights scheduled this many days before a month are enough to compute its features: the longest
# window plus the days an outcome can take to become known (arrival the next day, +1 day; a
# flight that never arrived counts two days after its scheduled day), with margin.
LOOKBACK_DAYS = MAX_WINDOW_DAYS + 7
# The months before a month that its lookback can reach into (2 for 35 days).
LOOKBACK_MONTHS = months_reached(LOOKBACK_DAYS)
# The online snapshot keeps this many days of daily sums: enough for every feature window.
ONLINE_HORIZON_DAYS = 35
# Months built together: bigger chunks amortize per-chunk work, smaller ones bound memory.
CHUNK_MONTHS = 12


def served_from_month_snapshot(flights: pl.DataFrame) -> pl.DataFrame:
    """Each flight marked as served from the snapshot taken when its month began.

    That is how the service meets a month: the platform lands a month, snapshots the state as of
    its last day, and serves the next month from it (0 to 30 days stale).
    """
    return flights.with_columns(pl.col("flight_date").dt.truncate("1mo").alias(SNAPSHOT_DAY))


def build_feature_table(
    flights: pl.DataFrame,
    planes: pl.DataFrame,
    vocabulary: Vocabulary | None = None,
    *,
    as_served: bool = False,
    state: FeatureState | None = None,
) -> tuple[pl.DataFrame, dict[str, list[str]]]:
    """(flight_id, FEATURE_COLUMNS, flags, flight_month, label) per flight, and the vocabulary.

    ``as_served``: features as the service computes them from the snapshot of the month's start
    (:func:`served_from_month_snapshot`), instead of the day before each flight.
    """
    vocab = dict(vocabulary) if vocabulary is not None else build_vocabulary(flights)
    state = state if state is not None else build_feature_state(flights, planes)
    rows = served_from_month_snapshot(flights) if as_served else flights
    features = flight_feature_rows(rows, state, vocab)
    return training_table(flights, features), vocab


def history_start(month: str) -> date:
    """First scheduled day of the flights the features of ``month`` (and later) need."""
    return first_day(month) - timedelta(days=LOOKBACK_DAYS)


def months_to_rebuild(current: Mapping[str, str], built: Mapping[str, str]) -> list[str]:
    """Months whose stored features are missing or stale, in order.

    ``current``/``built``: month -> fingerprint of its inputs now / when its features were built.
    A month is stale when its own inputs or those of the :data:`LOOKBACK_MONTHS` months before
    changed (appeared, disappeared or differ): the months its lookback reaches into.
    """
    changed = {m for m in {*current, *built} if current.get(m) != built.get(m)}
    return [
        m
        for m in sorted(current)
        if any(shift_month(m, -k) in changed for k in range(LOOKBACK_MONTHS + 1))
    ]


def month_chunks(months: Sequence[str], size: int = CHUNK_MONTHS) -> list[list[str]]:
    """Runs of consecutive months, each cut into chunks of at most ``size``."""
    chunks: list[list[str]] = []
    for month in sorted(months):
        last = chunks[-1] if chunks else None
        if last and len(last) < size and previous_month(month) == last[-1]:
            last.append(month)
        else:
            chunks.append([month])
    return chunks


def _context_fingerprint(conn: duckdb.DuckDBPyConnection) -> str:
    """What every month's features depend on besides flights: planes and the feature set."""
    planes = conn.execute("SELECT sum(hash(p))::VARCHAR FROM marts.dim_planes p").fetchone()[0]
    code = f"{STATE_FORMAT_VERSION}|{LOOKBACK_DAYS}|{','.join(FEATURE_COLUMNS)}|as-served"
    return hashlib.sha256(f"{planes}|{code}".encode()).hexdigest()[:16]


def input_fingerprints(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Month -> fingerprint of its fct_flights rows (every column) and of the shared inputs."""
    context = _context_fingerprint(conn)
    rows = conn.execute(
        "SELECT flight_month, count(*), sum(hash(f))::VARCHAR FROM marts.fct_flights f GROUP BY 1"
    ).fetchall()
    return {month: f"{n}:{h}:{context}" for month, n, h in rows}


def data_fingerprint(conn: duckdb.DuckDBPyConnection) -> str:
    """One short hash of what the feature table was built from: its months and their inputs.

    The retraining sensor trains once per (champion, data fingerprint)."""
    builds = "|".join(f"{m}={f}" for m, f in sorted(built_fingerprints(conn).items()))
    return hashlib.sha256(builds.encode()).hexdigest()[:16]


def built_fingerprints(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    tables = (BUILDS_TABLE, FEATURES_TABLE, SERVED_FEATURES_TABLE)
    if not all(table_exists(conn, t) for t in tables):
        return {}
    return dict(conn.execute(f"SELECT flight_month, fingerprint FROM {BUILDS_TABLE}").fetchall())


def stored_vocabulary(conn: duckdb.DuckDBPyConnection) -> dict[str, list[str]] | None:
    if not table_exists(conn, VOCABULARY_TABLE):
        return None
    return vocabulary_from_frame(read_table(conn, f"SELECT * FROM {VOCABULARY_TABLE}"))


def read_month_history(
    conn: duckdb.DuckDBPyConnection, first_month: str, last_month: str
) -> pl.DataFrame:
    """fct_flights rows up to ``last_month`` that the features of ``first_month``.. need."""
    return read_table(
        conn,
        "SELECT * FROM marts.fct_flights WHERE flight_date >= ? AND flight_month <= ? "
        "ORDER BY flight_id",
        [history_start(first_month), last_month],
    )


def stored_months(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The months of the stored feature table, in order."""
    query = f"SELECT DISTINCT flight_month FROM {FEATURES_TABLE} ORDER BY 1"
    return [r[0] for r in conn.execute(query).fetchall()]


def read_feature_months(
    conn: duckdb.DuckDBPyConnection, months: Sequence[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The day-before and as-served feature rows of ``months``."""
    day_before, served = (
        read_table(
            conn,
            f"SELECT * FROM {table} WHERE flight_month IN (SELECT UNNEST(?)) ORDER BY flight_id",
            [list(months)],
        )
        for table in (FEATURES_TABLE, SERVED_FEATURES_TABLE)
    )
    return day_before, served


@dataclass(frozen=True)
class TrainingWindow:
    """What a model is trained on: the time split, the day-before and as-served feature rows of
    its months, the first month of all stored history and the stored vocabulary."""

    split: MonthSplit
    day_before: pl.DataFrame
    served: pl.DataFrame
    first_month: str
    vocabulary: dict[str, list[str]]


def read_training_window(
    conn: duckdb.DuckDBPyConnection, test_month: str | None, train_months: int | None
) -> TrainingWindow:
    """The time split over the stored months and everything training reads for it."""
    months = stored_months(conn)
    split = month_split(months, test_month, train_months)
    day_before, served = read_feature_months(conn, [*split.train, split.valid, split.test])
    vocabulary = stored_vocabulary(conn)
    if vocabulary is None:
        raise ValueError(f"{VOCABULARY_TABLE} is missing: build the feature table first")
    return TrainingWindow(split, day_before, served, months[0], vocabulary)


def read_planes(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_table(conn, "SELECT * FROM marts.dim_planes")


def online_state(
    conn: duckdb.DuckDBPyConnection, horizon_days: int, as_of_day: date | None = None
) -> FeatureState:
    """The as-of state after the last landed day (or as of ``as_of_day``), trimmed to
    ``horizon_days``: the snapshot the service loads.

    Only the flights its daily sums can reach are read; route distances (used when a request
    gives none) come from all history before it, as in a state built from everything.
    """
    if as_of_day is None:
        as_of_day = conn.execute("SELECT max(flight_date) + 1 FROM marts.fct_flights").fetchone()[0]
    first = as_of_day - timedelta(days=horizon_days + LOOKBACK_DAYS + 1)
    flights = read_table(
        conn,
        "SELECT * FROM marts.fct_flights WHERE flight_date >= ? AND flight_date < ? "
        "ORDER BY flight_id",
        [first, as_of_day],
    )
    routes = read_table(
        conn,
        "SELECT DISTINCT origin, dest, distance_miles FROM marts.fct_flights WHERE flight_date < ?",
        [as_of_day],
    )
    state = build_feature_state(
        flights, read_planes(conn), as_of=as_of_day, horizon_days=horizon_days
    )
    return replace(state, routes=route_distances(routes.lazy()).collect())


def build_month_features(
    history: pl.DataFrame,
    planes: pl.DataFrame,
    months: Sequence[str],
    vocabulary: Vocabulary,
    *,
    as_served: bool = False,
    state: FeatureState | None = None,
) -> pl.DataFrame:
    """Feature rows of the flights of ``months``, from history reaching LOOKBACK_DAYS before."""
    table, _ = build_feature_table(history, planes, vocabulary, as_served=as_served, state=state)
    return table.filter(pl.col(MONTH_COLUMN).is_in(list(months)))


@dataclass
class FeatureTableUpdate:
    rebuilt_months: list[str] = field(default_factory=list)
    removed_months: list[str] = field(default_factory=list)
    rows_written: int = 0
    full_rebuild: bool = False
    vocabulary: dict[str, list[str]] = field(default_factory=dict)


def update_feature_table(
    conn: duckdb.DuckDBPyConnection,
    *,
    full_rebuild: bool = False,
    chunk_months: int = CHUNK_MONTHS,
    log: Callable[[str], None] = lambda _: None,
) -> FeatureTableUpdate:
    """Bring ``features.flight_features`` up to date with ``marts.fct_flights``, month by month.

    Each chunk of months is written in one transaction (its rows replaced, so a rerun never
    duplicates), then its fingerprints: a run stopped halfway leaves the unfinished months stale,
    and the next run rebuilds them.
    """
    current = input_fingerprints(conn)
    built = {} if full_rebuild else built_fingerprints(conn)
    update = FeatureTableUpdate(full_rebuild=not built)
    if update.full_rebuild:  # nothing reusable: start from empty tables and a sorted vocabulary
        for table in (FEATURES_TABLE, SERVED_FEATURES_TABLE, BUILDS_TABLE):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    distinct = {
        src: [
            r[0]
            for r in conn.execute(
                f"SELECT DISTINCT {src} FROM marts.fct_flights WHERE {src} IS NOT NULL"
            ).fetchall()
        ]
        for src in CATEGORICAL_SOURCES.values()
    }
    vocabulary = extend_vocabulary(
        None if update.full_rebuild else stored_vocabulary(conn), distinct
    )
    replace_table(conn, VOCABULARY_TABLE, vocabulary_frame(vocabulary))
    update.vocabulary = vocabulary

    update.removed_months = sorted(set(built) - set(current))
    if update.removed_months:
        for table in (FEATURES_TABLE, SERVED_FEATURES_TABLE, BUILDS_TABLE):
            conn.execute(
                f"DELETE FROM {table} WHERE flight_month IN (SELECT UNNEST(?))",
                [update.removed_months],
            )
    planes = read_planes(conn)
    for chunk in month_chunks(months_to_rebuild(current, built), chunk_months):
        history = read_month_history(conn, chunk[0], chunk[-1])
        state = build_feature_state(history, planes)
        for name, as_served in ((FEATURES_TABLE, False), (SERVED_FEATURES_TABLE, True)):
            table = build_month_features(
                history, planes, chunk, vocabulary, as_served=as_served, state=state
            )
            replace_rows(conn, name, table, MONTH_COLUMN, chunk)
        builds = pl.DataFrame(
            {"flight_month": chunk, "fingerprint": [current[m] for m in chunk]},
            schema={"flight_month": pl.String, "fingerprint": pl.String},
        )
        replace_rows(conn, BUILDS_TABLE, builds, "flight_month", chunk)
        update.rebuilt_months += chunk
        update.rows_written += table.height
        log(f"features for {chunk[0]}..{chunk[-1]}: {table.height:,} rows")
    return update
