"""The "fires too often" check of schedules: its analytic shortcut (:func:`core.cron.gap_floor`)
against the brute-force walk over fire times it replaces at start-up.

The reference below is the walk as it was before the shortcut, kept here verbatim as the
independent computation: for hundreds of random cron expressions, zones and start times,
:func:`core.cron.schedule_problems` must say exactly what the walk alone says, and the floor
must never exceed a gap the walk finds.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.base import BaseTrigger

from core import cron
from core.cron import cron_trigger, gap_floor, schedule_problems

SEED = 20261201
ZONES: list[tzinfo] = [ZoneInfo("Asia/Shanghai"), ZoneInfo("UTC"), timezone(timedelta(hours=8)),
                       ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")]
GAP_SAMPLE, GAP_HORIZON = 500, timedelta(days=2 * 366)


def reference_gap(trigger: BaseTrigger, start: datetime, *,
                  stop_below: timedelta | None = None) -> timedelta | None:
    """The shortest gap between consecutive fire times after ``start``, by walking them (the
    implementation of core.cron.shortest_gap before the analytic floor)."""
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


def reference_problems(expr: str, zone: tzinfo, now: datetime) -> list[str]:
    """schedule_problems as it was: every schedule's gaps walked."""
    try:
        trigger = cron_trigger(expr, zone)
    except Exception as e:
        return [f"not a valid cron expression '{expr}': {e}"]
    if trigger.get_next_fire_time(None, now) is None:
        return [f"'{expr}' never fires (no such date, e.g. 30 February or 31 April)"]
    gap = reference_gap(trigger, now, stop_below=timedelta(minutes=5))
    if gap is not None and gap < timedelta(minutes=5):
        s = int(gap.total_seconds())
        span = f"{s} s" if s % 60 else f"{s // 60} min"
        return [f"'{expr}' fires every {span}, more often than every 5 min: set "
                "`frequent = true` on the source if that is meant"]
    return []


def _field(rng: random.Random, lo: int, hi: int, *, dense: bool) -> str:
    """One random crontab field over ``lo … hi``: *, */n, a, a-b, a-b/n or a list of those;
    ``dense`` favours many values (schedules that fire often, so some are refused). About one
    step in twenty is longer than its range, which APScheduler refuses."""
    def step(width: int) -> str:
        fits = [n for n in (2, 3, 5, 7, 10, 15, 20, 30) if n <= width]
        return f"/{rng.choice(fits) if rng.random() > 0.05 else 40}" if fits else ""

    def part() -> str:
        a = rng.randint(lo, hi)
        b = rng.randint(a, hi)
        return rng.choice([str(a), f"{a}-{b}", f"{a}-{b}{step(b - a)}", f"*{step(hi - lo)}"])

    if rng.random() < (0.4 if dense else 0.1):
        return "*"
    return ",".join(part() for _ in range(rng.choice([1, 1, 2, 3])))


def random_cron(rng: random.Random) -> str:
    """A random 5- or 6-field crontab expression, from every second to once in years."""
    dense = rng.random() < 0.3
    fields = [_field(rng, 0, 59, dense=dense), _field(rng, 0, 23, dense=dense),
              _field(rng, 1, 31, dense=True), _field(rng, 1, 12, dense=True),
              _field(rng, 0, 7, dense=True)]
    if rng.random() < 0.3:
        fields.insert(0, _field(rng, 0, 59, dense=dense))
    return " ".join(fields)


def _now(rng: random.Random, zone: tzinfo) -> datetime:
    # spring 2027: the start times include a daylight-saving change in Berlin and New York
    base = datetime(2027, 3, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 60 * 86400))
    return base.astimezone(zone)


def test_schedule_problems_agree_with_the_walk_on_random_schedules(
        monkeypatch: pytest.MonkeyPatch) -> None:
    walks: list[str] = []
    walk = cron.shortest_gap

    def counted(trigger: BaseTrigger, start: datetime, **kw: timedelta | None
                ) -> timedelta | None:
        walks.append(str(trigger))
        return walk(trigger, start, **kw)

    monkeypatch.setattr(cron, "shortest_gap", counted)
    rng = random.Random(SEED)
    seen = {"accepted by the floor": 0, "accepted by the walk": 0, "refused": 0, "invalid": 0}
    for _ in range(250):
        expr, zone = random_cron(rng), rng.choice(ZONES)
        now = _now(rng, zone)
        want = reference_problems(expr, zone, now)
        before = len(walks)
        assert schedule_problems(expr, zone, now=now) == want, (expr, zone, now)
        if want:
            seen["invalid" if "not a valid" in want[0] else "refused"] += 1
        else:
            seen["accepted by the walk" if len(walks) > before else "accepted by the floor"] += 1
    # the random schedules exercise both answers and both ways to the "no" answer
    assert min(seen.values()) >= 10, seen


def test_the_floor_never_exceeds_a_gap_the_walk_finds() -> None:
    rng = random.Random(SEED + 1)
    checked = tight = 0
    while checked < 60:
        expr = random_cron(rng)
        zone = rng.choice(ZONES[:3])  # fixed offsets: wall-clock gaps are real gaps
        try:
            trigger = cron_trigger(expr, zone)
        except ValueError:  # e.g. a step longer than its range
            continue
        now = _now(rng, zone)
        if trigger.get_next_fire_time(None, now) is None:
            continue
        walked = reference_gap(trigger, now)
        if walked is None:
            continue
        assert gap_floor(trigger) <= walked, (expr, now)
        checked += 1
        tight += gap_floor(trigger) == walked
    assert tight >= 15  # often exact, not a loose bound that never saves the walk


@pytest.mark.parametrize(("expr", "floor"), [
    ("* * * * *", timedelta(minutes=1)),
    ("*/5 * * * *", timedelta(minutes=5)),
    ("*/7 * * * *", timedelta(minutes=4)),  # :56 → :00 of the next hour
    ("0 3 * * *", timedelta(days=1)),
    ("0 2,22 * * *", timedelta(hours=4)),  # 22:00 → 02:00 the next day
    ("58 23 * * *", timedelta(days=1)),
    ("0,58 0,23 1,31 * *", timedelta(minutes=2)),  # 23:58 on the 31st → 00:00 on the 1st
    ("*/20 * * * * *", timedelta(seconds=20)),
    ("0 0 30 2 *", timedelta(days=1)),  # never fires: the floor only speaks of wall clocks
])
def test_floors_of_known_schedules(expr: str, floor: timedelta) -> None:
    assert gap_floor(cron_trigger(expr, "Asia/Shanghai")) == floor


def test_a_zone_that_changes_its_offset_is_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    # Berlin springs forward on 28 March 2027: the floor speaks of wall-clock gaps, so around
    # a change of offset the walk decides (as it always did), in a steady zone the floor does
    walked: list[BaseTrigger] = []
    walk = cron.shortest_gap

    def counted(trigger: BaseTrigger, start: datetime, **kw: timedelta | None
                ) -> timedelta | None:
        walked.append(trigger)
        return walk(trigger, start, **kw)

    monkeypatch.setattr(cron, "shortest_gap", counted)
    expr = "0,59 1,3 * * *"
    for zone, walks in ((ZoneInfo("Europe/Berlin"), 1), (ZoneInfo("Asia/Shanghai"), 0)):
        walked.clear()
        now = datetime(2027, 3, 27, 12, tzinfo=zone)
        assert schedule_problems(expr, zone, now=now) == reference_problems(expr, zone, now) == []
        assert len(walked) == walks, zone
