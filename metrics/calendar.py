"""The working-day calendar behind 按期 deadlines.

Where a day's status comes from, first match wins:

1. the official notice (国务院办公厅关于20XX年部分节假日安排的通知) as an office loaded it: the
   ``holiday_calendar`` table, fed by any source (normally a ``files`` source), for the days it
   lists; a year in which it lists any day counts as covered, its other days follow the week;
2. the ``chinese-calendar`` package (official holidays and 调休 working weekends up to the last
   year it knows);
3. Monday to Friday, flagged ``official = false``: nobody has said which days are holidays.

:func:`ensure_calendar` keeps the derived ``work_calendar`` index in step with both; it runs
before every ingestion and after a run that changed ``holiday_calendar``, and says when the
index changed, so that the 按期 rollups are rebuilt. :func:`calendar_status` says whether this
year and next year are covered, for the warning on 数据与运行, ``gongzhi runs`` and
``gongzhi sources``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import chinese_calendar
from sqlalchemy import Connection, Engine, delete, insert, inspect, select

from core.timezone import LOCAL
from warehouse.engine import bump_data_version
from warehouse.schema import holiday_calendar, work_calendar

FIRST_DAY = dt.date(2015, 1, 1)
DEFAULT_WARN_DAYS = 31  # from 1 December on; [calendar] warn_days_ahead
NOTICE_TITLE = "国务院办公厅关于{year}年部分节假日安排的通知"


def local_today() -> dt.date:
    """Today in Asia/Shanghai (the day the calendar status is judged on)."""
    return dt.datetime.now(LOCAL).date()


def package_covers(year: int) -> bool:
    """Whether the installed ``chinese-calendar`` has the holiday arrangement of ``year``."""
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def _package_workday(day: dt.date) -> bool | None:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def loaded_notice(conn: Connection) -> dict[dt.date, bool]:
    """The days an office loaded into ``holiday_calendar``: day → working day?"""
    rows = conn.execute(select(holiday_calendar.c.day, holiday_calendar.c.workday)).all()
    return {_as_date(d): bool(w) for d, w in rows}


def _as_date(v: object) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v)[:10])


def calendar_rows(first: dt.date, last: dt.date,
                  notice: Mapping[dt.date, bool] | None = None) -> Iterator[dict[str, object]]:
    """Rows of the working-day index from ``first`` to ``last`` inclusive; ``notice`` (the
    loaded official arrangement) wins over the package for the days it lists."""
    notice = notice or {}
    noticed_years = {d.year for d in notice}
    count = 0
    day = first
    while day <= last:
        if day in notice:
            work, official = notice[day], True
        else:
            from_package = _package_workday(day)
            if from_package is not None:
                work, official = from_package, True
            else:  # an ordinary day of a notice's year, or a year nobody has data for
                work, official = day.weekday() < 5, day.year in noticed_years
        count += 1 if work else 0
        yield {"day": day, "workday": work, "workdays_to_date": count,
               "day_rank": 2 * count + (0 if work else 1), "official": official}
        day += dt.timedelta(days=1)


def ensure_calendar(conn: Connection, until: dt.date | None = None) -> bool:
    """Make the working-day index cover FIRST_DAY … ``until`` (default: the end of next year,
    or of the last year a loaded notice lists) with the package's data and the loaded notice.

    Returns True when any day changed (按期 results change: rollups that use them must be
    rebuilt); a change to an index that already held days also moves the data version, so that
    cached results computed on the old calendar are not served again.
    """
    notice = loaded_notice(conn)
    if until is None:
        last_year = max([local_today().year + 1, *(d.year for d in notice)])
        until = dt.date(last_year, 12, 31)
    wanted = list(calendar_rows(FIRST_DAY, until, notice))
    stored = conn.execute(select(work_calendar.c.day, work_calendar.c.workday,
                                 work_calendar.c.official).order_by(work_calendar.c.day)).all()
    if [(_as_date(d), bool(w), bool(o)) for d, w, o in stored] == [
            (r["day"], r["workday"], r["official"]) for r in wanted]:
        return False
    conn.execute(delete(work_calendar))
    for i in range(0, len(wanted), 2000):
        conn.execute(insert(work_calendar), wanted[i:i + 2000])
    if stored:
        bump_data_version(conn)
    return True


# -- is next year's arrangement there? -----------------------------------------------------------


@dataclass(frozen=True)
class YearCoverage:
    """Where a year's holidays come from: ``notice`` (loaded by ``sources``), ``package``
    (chinese-calendar) or ``None`` (nobody: weekends only)."""

    year: int
    origin: str | None
    sources: tuple[str, ...] = ()
    days: int = 0  # days the loaded notice lists for the year

    @property
    def notice_title(self) -> str:
        return NOTICE_TITLE.format(year=self.year)


@dataclass(frozen=True)
class CalendarStatus:
    """This year's and next year's coverage, and the years to warn about."""

    today: dt.date
    years: tuple[YearCoverage, ...]
    missing: tuple[int, ...]  # this year if uncovered; next year if uncovered and due

    @property
    def ok(self) -> bool:
        return not self.missing


def calendar_status(db: Engine | Connection, today: dt.date | None = None,
                    warn_days_ahead: int = DEFAULT_WARN_DAYS) -> CalendarStatus:
    """Whether the holiday arrangements of this year and the next are known.

    This year uncovered is always reported (its 按期 deadlines already count weekends only);
    next year from ``warn_days_ahead`` days before 1 January (the notice is normally published
    in November).
    """
    today = today or local_today()
    this, nxt = today.year, today.year + 1
    stmt = (select(holiday_calendar.c.day, holiday_calendar.c._source)
            .where(holiday_calendar.c.day >= dt.date(this, 1, 1),
                   holiday_calendar.c.day <= dt.date(nxt, 12, 31)))
    def read(conn: Connection) -> list[Any]:
        # a warehouse not yet migrated (the dashboard never migrates) has no notice table
        return list(conn.execute(stmt).all()) if inspect(conn).has_table(
            holiday_calendar.name) else []

    if isinstance(db, Engine):
        with db.connect() as conn:
            rows = read(conn)
    else:
        rows = read(db)
    years = []
    for year in (this, nxt):
        listed = [src for d, src in rows if _as_date(d).year == year]
        if listed:
            years.append(YearCoverage(year, "notice", tuple(sorted(set(listed))), len(listed)))
        elif package_covers(year):
            years.append(YearCoverage(year, "package"))
        else:
            years.append(YearCoverage(year, None))
    missing = []
    if years[0].origin is None:
        missing.append(this)
    if years[1].origin is None and (dt.date(nxt, 1, 1) - today).days <= warn_days_ahead:
        missing.append(nxt)
    return CalendarStatus(today, tuple(years), tuple(missing))


def missing_message(status: CalendarStatus) -> str | None:
    """One line for the command line (English, with the notice's Chinese title), or None."""
    if status.ok:
        return None
    years = "、".join(str(y) for y in status.missing)
    titles = "; ".join(NOTICE_TITLE.format(year=y) for y in status.missing)
    return (f"warning: no holiday calendar for {years} ({titles}): 按期 deadlines on those "
            "days count Monday–Friday as working days. Load the notice as a holiday_calendar "
            "source (see config/calendar/README.md).")
