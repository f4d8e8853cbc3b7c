"""督办 deadlines in working days, on the project's work calendar (metrics/calendar.py):
the holiday notice an office loaded, else ``chinese-calendar``, else Monday to Friday."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from metrics.calendar import LOCAL, calendar_rows, loaded_notice
from warehouse.schema import work_calendar


def add_working_days(engine: Engine | None, start: dt.date, days: int) -> dt.date:
    """The ``days``-th working day after ``start`` (``start`` itself not counted; 0: ``start``
    itself). Reads the warehouse's working-day index; days it does not cover (a fresh
    warehouse) come from the same rules the index is built with."""
    if days <= 0:
        return start
    if engine is not None:
        with engine.connect() as conn:
            got = [r[0] for r in conn.execute(
                select(work_calendar.c.day).where(work_calendar.c.day > start,
                                                  work_calendar.c.workday.is_(True))
                .order_by(work_calendar.c.day).limit(days))]
            if len(got) == days:
                last = got[-1]
                return last if isinstance(last, dt.date) else dt.date.fromisoformat(str(last))
            notice = loaded_notice(conn)
    else:
        notice = {}
    n = 0
    for row in calendar_rows(start + dt.timedelta(days=1),
                             start + dt.timedelta(days=days * 3 + 40), notice):
        if row["workday"]:
            n += 1
            if n == days:
                day = row["day"]
                assert isinstance(day, dt.date)
                return day
    raise AssertionError("unreachable: a run of working days within 3 × days + 40 days")


def due_date(engine: Engine | None, opened_at: dt.datetime, days: int,
             tz: ZoneInfo = LOCAL) -> dt.date:
    """The due date of a task opened at ``opened_at`` (naive UTC or aware) with ``days``
    working days to answer: counted from the local day it was opened."""
    t = opened_at if opened_at.tzinfo else opened_at.replace(tzinfo=dt.UTC)
    return add_working_days(engine, t.astimezone(tz).date(), days)
