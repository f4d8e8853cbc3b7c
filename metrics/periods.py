"""Periods: day, ISO week, month, quarter, year and year to date (累计: January through a
month, ``2026-11-YTD``) in Asia/Shanghai, their previous period and the same period last year.

A period is a half-open range of local calendar days ``[start, end)``; queries on stored (UTC)
timestamps use the UTC instants of those local midnights.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from core.errors import ConfigError, Problem
from core.timezone import local_midnight_utc

Grain = Literal["day", "week", "month", "quarter", "year", "ytd", "range"]


@dataclass(frozen=True)
class Period:
    """A calendar period; ``start`` inclusive, ``end`` exclusive, both local dates."""

    grain: Grain
    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        s = self.start
        if self.grain == "day":
            return s.isoformat()
        if self.grain == "week":
            y, w, _ = s.isocalendar()
            return f"{y}-W{w:02d}"
        if self.grain == "month":
            return f"{s.year}-{s.month:02d}"
        if self.grain == "quarter":
            return f"{s.year}-Q{(s.month - 1) // 3 + 1}"
        if self.grain == "range":
            return f"{s:%Y-%m}~{self.last_day:%Y-%m}"
        if self.grain == "ytd":
            return f"{self.last_day:%Y-%m}-YTD"
        return str(s.year)

    @property
    def whole_months(self) -> bool:
        """Whether the period is made of whole months (what monthly rollups can answer)."""
        return self.start.day == 1 and self.end.day == 1

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def utc_start(self) -> dt.datetime:
        return local_midnight_utc(self.start)

    @property
    def utc_end(self) -> dt.datetime:
        return local_midnight_utc(self.end)

    @property
    def months(self) -> tuple[str, str]:
        """First and last 'YYYY-MM' whose first day falls in the period (month-grained data)."""
        first = self.start if self.start.day == 1 else _add_months(self.start.replace(day=1), 1)
        last = self.last_day.replace(day=1)
        return f"{first:%Y-%m}", f"{last:%Y-%m}"

    def previous(self) -> Period:
        if self.grain == "day":
            return at("day", self.start - dt.timedelta(days=1))
        if self.grain == "week":
            return at("week", self.start - dt.timedelta(days=7))
        if self.grain == "month":
            return at("month", _add_months(self.start, -1))
        if self.grain == "quarter":
            return at("quarter", _add_months(self.start, -3))
        if self.grain == "ytd":  # 累计 through the month before (January: last year's whole)
            return at("ytd", self.last_day.replace(day=1) - dt.timedelta(days=1))
        return at("year", self.start.replace(year=self.start.year - 1))

    def last_year(self) -> Period:
        if self.grain == "week":
            y, w, _ = self.start.isocalendar()
            try:
                return at("week", dt.date.fromisocalendar(y - 1, w, 1))
            except ValueError:  # week 53 in a year that has 52
                return at("week", dt.date.fromisocalendar(y - 1, 52, 1))
        if self.grain == "day":
            s = self.start
            return at("day", s.replace(year=s.year - 1, day=28 if (s.month, s.day) == (2, 29)
                                       else s.day))
        if self.grain == "ytd":  # the same months of last year
            return at("ytd", self.last_day.replace(year=self.start.year - 1, day=1))
        return at(self.grain, self.start.replace(year=self.start.year - 1))


def _add_months(d: dt.date, n: int) -> dt.date:
    m = d.month - 1 + n
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


def at(grain: Grain, day: dt.date) -> Period:
    """The period of ``grain`` that contains ``day``."""
    if grain == "day":
        return Period("day", day, day + dt.timedelta(days=1))
    if grain == "week":
        start = day - dt.timedelta(days=day.weekday())
        return Period("week", start, start + dt.timedelta(days=7))
    if grain == "month":
        start = day.replace(day=1)
        return Period("month", start, _add_months(start, 1))
    if grain == "quarter":
        start = dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
        return Period("quarter", start, _add_months(start, 3))
    if grain == "ytd":  # January 1st through the end of the month holding ``day``
        return Period("ytd", dt.date(day.year, 1, 1), _add_months(day.replace(day=1), 1))
    return Period("year", dt.date(day.year, 1, 1), dt.date(day.year + 1, 1, 1))


_PATTERNS: list[tuple[re.Pattern[str], Grain]] = [
    (re.compile(r"^(\d{4})-(\d{1,2})-YTD$", re.I), "ytd"),
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), "day"),
    (re.compile(r"^(\d{4})-W(\d{1,2})$", re.I), "week"),
    (re.compile(r"^(\d{4})-(\d{1,2})$"), "month"),
    (re.compile(r"^(\d{4})-Q([1-4])$", re.I), "quarter"),
    (re.compile(r"^(\d{4})$"), "year"),
]


def parse(text: str) -> Period:
    """``2024-05-10``, ``2024-W19``, ``2024-05``, ``2024-Q2``, ``2024`` or ``2024-05-YTD``
    (year to date: January through May)."""
    s = text.strip()
    for pattern, grain in _PATTERNS:
        m = pattern.match(s)
        if not m:
            continue
        try:
            y = int(m.group(1))
            if grain == "day":
                return at("day", dt.date(y, int(m.group(2)), int(m.group(3))))
            if grain == "week":
                return at("week", dt.date.fromisocalendar(y, int(m.group(2)), 1))
            if grain == "month":
                return at("month", dt.date(y, int(m.group(2)), 1))
            if grain == "ytd":
                return at("ytd", dt.date(y, int(m.group(2)), 1))
            if grain == "quarter":
                return at("quarter", dt.date(y, (int(m.group(2)) - 1) * 3 + 1, 1))
            return at("year", dt.date(y, 1, 1))
        except ValueError:
            break
    raise ConfigError([Problem("--period", f"'{text}' is not a period; use 2024-05, 2024-Q2, "
                                           "2024, 2024-W19, 2024-05-10 or 2024-05-YTD")])


def month_range(last: Period, months: int) -> Period:
    """The ``months`` whole months ending with the month of ``last``'s last day (trends)."""
    end = _add_months(last.last_day.replace(day=1), 1)
    return Period("range", _add_months(end, -months), end)


def months_in(p: Period) -> list[str]:
    """'YYYY-MM' of each month whose first day lies in ``p``."""
    first, last = p.months
    out, d = [], dt.date(int(first[:4]), int(first[5:]), 1)
    while f"{d:%Y-%m}" <= last:
        out.append(f"{d:%Y-%m}")
        d = _add_months(d, 1)
    return out


def month_parts(p: Period) -> list[tuple[str, Period, Period, Period]]:
    """``(month, part, previous, last year)`` for each calendar month that ``p`` touches: the
    rows of a KPI grouped by month, each with the spans its 环比 and 同比 compare against.

    A whole month is its own period: it compares with the month before (M-1) and the same
    month last year (M-12), whatever the grain of ``p`` (a quarter's February compares with
    January, not with November). A period inside one month (a day, most weeks) is its only
    part and keeps its own comparisons. A part of a period that straddles months (a week
    across a month's end) compares with the same days of ``p``'s previous period and of its
    same period last year.
    """
    prev_p, ly_p = p.previous(), p.last_year()
    out: list[tuple[str, Period, Period, Period]] = []
    month = p.start.replace(day=1)
    while month < p.end:
        nxt = _add_months(month, 1)
        lo, hi = max(month, p.start), min(nxt, p.end)
        if (lo, hi) == (month, nxt):
            part = Period("month", lo, hi)
            out.append((f"{month:%Y-%m}", part, part.previous(), part.last_year()))
        elif (lo, hi) == (p.start, p.end):
            out.append((f"{month:%Y-%m}", p, prev_p, ly_p))
        else:
            back, ly_back = prev_p.start - p.start, ly_p.start - p.start
            out.append((f"{month:%Y-%m}", Period("range", lo, hi),
                        Period("range", lo + back, hi + back),
                        Period("range", lo + ly_back, hi + ly_back)))
        month = nxt
    return out


def to_date(p: Period) -> Period:
    """Year to date through the month holding ``p``'s last day (``--ytd``)."""
    return at("ytd", p.last_day)


def latest_complete(grain: Grain, today: dt.date) -> Period:
    """The last whole period before the one containing ``today`` (the default view)."""
    return at(grain, today).previous()
