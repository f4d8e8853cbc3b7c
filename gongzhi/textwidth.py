"""Terminal width of text: CJK characters take two columns, so tables must pad by width."""

from __future__ import annotations

import unicodedata


def width(s: str) -> int:
    """Columns ``s`` takes in a terminal."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def pad(s: str, w: int) -> str:
    """``s`` padded with spaces to ``w`` terminal columns (numbers are right-aligned)."""
    fill = " " * max(w - width(s), 0)
    stripped = s.replace(",", "").replace(".", "").replace("%", "").replace("-", "")
    return fill + s if stripped.isdigit() else s + fill
