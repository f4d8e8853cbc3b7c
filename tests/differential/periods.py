"""The oracle's periods and working-day calendar, restated from DESIGN §5 (not from
``metrics/``): spans of local days, the previous and last year's span, and 按期 deadlines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

import chinese_calendar


@dataclass(frozen=True)
class Span:
    grain: str
    start: dt.date
    end: dt.date  # exclusive

    @property
    def label(self) -> str:
        s = self.start
        return {"day": s.isoformat(), "week": f"{s.isocalendar()[0]}-W{s.isocalendar()[1]:02d}",
                "month": f"{s:%Y-%m}", "quarter": f"{s.year}-Q{(s.month + 2) // 3}",
                "year": str(s.year)}.get(self.grain, "")


def _month_start(y: int, m: int) -> dt.date:
    y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    return dt.date(y, m, 1)


def span(grain: str, day: dt.date) -> Span:
    if grain == "day":
        return Span("day", day, day + dt.timedelta(days=1))
    if grain == "week":
        s = day - dt.timedelta(days=day.weekday())
        return Span("week", s, s + dt.timedelta(days=7))
    if grain == "month":
        return Span("month", day.replace(day=1), _month_start(day.year, day.month + 1))
    if grain == "quarter":
        q = (day.month - 1) // 3 * 3 + 1
        return Span("quarter", dt.date(day.year, q, 1), _month_start(day.year, q + 3))
    return Span("year", dt.date(day.year, 1, 1), dt.date(day.year + 1, 1, 1))


def previous(p: Span) -> Span:
    back = {"day": p.start - dt.timedelta(days=1), "week": p.start - dt.timedelta(days=7),
            "month": _month_start(p.start.year, p.start.month - 1),
            "quarter": _month_start(p.start.year, p.start.month - 3),
            "year": dt.date(p.start.year - 1, 1, 1)}[p.grain]
    return span(p.grain, back)


def last_year(p: Span) -> Span:
    if p.grain == "week":
        y, w, _ = p.start.isocalendar()
        weeks = dt.date(y - 1, 12, 28).isocalendar()[1]  # 52 or 53
        return span("week", dt.date.fromisocalendar(y - 1, min(w, weeks), 1))
    s = p.start
    if (s.month, s.day) == (2, 29):
        return span(p.grain, dt.date(s.year - 1, 2, 28))
    return span(p.grain, s.replace(year=s.year - 1))


def month_rows(p: Span) -> list[tuple[str, Span, Span, Span]]:
    """(month, part, prev, ly) for each month ``p`` touches (the ``--by month`` rows)."""
    out = []
    m = p.start.replace(day=1)
    while m < p.end:
        nxt = _month_start(m.year, m.month + 1)
        lo, hi = max(m, p.start), min(nxt, p.end)
        if lo == m and hi == nxt:
            whole = Span("month", m, nxt)
            out.append((f"{m:%Y-%m}", whole, previous(whole), last_year(whole)))
        elif lo == p.start and hi == p.end:
            out.append((f"{m:%Y-%m}", p, previous(p), last_year(p)))
        else:
            d_prev = previous(p).start - p.start
            d_ly = last_year(p).start - p.start
            out.append((f"{m:%Y-%m}", Span("part", lo, hi),
                        Span("part", lo + d_prev, hi + d_prev), Span("part", lo + d_ly, hi + d_ly)))
        m = nxt
    return out


# -- the working-day calendar ------------------------------------------------------------------


def is_workday(d: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:  # beyond the package's data: weekends only
        return d.weekday() < 5


@cache
def deadline(submitted: dt.date, n: int) -> dt.date:
    """The end of the n-th working day after ``submitted`` (that day not counted)."""
    d, left = submitted, n
    while left > 0:
        d += dt.timedelta(days=1)
        if is_workday(d):
            left -= 1
    return d
