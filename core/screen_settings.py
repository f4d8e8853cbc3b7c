"""``[screen]``: the 首屏 big screen of a command hall (dashboard/screens/screen.py).

A typed, self-contained section (dataclass + parser) so it can move with the settings::

    [screen]
    rotate_seconds = 30          # how long each domain stays on the wall
    domains = ["gov", "grid"]    # which domains rotate, in this order (default: all)
    cards_per_domain = 8         # headline cards shown per domain (the first N of the domain)
    ticker_items = 12            # latest events in the ticker at the foot
    title = "樊城区基层治理指挥中心"  # the title bar (default: the area's name + 基层治理)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import Problem

ROTATE_LIMITS = (2.0, 3600.0)  # seconds; 2 s lets a test watch a rotation
CARD_LIMITS = (1, 12)  # more than 12 cards are unreadable from 5 m at 1080p
TICKER_LIMITS = (0, 50)


@dataclass(frozen=True)
class ScreenSettings:
    """What the big screen shows and how fast it turns."""

    rotate_seconds: float = 30.0
    domains: tuple[str, ...] = ()  # empty: every domain of the KPI catalogue, in its order
    cards_per_domain: int = 8
    ticker_items: int = 12
    title: str = ""


def parse_screen(raw: Any, place: str) -> tuple[ScreenSettings, list[Problem]]:
    """Read ``[screen]``; every problem is reported (with ``place``, the file and line)."""
    if raw is None:
        return ScreenSettings(), []
    if not isinstance(raw, dict):
        return ScreenSettings(), [Problem(place, "'screen' must be a table ([screen])")]
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "rotate_seconds":
            low, high = ROTATE_LIMITS
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not low <= value <= high:
                problems.append(Problem(place, f"'rotate_seconds' must be a number of seconds "
                                               f"from {low:g} to {high:g}, not {value!r}"))
            else:
                out[key] = float(value)
        elif key in ("cards_per_domain", "ticker_items"):
            low_i, high_i = CARD_LIMITS if key == "cards_per_domain" else TICKER_LIMITS
            if isinstance(value, bool) or not isinstance(value, int) \
                    or not low_i <= value <= high_i:
                problems.append(Problem(place, f"'{key}' must be a whole number from {low_i} "
                                               f"to {high_i}, not {value!r}"))
            else:
                out[key] = value
        elif key == "domains":
            if not isinstance(value, list) or not all(isinstance(d, str) and d.strip()
                                                      for d in value):
                problems.append(Problem(place, "'domains' must be a list of domain ids "
                                               "(gov, grid, vol, party, civic …)"))
            elif len(set(value)) != len(value):
                problems.append(Problem(place, f"'domains' names a domain twice: {value!r}"))
            else:
                out[key] = tuple(d.strip() for d in value)
        elif key == "title":
            if not isinstance(value, str) or len(value) > 60:
                problems.append(Problem(place, "'title' must be text of at most 60 characters"))
            else:
                out[key] = value.strip()
        else:
            problems.append(Problem(place, f"unknown [screen] key '{key}'"))
    return ScreenSettings(**out), problems
