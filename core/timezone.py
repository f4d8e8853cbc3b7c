"""The time zone rules, in one place: timestamps are stored as naive UTC and shown as
Asia/Shanghai wall time.

China has kept UTC+8 all year since September 1991, so a stored instant's local day is the
instant shifted by :data:`UTC_OFFSET` (the SQL of metrics, the polars of rollups and detail
rows use the fixed shift; :data:`LOCAL` is the zone for conversions of arbitrary instants).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LOCAL_TZ = "Asia/Shanghai"  # the name, as configs and polars take it
LOCAL = ZoneInfo(LOCAL_TZ)
UTC_OFFSET_HOURS = 8  # Asia/Shanghai: UTC+8, no daylight saving since 1991
UTC_OFFSET = dt.timedelta(hours=UTC_OFFSET_HOURS)
# local wall times from this day on are UTC+8 all year (summer time ended in September 1991)
NO_DST_SINCE = dt.datetime(1991, 9, 16)


def to_local(t: dt.datetime) -> dt.datetime:
    """A stored (naive UTC) timestamp as Asia/Shanghai wall time (naive)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(LOCAL).replace(tzinfo=None)


def to_utc(t: dt.datetime) -> dt.datetime:
    """Asia/Shanghai wall time (naive, or aware in any zone) as naive UTC for storage."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=LOCAL)
    return t.astimezone(dt.UTC).replace(tzinfo=None)


def local_midnight_utc(d: dt.date) -> dt.datetime:
    """The start of local day ``d`` as naive UTC: period bounds for queries on stored data."""
    return to_utc(dt.datetime.combine(d, dt.time()))
