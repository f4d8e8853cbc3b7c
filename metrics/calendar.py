"""The working-day calendar behind 按期 deadlines: official Chinese holidays and the adjusted
working weekends (调休) from the ``chinese-calendar`` package, weekends-only where the package
has no data yet (flagged ``official = false``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import chinese_calendar
from sqlalchemy import Connection, delete, func, insert, select

from warehouse.schema import work_calendar

FIRST_DAY = dt.date(2015, 1, 1)


def _is_workday(day: dt.date) -> tuple[bool, bool]:
    """(working day?, from official data?)."""
    try:
        return bool(chinese_calendar.is_workday(day)), True
    except NotImplementedError:
        return day.weekday() < 5, False


def calendar_rows(first: dt.date, last: dt.date) -> Iterator[dict[str, object]]:
    """Rows of the calendar from ``first`` to ``last`` inclusive."""
    count = 0
    day = first
    while day <= last:
        work, official = _is_workday(day)
        count += 1 if work else 0
        yield {"day": day, "workday": work, "workdays_to_date": count,
               "day_rank": 2 * count + (0 if work else 1), "official": official}
        day += dt.timedelta(days=1)


def ensure_calendar(conn: Connection, until: dt.date | None = None) -> bool:
    """Make the calendar cover FIRST_DAY … ``until`` (default: end of next year) with the
    latest holiday data; returns True when rows changed (deadlines must be recomputed)."""
    until = until or dt.date(dt.date.today().year + 1, 12, 31)
    wanted = list(calendar_rows(FIRST_DAY, until))
    stored_count, stored_last = conn.execute(
        select(func.count(), func.max(work_calendar.c.day))).one()
    official_now = sum(1 for r in wanted if r["official"])
    official_stored = conn.execute(
        select(func.count()).where(work_calendar.c.official.is_(True))).scalar_one()
    if stored_count == len(wanted) and stored_last == until and official_stored == official_now:
        return False
    conn.execute(delete(work_calendar))
    for i in range(0, len(wanted), 2000):
        conn.execute(insert(work_calendar), wanted[i:i + 2000])
    return True
