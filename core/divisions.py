"""The division hierarchy, in one place: district → street → community → grid → building.

Codes follow the national statistical division codes (统计用区划代码, 12 digits): a division's
code starts with the first digits of every division above it — 6 for the district, 9 for the
street, 12 for the community — and is padded with zeros to 12 digits (街道 ``420606001000``).
Grids come from the grid system, not the official list: the community's 12 digits plus 3.
Buildings (楼栋, the fifth level of 五级双线) come from the grid system's building register:
the grid's 15 digits plus 3 (``420606001001002007``).

KPIs, maps, rankings and the area filters stop at the grid (:data:`SCOPE_LEVELS`): a building
holds a few hundred households at most, too few for a rate. Buildings are an area level all
the same: the building register
(``buildings``) and its 楼栋长 carry building codes, checked and scoped like any other.
"""

from __future__ import annotations

from typing import Literal

Level = Literal["district", "street", "community", "grid", "building"]
LEVELS: tuple[Level, ...] = ("district", "street", "community", "grid", "building")
#: the levels a KPI, a map, a ranking or the division list (``divisions``) names: to the grid
#: the words official lists and boundary files write for the levels (a level column's synonyms)
LEVEL_WORDS: dict[str, Level] = {
    "区": "district", "区县": "district", "街道": "street", "镇": "street", "乡": "street",
    "社区": "community", "村": "community", "网格": "grid"}
SCOPE_LEVELS: tuple[Level, ...] = LEVELS[:4]
#: the levels below the district that the area filters offer (street, community, grid)
AREA_LEVELS: tuple[Level, ...] = SCOPE_LEVELS[1:]
#: how many leading digits of a code name the division at each level
PREFIX_LENGTH: dict[str, int] = {"district": 6, "street": 9, "community": 12, "grid": 15,
                                 "building": 18}
#: the length of an official code (district, street, community), padded with zeros
CODE_LENGTH = 12
#: position from the top: district 0 … building 4 (a larger depth is a smaller area)
DEPTH: dict[str, int] = {lv: i for i, lv in enumerate(LEVELS)}


def depth(level: str) -> int:
    """0 for the district, 1 a street, 2 a community, 3 a grid, 4 a building; ValueError for
    other words."""
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
    is ``420606001000``); grid and building codes are longer than official ones and are not
    padded (a building's grid is its first 15 digits)."""
    if PREFIX_LENGTH[level] > CODE_LENGTH:
        return prefix(code, level)
    return prefix(code, level).ljust(CODE_LENGTH, "0")


def parent_code(code: str, level: str) -> str | None:
    """The code of the division directly above a ``level`` division (None for the district)."""
    d = depth(level)
    return code_at(code, LEVELS[d - 1]) if d > 0 else None

