"""The one home of the time zone: conversions, and the fixed UTC offset the SQL uses."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from core import timezone


def test_the_fixed_offset_agrees_with_the_zone_database_since_1991() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    for day in (dt.datetime(1991, 9, 16), dt.datetime(2024, 1, 1), dt.datetime(2024, 7, 1)):
        assert shanghai.utcoffset(day) == timezone.UTC_OFFSET == dt.timedelta(hours=8)
    # before September 1991 China kept summer time: the fixed shift would be wrong there
    assert shanghai.utcoffset(dt.datetime(1990, 7, 1)) == dt.timedelta(hours=9)


def test_local_and_stored_times_convert_both_ways() -> None:
    stored = dt.datetime(2024, 5, 31, 17, 30)  # naive UTC
    assert timezone.to_local(stored) == dt.datetime(2024, 6, 1, 1, 30)
    assert timezone.to_utc(dt.datetime(2024, 6, 1, 1, 30)) == stored
    assert timezone.local_midnight_utc(dt.date(2024, 6, 1)) == dt.datetime(2024, 5, 31, 16)
