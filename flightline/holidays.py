"""US federal holidays computed by rule, for any year (no calendar files, no network).

Dates are the holidays themselves, not the weekday on which federal employees observe them: travel
peaks around Christmas Day and the Fourth of July, whatever the weekday.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import polars as pl


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th ``weekday`` (Monday=0) of a month; n=-1 is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7 + 7 * (-n - 1))


def us_federal_holidays(year: int) -> list[date]:
    """The federal holidays of ``year`` (5 U.S.C. 6103), sorted; Juneteenth from 2021."""
    mon, thu = calendar.MONDAY, calendar.THURSDAY
    days = [
        date(year, 1, 1),  # New Year's Day
        nth_weekday(year, 1, mon, 3),  # Birthday of Martin Luther King, Jr.
        nth_weekday(year, 2, mon, 3),  # Washington's Birthday
        nth_weekday(year, 5, mon, -1),  # Memorial Day
        date(year, 7, 4),  # Independence Day
        nth_weekday(year, 9, mon, 1),  # Labor Day
        nth_weekday(year, 10, mon, 2),  # Columbus Day
        date(year, 11, 11),  # Veterans Day
        nth_weekday(year, 11, thu, 4),  # Thanksgiving Day
        date(year, 12, 25),  # Christmas Day
    ]
    if year >= 2021:
        days.append(date(year, 6, 19))  # Juneteenth National Independence Day
    return sorted(days)


def holiday_frame(first_year: int, last_year: int) -> pl.DataFrame:
    """One row per holiday from ``first_year`` to ``last_year`` inclusive: column ``holiday``."""
    days = [d for y in range(first_year, last_year + 1) for d in us_federal_holidays(y)]
    return pl.DataFrame({"holiday": days}, schema={"holiday": pl.Date})


def holiday_distances(days: pl.Series) -> pl.DataFrame:
    """For each date: days until the next holiday and days since the last (0 on the holiday).

    Returns a frame aligned with ``days`` with Int32 columns ``days_to_next_holiday`` and
    ``days_since_holiday`` (null where the date is null).
    """
    frame = pl.DataFrame({"day": days.cast(pl.Date)}).with_row_index("__i")
    known = frame.filter(pl.col("day").is_not_null())
    if known.height == 0:
        return frame.with_columns(
            pl.lit(None, pl.Int32).alias("days_to_next_holiday"),
            pl.lit(None, pl.Int32).alias("days_since_holiday"),
        ).select("days_to_next_holiday", "days_since_holiday")
    lo, hi = known["day"].min(), known["day"].max()
    hol = holiday_frame(lo.year - 1, hi.year + 1).sort("holiday")
    known = known.sort("day")
    nxt = known.join_asof(hol, left_on="day", right_on="holiday", strategy="forward")
    prv = known.join_asof(hol, left_on="day", right_on="holiday", strategy="backward")
    dist = nxt.select(
        "__i", (pl.col("holiday") - pl.col("day")).dt.total_days().alias("days_to_next_holiday")
    ).join(
        prv.select(
            "__i", (pl.col("day") - pl.col("holiday")).dt.total_days().alias("days_since_holiday")
        ),
        on="__i",
    )
    return (
        frame.join(dist, on="__i", how="left")
        .sort("__i")
        .select(
            pl.col("days_to_next_holiday").cast(pl.Int32),
            pl.col("days_since_holiday").cast(pl.Int32),
        )
    )
