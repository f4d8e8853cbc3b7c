"""The division hierarchy, in one place: district → street → community → grid.

Codes follow the national statistical division codes (统计用区划代码, 12 digits): a division's
code starts with the first digits of every division above it — 6 for the district, 9 for the
street, 12 for the community — and is padded with zeros to 12 digits (街道 ``420606001000``).
Grids come from the grid system, not the official list: the community's 12 digits plus 3.
"""

from __future__ import annotations

from typing import Literal

Level = Literal["district", "street", "community", "grid"]
LEVELS: tuple[Level, ...] = ("district", "street", "community", "grid")
#: the words official lists and boundary files write for the levels (a level column's synonyms)
LEVEL_WORDS: dict[str, Level] = {
    "区": "district", "区县": "district", "街道": "street", "镇": "street", "乡": "street",
    "社区": "community", "村": "community", "网格": "grid"}
#: the levels below the district, which the filters and area columns name
AREA_LEVELS: tuple[Level, ...] = LEVELS[1:]
#: how many leading digits of a code name the division at each level
PREFIX_LENGTH: dict[str, int] = {"district": 6, "street": 9, "community": 12, "grid": 15}
#: the length of an official code (district, street, community), padded with zeros
CODE_LENGTH = 12
#: position from the top: district 0 … grid 3 (a larger depth is a smaller area)
DEPTH: dict[str, int] = {lv: i for i, lv in enumerate(LEVELS)}


def depth(level: str) -> int:
    """0 for the district, 1 a street, 2 a community, 3 a grid; ValueError for other words."""
    try:
        return DEPTH[level]
    except KeyError:
        raise ValueError(f"not a division level: {level!r} (levels: {', '.join(LEVELS)})"
                         ) from None


def prefix(code: str, level: str) -> str:
    """The leading digits every code inside the ``level`` division holding ``code`` shares."""
    return code[:PREFIX_LENGTH[level]]


def code_at(code: str, level: str) -> str:
    """The code of the ``level`` division holding ``code`` (``420606001002`` at street level
    is ``420606001000``); a grid's code is its own."""
    if level == "grid":
        return code
    return prefix(code, level).ljust(CODE_LENGTH, "0")


def parent_code(code: str, level: str) -> str | None:
    """The code of the division directly above a ``level`` division (None for the district)."""
    d = depth(level)
    return code_at(code, LEVELS[d - 1]) if d > 0 else None
