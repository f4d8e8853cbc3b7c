"""Schedules in words (每天 02:20), checked against what the scheduler's trigger really does."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from core.cronwords import describe
from core.timezone import LOCAL
from ingest.scheduler import cron_trigger

WORDS = [
    ("20 2 * * *", "每天 02:20", "daily at 02:20"),
    ("0 20 2 * * *", "每天 02:20", "daily at 02:20"),  # seconds first
    ("0 3 * * 1", "每周一 03:00", "every Monday at 03:00"),
    ("0 3 * * 0", "每周日 03:00", "every Sunday at 03:00"),
    ("0 3 * * 7", "每周日 03:00", "every Sunday at 03:00"),
    ("0 8 * * 1-5", "每周一至周五 08:00", "every Mon–Fri at 08:00"),
    ("0 8 * * MON-FRI", "每周一至周五 08:00", "every Mon–Fri at 08:00"),
    ("0 9 * * 1,3,5", "每周一、周三、周五 09:00", "every Monday, Wednesday, Friday at 09:00"),
    ("0 4 1 * *", "每月1日 04:00", "monthly on day 1 at 04:00"),
    ("30 1 1,15 * *", "每月1日、15日 01:30", "monthly on day 1, 15 at 01:30"),
    ("0 6 1 1,4,7,10 *", "每年1、4、7、10月1日 06:00",
     "yearly on day 1 of Jan, Apr, Jul, Oct at 06:00"),
    ("*/15 * * * *", "每15分钟", "every 15 minutes"),
    ("5 * * * *", "每小时第5分", "every hour at :05"),
    ("0 8,12,18 * * *", "每天 08:00、12:00、18:00", "daily at 08:00, 12:00, 18:00"),
]
# no short plain reading: the page shows the expression itself
UNREAD = ["0 3 1 * 1", "15 * * * * *", "0 8-17/2 * * *", "0 0 * * 5-0", "nonsense", "", None]


@pytest.mark.parametrize(("expr", "zh", "en"), WORDS)
def test_schedules_read_as_words(expr: str, zh: str, en: str) -> None:
    assert describe(expr) == zh
    assert describe(expr, "en") == en


@pytest.mark.parametrize("expr", UNREAD)
def test_schedules_without_a_plain_reading_give_none(expr: str | None) -> None:
    assert describe(expr) is None and describe(expr, "en") is None


ZH_WEEKDAY = "一二三四五六日"  # datetime.weekday(): Monday = 0


@pytest.mark.parametrize(("expr", "zh", "en"), [w for w in WORDS if "分钟" not in w[1]])
def test_the_words_say_when_the_trigger_fires(expr: str, zh: str, en: str) -> None:
    """Independent of the words: the scheduler's own trigger, fired over 400 days."""
    trigger = cron_trigger(expr, LOCAL)
    t = dt.datetime(2025, 1, 1, tzinfo=LOCAL)
    fires = []
    while len(fires) < 400 and t < dt.datetime(2026, 3, 1, tzinfo=LOCAL):
        nxt = trigger.get_next_fire_time(fires[-1] if fires else None, t)
        if nxt is None:
            break
        fires.append(nxt)
        t = nxt + dt.timedelta(seconds=1)
    assert fires
    times = {f"{f:%H:%M}" for f in fires}
    if "每小时" in zh:
        assert {f.minute for f in fires} == {int(re.findall(r"\d+", zh)[0])}
        assert len({f.hour for f in fires}) == 24
    else:
        assert times == set(re.findall(r"\d\d:\d\d", zh))
    if "每周" in zh:
        named = set(re.findall(r"周([一二三四五六日])", zh))
        if "至" in zh:
            a, b = re.findall(r"周([一二三四五六日])", zh)
            named = set(ZH_WEEKDAY[ZH_WEEKDAY.index(a):ZH_WEEKDAY.index(b) + 1])
        assert {ZH_WEEKDAY[f.weekday()] for f in fires} == named
    elif "每月" in zh or "每年" in zh:
        assert {f"{f.day}日" for f in fires} == set(re.findall(r"\d+日", zh))
        if "每年" in zh:
            months = re.search(r"每年([\d、]+)月", zh)
            assert months is not None
            assert {str(f.month) for f in fires} == set(months.group(1).split("、"))
    else:
        days = {f.date() for f in fires}
        assert len(days) >= 15 and all((b - a).days == 1 for a, b in
                                       zip(sorted(days), sorted(days)[1:], strict=False))
