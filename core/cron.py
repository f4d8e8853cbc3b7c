"""Cron expressions of source schedules: crontab semantics on APScheduler 3 triggers, the
latest due time (for the start-up catch-up), and the checks a schedule must pass before the
scheduler accepts it.

A schedule is refused at validation, naming its source, when it is not a cron expression, when
it can never fire (``0 0 30 2 *``: there is no 30 February), or when it fires more often than
every :data:`MIN_INTERVAL` (5 minutes) without ``frequent = true`` on the source: a load takes
the warehouse's write lock and a share of two cores, so a schedule of every second is almost
always a typo for every minute or hour, and one that is meant says so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from itertools import pairwise
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: 0 = Sunday
HORIZON = timedelta(days=366 * 9)  # "29 Feb on a Monday" repeats within this
MIN_INTERVAL = timedelta(minutes=5)  # the floor below which a schedule needs `frequent = true`
GAP_SAMPLE = 500  # fire times looked at to find a schedule's shortest gap
GAP_HORIZON = timedelta(days=2 * 366)  # …within this span (once-a-year bursts included)


# --- cron ---------------------------------------------------------------------------------

def cron_trigger(expr: str, tz: tzinfo | str) -> BaseTrigger:
    """The trigger of a crontab ``expr`` in ``tz``: 5 fields, or 6 with seconds first.

    Follows crontab, not APScheduler 3's own conventions: weekday 0 and 7 are Sunday (APScheduler
    3 counts from Monday), and when both day of month and day of week are restricted either one
    matching fires (APScheduler would require both). Raises ValueError on a bad expression.
    """
    fields = expr.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ValueError(f"expected 5 or 6 fields, got {len(fields)}")
    second, minute, hour, dom, month, dow = fields
    either = not dom.startswith("*") and not dow.startswith("*")  # as cron decides it
    dow = _weekdays(dow)

    def make(day: str, day_of_week: str) -> CronTrigger:
        return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                           day_of_week=day_of_week, timezone=tz)

    if either:
        return OrTrigger([make(dom, "*"), make("*", dow)])
    return make(dom, dow)


def _weekdays(field: str) -> str:
    """A crontab day-of-week field as APScheduler weekday names (``1-5`` → ``mon,…,fri``)."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.lower().split(","):
        rng, _, step_s = part.partition("/")
        step = int(step_s) if step_s.isdigit() and int(step_s) > 0 else None
        if step_s and step is None:
            raise ValueError(f"bad step in day of week '{part}'")
        if rng == "*":
            lo, hi = 0, 6
        else:
            a, _, b = rng.partition("-")
            lo = _weekday(a)
            hi = _weekday(b) if b else (6 if step else lo)
            if hi == 0 and b and lo > 0:
                hi = 7  # "5-0" or "fri-sun": up to Sunday
            if lo > hi:
                raise ValueError(f"day of week range '{rng}' runs backwards")
        days.update(d % 7 for d in range(lo, hi + 1, step or 1))
    if len(days) == 7:
        return "*"
    return ",".join(WEEKDAYS[d] for d in sorted(days, key=lambda d: (d + 6) % 7))


def _weekday(token: str) -> int:
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token[:3] in WEEKDAYS and len(token) == 3:
        return WEEKDAYS.index(token)
    raise ValueError(f"bad day of week '{token}' (0-7 or sun-sat)")


def previous_fire_time(trigger: BaseTrigger, now: datetime, *,
                       horizon: timedelta = HORIZON) -> datetime | None:
    """The latest fire time of ``trigger`` at or before ``now`` (aware), or None within
    ``horizon``.

    APScheduler only walks forward, so: step back from ``now`` in doubling windows until the
    first fire after the window's start is ≤ now, bisect to about a second, then walk forward
    over the (at most few) fire times left. About 60 trigger calls, whatever the schedule.
    """
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    now_utc = now.astimezone(UTC)

    def first_from(start: datetime) -> datetime | None:
        return trigger.get_next_fire_time(None, start)

    def hits(start: datetime) -> bool:
        t = first_from(start)
        return t is not None and t <= now_utc

    if hits(now_utc):
        return first_from(now_utc)
    hi, width = now_utc, timedelta(seconds=1)
    while True:
        if width > horizon:
            return None
        lo = now_utc - width
        if hits(lo):
            break
        hi, width = lo, width * 2
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if hits(mid):
            lo = mid
        else:
            hi = mid
    found = first_from(lo)
    assert found is not None
    while True:
        nxt = trigger.get_next_fire_time(found, now_utc)
        if nxt is None or nxt <= found or nxt > now_utc:
            return found
        found = nxt


def shortest_gap(trigger: BaseTrigger, start: datetime, *, stop_below: timedelta | None = None
                 ) -> timedelta | None:
    """The shortest time between two consecutive fire times of ``trigger`` after ``start``
    (over :data:`GAP_SAMPLE` fire times or :data:`GAP_HORIZON`, whichever ends first); None
    when it fires at most once in that span. Stops early at a gap below ``stop_below``."""
    end = start + GAP_HORIZON
    prev = trigger.get_next_fire_time(None, start)
    best: timedelta | None = None
    for _ in range(GAP_SAMPLE):
        if prev is None or prev > end:
            break
        nxt = trigger.get_next_fire_time(prev, prev + timedelta(microseconds=1))
        if nxt is None or nxt <= prev:
            break
        gap = nxt - prev
        best = gap if best is None else min(best, gap)
        if stop_below is not None and best < stop_below:
            break
        prev = nxt
    return best


def schedule_problems(expr: str, tz: tzinfo | str, *, frequent: bool = False,
                      now: datetime | None = None) -> list[str]:
    """Everything wrong with a schedule, as sentences for the config report ([] if none)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    try:
        trigger = cron_trigger(expr, zone)
    except Exception as e:  # APScheduler says what is wrong with a field (ValueError mostly)
        return [f"not a valid cron expression '{expr}': {e}"]
    now = now or datetime.now(zone)
    if trigger.get_next_fire_time(None, now) is None:
        return [f"'{expr}' never fires (no such date, e.g. 30 February or 31 April)"]
    if frequent:
        return []
    if gap_floor(trigger) >= MIN_INTERVAL and _steady_offset(zone, now.astimezone(UTC).date()):
        # no two fire times can be closer than the floor, so the walk below could only say
        # "no gap under MIN_INTERVAL" (500 trigger calls, ~25 ms a schedule at every start)
        return []
    gap = shortest_gap(trigger, now, stop_below=MIN_INTERVAL)
    if gap is not None and gap < MIN_INTERVAL:
        return [f"'{expr}' fires every {_span(gap)}, more often than every "
                f"{_span(MIN_INTERVAL)}: set `frequent = true` on the source if that is meant"]
    return []


def gap_floor(trigger: BaseTrigger) -> timedelta:
    """A lower bound of the wall-clock time between any two fire times of a trigger made by
    :func:`cron_trigger`, from its hour, minute and second fields alone.

    Two fire times on different days are ≥ 1 day apart, so ≥ 24 − (last hour − first hour)
    hours apart at the hour level; on one day, ≥ the closest two hours of the field. The same
    step down to minutes (× 60 minus the minute field's span, or its closest two minutes) and
    to seconds gives the bound. It holds whatever the day, month and weekday fields say (an
    :class:`OrTrigger` of two day sets included), and it is the true shortest gap of a
    schedule that fires every day. Real time equals wall-clock time only where the zone's
    offset does not change: see :func:`_steady_offset`.
    """
    floor = 1  # in days, then hours, minutes and seconds
    for name, per in (("hour", 24), ("minute", 60), ("second", 60)):
        values = sorted(_field_values(trigger, name, per))
        floor = floor * per - (values[-1] - values[0])
        floor = min([floor, *(b - a for a, b in pairwise(values))])
    return timedelta(seconds=floor)


def _field_values(trigger: BaseTrigger, name: str, size: int) -> set[int]:
    """The values in ``0 … size-1`` that the trigger's field ``name`` matches, as APScheduler
    parsed it (each value is its own next value)."""
    crons = trigger.triggers if isinstance(trigger, OrTrigger) else [trigger]
    values: set[int] = set()
    for cron in crons:
        field = next(f for f in cron.fields if f.name == name)
        values.update(v for v in range(size)
                      if field.get_next_value(SimpleNamespace(**{name: v})) == v)
    return values


@lru_cache(maxsize=32)
def _steady_offset(zone: tzinfo, day: date) -> bool:
    """Whether ``zone`` keeps one UTC offset from the day before ``day`` to past the end of
    :func:`shortest_gap`'s span (plus a day for its last gap), read once a day: no zone
    changes its offset for less than a day, and a daylight-saving jump would make a real gap
    shorter than the wall-clock one :func:`gap_floor` bounds (01:59 → 03:00 is 1 minute)."""
    first = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=1)
    days = GAP_HORIZON.days + 3
    offsets = {(first + timedelta(days=i)).astimezone(zone).utcoffset() for i in range(days + 1)}
    return len(offsets) == 1


def _span(d: timedelta) -> str:
    s = int(d.total_seconds())
    if s % 60:
        return f"{s} s"
    return f"{s // 60} min"
