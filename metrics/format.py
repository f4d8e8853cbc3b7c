"""Formatting KPI values for people: units, percentages, deltas and status words, zh and en."""

from __future__ import annotations

import datetime as dt

from core.timezone import to_local

UNITS = {
    "zh": {"count": "", "hours": "小时", "visits": "次", "per_1000": "人/千人",
           "per_10000": "件/万人", "points": "分",
           "households": "户", "items": "项", "per_team": "次/支", "ratio": ""},
    "en": {"count": "", "hours": "h", "visits": "visits", "per_1000": "per 1,000",
           "per_10000": "per 10,000", "points": "pts", "households": "households",
           "items": "items", "per_team": "per team", "ratio": ""},
}
STATUS = {
    "zh": {"blue": "蓝", "yellow": "黄", "red": "红", None: "—"},
    "en": {"blue": "blue", "yellow": "yellow", "red": "red", None: "—"},
}
STATUS_SYMBOL = {"blue": "●", "yellow": "▲", "red": "■", None: "·"}


def value(v: float | None, unit: str, lang: str = "zh") -> str:
    """``0.912`` → ``91.2%``; ``1234`` → ``1,234``; ``35.25`` hours → ``35.3 小时``."""
    if v is None:
        return "—"
    if unit == "ratio":
        return f"{v * 100:.1f}%"
    suffix = UNITS[lang].get(unit, "")
    if unit in ("count", "items", "households") or float(v).is_integer():
        text = f"{v:,.0f}"
    else:
        text = f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.2f}"
    return f"{text} {suffix}".strip()


def delta(d: float | None, unit: str, lang: str = "zh") -> str:
    """A change: percentage points for ratios (``+1.2pp``), plain numbers otherwise."""
    if d is None:
        return "—"
    if unit == "ratio":
        return f"{d * 100:+.1f}pp"
    if unit in ("count", "items", "households") or float(d).is_integer():
        return f"{d:+,.0f}"
    return f"{d:+,.2f}"


def status(s: str | None, lang: str = "zh") -> str:
    return f"{STATUS_SYMBOL[s]} {STATUS[lang][s]}"


def ago(t: dt.datetime, now: dt.datetime, lang: str = "zh") -> str:
    """How long before ``now`` (both naive UTC or both aware) ``t`` was: 刚刚, 5 分钟前,
    3 小时前, 2 天前; beyond 30 days only the date says it."""
    seconds = (now - t).total_seconds()
    zh = lang == "zh"
    if seconds < 60:
        return "刚刚" if zh else "just now"
    for below, unit, word_zh, word_en in ((3600, 60, "分钟", "min"), (86400, 3600, "小时", "h")):
        if seconds < below:
            n = int(seconds // unit)
            return f"{n} {word_zh}前" if zh else f"{n} {word_en} ago"
    days = int(seconds // 86400)
    if days <= 30:
        return f"{days} 天前" if zh else f"{days} day{'s' if days > 1 else ''} ago"
    return to_local(t).strftime("%Y-%m-%d")


def fresh(t: dt.datetime | None, lang: str = "zh") -> str:
    """When the data behind a KPI was last loaded, in Asia/Shanghai time."""
    if t is None:
        return "未加载" if lang == "zh" else "never loaded"
    return to_local(t).strftime("%Y-%m-%d %H:%M")
