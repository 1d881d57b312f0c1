"""The serving fast path: the snapshot's aggregates as flat arrays, one feature row per flight.

:func:`flightline.features.flight_feature_rows` costs ~50 Polars operations per call whatever the
number of flights. A served request asks about a few flights on days the snapshot covers, whose
aggregates depend only on (key, effective day). So at model load :func:`build_snapshot_arrays`
evaluates the shared rules of :mod:`flightline.features.aggregates` (``_global_features``,
``_key_features`` and ``_fill_for_unmatched``: the very functions training runs) once for every key
of the snapshot and every effective day it covers, into one float32 array per key; a request then
costs a dictionary lookup per key and a numpy gather (:meth:`SnapshotArrays.assemble`).

The per-flight rules that are not aggregates (calendar, codes, distance, plane, weather fill,
staleness) are re-stated here in plain Python on :class:`~flightline.prediction_schema.Flight`
objects: a twin of ``flight_feature_rows`` that tests/unit/test_serving_snapshot.py holds equal to
it, row for row and bit for bit, on real and edge-case flights.

Covered days: every effective day the snapshot holds daily rows for, i.e. the as-of day (every
flight on or after it) and the ``horizon_days - 1`` days before it (past-day requests). A flight
on an earlier day is left to the general path (``assemble`` returns None for its request).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np
import polars as pl

from flightline import features as F
from flightline.features.aggregates import _fill_for_unmatched, _global_features, _key_features
from flightline.features.catalog import _aggregate_feature_names
from flightline.prediction_schema import Flight
from flightline.serving_request import PlainFlight

# A flight's key values, in this order, for every aggregation key (features.catalog._KEY_DTYPES).
_KEY_ORDER = ("_all", "carrier", "origin", "dest", "tailnum", "flight_number", "sched_dep_hour")
_weather_values = attrgetter(*F.WEATHER_COLUMNS)
# The per-flight features the twin computes, in this order (then the aggregates).
_ROW_FEATURES = (
    *F.CATEGORICAL_FEATURES,
    *F.CALENDAR_FEATURES,
    *F.SCHEDULE_FEATURES,
    *F.PLANE_FEATURES,
    *F.WEATHER_FEATURES,
    "state_stale_days",
)
FLAGS = (*F.FLAG_COLUMNS, "history_incomplete")


@dataclass(frozen=True)
class KeyTable:
    """One aggregation key: key values -> slot; values[day, slot] = the key's features."""

    name: str
    columns: tuple[str, ...]
    # key value (one-column keys) or tuple -> slot; the unmatched slot (absent or null key: the
    # fills) is len(index)
    index: dict[Any, int]
    getter: Callable[[tuple], Any]  # a flight's _KEY_ORDER values -> its key in ``index``
    values: np.ndarray  # (days, len(index) + 1, outputs) float32
    positions: np.ndarray  # where the outputs go in the model's feature vector


@dataclass(frozen=True)
class Assembled:
    """One request's model input and its flags (``FLAGS``), row for row."""

    matrix: np.ndarray  # float32, the model's feature order (what feature_matrix returns)
    flags: dict[str, np.ndarray]


@dataclass(frozen=True)
class SnapshotArrays:
    """What :meth:`assemble` needs, built once per model by :func:`build_snapshot_arrays`."""

    first_day: date  # earliest effective day covered (index 0 of every KeyTable's values)
    as_of_day: date
    first_complete_day: date | None
    keys: tuple[KeyTable, ...]
    row_positions: np.ndarray  # where _ROW_FEATURES go in the model's feature vector
    width: int
    codes: dict[str, dict[str, int]]  # carrier/origin/dest -> category code
    planes: dict[str, tuple[int | None, int | None, int | None]]  # year_built, seats, engines
    routes: dict[tuple[str, str], int]
    weather: dict[str, tuple[list[int], list[tuple[float | None, ...]]]]  # ordinals, values
    _calendar: dict[date, tuple]

    def assemble(self, flights: Sequence[Flight | PlainFlight]) -> Assembled | None:
        """Features of validated flights, equal to ``feature_matrix(flight_feature_rows(...))``;
        None when a flight's effective day is before the covered days (use the general path)."""
        n = len(flights)
        first, last = self.first_day.toordinal(), self.as_of_day.toordinal()
        complete = self.first_complete_day
        rows: list[tuple] = []
        flags: list[tuple] = []
        day_index: list[int] = []
        key_values: list[tuple] = []
        for f in flights:
            sd = f.scheduled_departure
            day = sd.date()
            cal = self._calendar.get(day) or self._calendar_of(day)
            ordinal, weekday, month, doy, year, to_holiday, since_holiday = cal
            eff = min(ordinal, last)
            if eff < first:
                return None
            day_index.append(eff - first)
            key_values.append((1, f.carrier, f.origin, f.dest, f.tailnum, f.flight, sd.hour))
            carrier = self.codes["carrier"].get(f.carrier)
            origin = self.codes["origin"].get(f.origin)
            dest = self.codes["dest"].get(f.dest)
            distance = round(f.distance) if f.distance is not None else None
            if distance is None:
                distance = self.routes.get((f.origin, f.dest))
            plane = self.planes.get(f.tailnum) if f.tailnum is not None else None
            built, seats, engines = plane if plane is not None else (None, None, None)
            weather, filled, missing = self._weather_of(f, ordinal, eff)
            temp, dewp = weather[0], weather[1]
            rows.append(
                (
                    carrier,
                    origin,
                    dest,
                    sd.hour,
                    sd.hour * 60 + sd.minute,
                    weekday,
                    month,
                    doy,
                    to_holiday,
                    since_holiday,
                    distance,
                    f.flight,
                    None if built is None else year - built,
                    seats,
                    engines,
                    *weather,
                    None if temp is None or dewp is None else temp - dewp,
                    ordinal - eff,
                )
            )
            flags.append(
                (
                    carrier is None,
                    origin is None,
                    dest is None,
                    built is None and seats is None,
                    filled,
                    missing,
                    ordinal - eff,
                    complete is not None and day < complete,
                )
            )
        matrix = np.empty((n, self.width), dtype=np.float32)
        # numpy converts None to NaN, as feature_matrix does; float64 first, so temp - dewp is
        # rounded once.
        matrix[:, self.row_positions] = np.array(rows, dtype=np.float64)
        days = np.asarray(day_index, dtype=np.intp)
        for key in self.keys:
            slot, get, getter = len(key.index), key.index.get, key.getter
            ids = [get(getter(v), slot) for v in key_values]
            matrix[:, key.positions] = key.values[days, np.asarray(ids, dtype=np.intp)]
        columns = list(zip(*flags, strict=True)) if flags else [()] * len(FLAGS)
        return Assembled(
            matrix,
            {
                name: np.asarray(col, dtype=np.int32 if name == "state_stale_days" else bool)
                for name, col in zip(FLAGS, columns, strict=True)
            },
        )

    def _calendar_of(self, day: date) -> tuple:
        (pair,) = F.holiday_pairs([day])
        ordinal = day.toordinal()
        doy = ordinal - date(day.year, 1, 1).toordinal() + 1
        value = (ordinal, day.isoweekday(), day.month, doy, day.year, *pair)
        if len(self._calendar) < 10_000:  # requests name few days; a flood of odd days is bounded
            self._calendar[day] = value
        return value

    def _weather_of(
        self, f: Flight | PlainFlight, ordinal: int, eff: int
    ) -> tuple[tuple, bool, bool]:
        """(weather values, weather_from_snapshot, weather_missing), as
        features.compute._fill_weather."""
        given = f.weather
        if given is not None:
            values = _weather_values(given)
            if values.count(None) < len(values):
                return values, False, False
        found = self.weather.get(f.origin)
        if found is not None:
            ordinals, observations = found
            i = bisect_right(ordinals, eff) - 1  # the last observation known at day_eff
            if i >= 0 and ordinal - ordinals[i] <= F.WEATHER_FILL_MAX_AGE_DAYS:
                values = observations[i]
                filled = values[0] is not None  # as _fill_weather: filled means a temperature
                return values, filled, not filled
        return (None,) * len(F.WEATHER_COLUMNS), False, True


def _key_table(
    state: F.FeatureState,
    key: F.AggKey,
    days: pl.DataFrame,
    priors: pl.DataFrame,
    positions: dict[str, int],
) -> KeyTable:
    """The shared rules evaluated for every (key in the state, covered day), plus the fills."""
    names = _aggregate_feature_names(key)
    cols = list(key.columns)
    keys = state.daily[key.name].select(*cols).unique().sort(cols).with_row_index("__slot")
    queries = keys.select(cols).join(days, how="cross")
    feats = _key_features(queries, state, key, priors)
    # Nulls in a matched row get the fills too, as on the general path (fill after the join).
    matched = (
        feats.join(priors, on="day_eff", how="left")
        .with_columns(_fill_for_unmatched(key))
        .join(keys, on=cols, how="left")
    )
    unmatched = priors.with_columns(pl.lit(None, pl.Float64).alias(n) for n in names).with_columns(
        _fill_for_unmatched(key)
    )
    first = days.get_column("day_eff").min()
    n_days, slot = days.height, keys.height
    values = np.full((n_days, slot + 1, len(names)), np.nan, dtype=np.float32)

    def day_of(frame: pl.DataFrame) -> np.ndarray:
        offset = (pl.col("day_eff") - pl.lit(first)).dt.total_days()
        return frame.select(offset).to_series().to_numpy()

    cast = [pl.col(n).cast(pl.Float32) for n in names]  # feature_matrix's cast
    values[day_of(matched), matched.get_column("__slot").to_numpy()] = matched.select(
        cast
    ).to_numpy()
    values[day_of(unmatched), slot] = unmatched.select(cast).to_numpy()
    rows = keys.select(cols).rows()
    return KeyTable(
        name=key.name,
        columns=key.columns,
        index={(k[0] if len(cols) == 1 else k): i for i, k in enumerate(rows)},
        getter=itemgetter(*(_KEY_ORDER.index(c) for c in cols)),
        values=values,
        positions=np.asarray([positions[n] for n in names], dtype=np.intp),
    )


def build_snapshot_arrays(
    state: F.FeatureState,
    vocabulary: F.Vocabulary,
    features: Sequence[str],
    *,
    days: int | None = None,
) -> SnapshotArrays | None:
    """The arrays for ``state`` (the model's snapshot) and the model's feature list.

    ``days``: effective days covered, ending at the as-of day (default: the snapshot's horizon;
    1 for a state with no horizon). None if the model has a feature this module does not build.
    """
    positions = {name: i for i, name in enumerate(features)}
    if set(features) != {*_ROW_FEATURES, *F.AGGREGATE_FEATURES}:
        return None
    n_days = days or state.horizon_days or 1
    first = state.as_of_day - timedelta(days=n_days - 1)
    day_list = [first + timedelta(days=i) for i in range(n_days)]
    day_frame = pl.DataFrame({"day_eff": day_list}, schema={"day_eff": pl.Date})
    priors = _global_features(day_frame.with_columns(pl.lit(1, pl.Int8).alias("_all")), state)
    keys = tuple(_key_table(state, k, day_frame, priors, positions) for k in F.AGG_KEYS)
    weather: dict[str, tuple[list[int], list[tuple]]] = {}
    for row in state.weather.sort("origin", "available_from").iter_rows(named=True):
        ordinals, observations = weather.setdefault(row["origin"], ([], []))
        ordinals.append(row["available_from"].toordinal())
        observations.append(tuple(row[c] for c in F.WEATHER_COLUMNS))
    planes = {
        r[0]: (r[1], r[2], r[3])
        for r in state.planes.select("tailnum", "year_built", "seats", "engines").rows()
    }
    return SnapshotArrays(
        first_day=first,
        as_of_day=state.as_of_day,
        first_complete_day=state.first_complete_day,
        keys=keys,
        row_positions=np.asarray([positions[n] for n in _ROW_FEATURES], dtype=np.intp),
        width=len(features),
        codes={
            src: {code: i for i, code in enumerate(vocabulary[src])}
            for src in F.CATEGORICAL_SOURCES.values()
        },
        planes=planes,
        routes={(o, d): m for o, d, m in state.routes.iter_rows()},
        weather=weather,
        _calendar={},
    )


def describe(arrays: SnapshotArrays) -> dict[str, Any]:
    """Sizes, for logs and benchmarks."""
    return {
        "days": (arrays.as_of_day - arrays.first_day).days + 1,
        "keys": {k.name: len(k.index) for k in arrays.keys},
        "bytes": int(sum(k.values.nbytes for k in arrays.keys)),
    }
