"""Months: the one place that turns 'YYYY-MM' keys into dates, ranges and partition keys.

A month is the string ``'2013-01'``; a monthly Dagster partition key is its first day,
``'2013-01-01'``. Every module that steps, ranges or converts months uses these functions.
"""

from __future__ import annotations

import re
from datetime import date

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
# The shortest month: a span of N days can reach back ceil(N / 28) calendar months.
SHORTEST_MONTH_DAYS = 28


def parse_month(value: str) -> tuple[int, int]:
    """'2013-01' -> (2013, 1), with a message that names the bad value."""
    m = MONTH_RE.match(value.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"invalid month {value!r}: expected YYYY-MM, e.g. 2013-01")
    return int(m.group(1)), int(m.group(2))


def shift_month(month: str, months: int) -> str:
    """'2014-01' shifted by ``months`` (negative: earlier), as 'YYYY-MM'."""
    year, mon = parse_month(month)
    index = year * 12 + mon - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def previous_month(month: str) -> str:
    return shift_month(month, -1)


def next_month(month: str) -> str:
    return shift_month(month, 1)


def first_day(month: str) -> date:
    """'2013-01' -> date(2013, 1, 1)."""
    year, mon = parse_month(month)
    return date(year, mon, 1)


def partition_key(month: str) -> str:
    """'2013-01' -> '2013-01-01', the monthly partition key of the month."""
    return first_day(month).isoformat()


def month_of(partition_key: str) -> str:
    """'2013-01-01' (a monthly partition key, or any ISO date) -> '2013-01'."""
    month = partition_key.strip()[:7]
    parse_month(month)
    return month


def month_range(start: str, end: str) -> list[str]:
    """Inclusive list of 'YYYY-MM' keys from start to end."""
    (y, m), (y_end, m_end) = parse_month(start), parse_month(end)
    if (y, m) > (y_end, m_end):
        raise ValueError(f"month range is empty: {start} is after {end}")
    count = (y_end - y) * 12 + (m_end - m) + 1
    return [shift_month(start.strip(), i) for i in range(count)]


def months_reached(days: int) -> int:
    """How many months before a month's first day a span of ``days`` days can reach into."""
    return -(-days // SHORTEST_MONTH_DAYS)


def parse_month_spec(text: str) -> list[str]:
    """``"2014-01..2014-03"`` -> ``["2014-01", "2014-02", "2014-03"]``.

    Also accepts a single month and comma-separated months or ranges; repeats are dropped.
    """
    months: list[str] = []
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise ValueError(f"month spec {text!r} is empty: expected e.g. 2014-01..2014-03")
    for part in parts:
        if ".." in part:
            start, _, end = part.partition("..")
            if not start.strip() or not end.strip() or ".." in end:
                raise ValueError(f"month spec part {part!r} is not a range like 2014-01..2014-03")
            months += month_range(start.strip(), end.strip())
        else:
            parse_month(part)
            months.append(part)
    return list(dict.fromkeys(months))
