"""Time zone rules of the warehouse: stored in naive UTC, shown in Asia/Shanghai."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")


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
