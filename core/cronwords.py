"""Cron schedules in words a leader reads: ``20 2 * * *`` → 每天 02:20 / daily at 02:20.

Crontab meaning, as the scheduler runs it (ingest/scheduler.py): five fields (minute, hour,
day of month, month, day of week) or six with seconds first; day of week 0 and 7 are Sunday.
Shapes without a plain reading (both day of month and day of week restricted, odd steps,
seconds other than 0) give None: the page then shows the expression itself.
"""

from __future__ import annotations

import re

WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
ZH_DAYS = ("日", "一", "二", "三", "四", "五", "六")
EN_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTH_NAMES = tuple(m.lower() for m in EN_MONTHS)
MAX_TIMES = 4  # more run times than this in a day read better as the expression


def _values(field: str, lo: int, hi: int, names: tuple[str, ...] = (),
            base: int = 0) -> list[int] | None:
    """The values of a list/range field without steps (``1,15`` ``1-5`` ``mon-fri``); a name
    counts as its index in ``names`` plus ``base``. None when the field is not of that shape."""

    def number(token: str) -> int:
        return names.index(token) + base if token in names else int(token)

    out: list[int] = []
    for part in field.lower().split(","):
        a, _, b = part.partition("-")
        try:
            first = number(a)
            last = number(b) if b else first
        except ValueError:
            return None
        if not lo <= first <= last <= hi:
            return None
        out += range(first, last + 1)
    return sorted(set(out))


def _step(field: str) -> int | None:
    m = re.fullmatch(r"\*/(\d+)", field)
    return int(m.group(1)) if m and int(m.group(1)) > 0 else None


def _weekdays(field: str) -> list[int] | None:
    """Days of week (0 = Sunday), Monday first; 7 is Sunday too."""
    days = _values(field, 0, 7, WEEKDAY_NAMES)
    if days is None:
        return None
    return sorted({d % 7 for d in days}, key=lambda d: (d + 6) % 7)  # Monday first


def _time(minute: str, hour: str, lang: str) -> str | None:
    zh = lang == "zh"
    if minute == "*" and hour == "*":
        return "每分钟" if zh else "every minute"
    if (n := _step(minute)) and hour == "*":
        return f"每{n}分钟" if zh else f"every {n} minutes"
    mins, hours = _values(minute, 0, 59), _values(hour, 0, 23)
    if mins is None:
        return None
    if len(mins) == 1 and hour == "*":
        return f"每小时第{mins[0]}分" if zh else f"every hour at :{mins[0]:02d}"
    if len(mins) == 1 and (n := _step(hour)):
        return f"每{n}小时（第{mins[0]}分）" if zh else f"every {n} hours at :{mins[0]:02d}"
    if hours is None or len(hours) * len(mins) > MAX_TIMES:
        return None
    times = [f"{h:02d}:{m:02d}" for h in hours for m in mins]
    return "、".join(times) if zh else ", ".join(times)


def describe(expr: str | None, lang: str = "zh") -> str | None:
    """``expr`` in words (``lang`` zh or en), or None when it has no plain reading."""
    if not expr:
        return None
    fields = expr.split()
    if len(fields) == 6:
        if fields[0] != "0":
            return None
        fields = fields[1:]
    if len(fields) != 5:
        return None
    minute, hour, dom, month, dow = fields
    when = _time(minute, hour, lang)
    if when is None:
        return None
    zh = lang == "zh"
    at = when if not when[0].isdigit() or zh else f"at {when}"
    if dom == "*" and month == "*" and dow == "*":
        if zh:
            return when if when.startswith("每") else f"每天 {when}"
        return f"daily {at}" if when[0].isdigit() else when
    if dom != "*" and dow != "*":
        return None  # cron runs when either matches: no short plain reading
    if dow != "*":
        days = _weekdays(dow)
        if not days or month != "*":
            return None
        return f"{_zh_weekdays(days)} {when}" if zh else f"{_en_weekdays(days)} {at}"
    dates = _values(dom, 1, 31)
    months = _values(month, 1, 12, MONTH_NAMES, base=1) if month != "*" else None
    if not dates or (month != "*" and not months):
        return None
    if zh:
        day_text = "、".join(f"{d}日" for d in dates)
        if months is None:
            return f"每月{day_text} {when}"
        return f"每年{'、'.join(str(m) for m in months)}月{day_text} {when}"
    day_text = ", ".join(str(d) for d in dates)
    if months is None:
        return f"monthly on day {day_text} {at}"
    return f"yearly on day {day_text} of {', '.join(EN_MONTHS[m - 1] for m in months)} {at}"


def _runs(ordered: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs in a sorted list: [0, 1, 2, 4] → [(0, 2), (4, 4)]."""
    out: list[tuple[int, int]] = []
    for v in ordered:
        if out and v == out[-1][1] + 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


def _zh_weekdays(days: list[int]) -> str:
    monday_first = [(d + 6) % 7 for d in days]  # 0 = Monday … 6 = Sunday
    parts = []
    for a, b in _runs(monday_first):
        first, last = ZH_DAYS[(a + 1) % 7], ZH_DAYS[(b + 1) % 7]
        parts.append(f"周{first}" if a == b else f"周{first}至周{last}")
    return "每" + "、".join(parts)


def _en_weekdays(days: list[int]) -> str:
    monday_first = [(d + 6) % 7 for d in days]
    parts = []
    for a, b in _runs(monday_first):
        first, last = EN_DAYS[(a + 1) % 7], EN_DAYS[(b + 1) % 7]
        parts.append(first if a == b else f"{first[:3]}–{last[:3]}")
    return f"every {', '.join(parts)}"
