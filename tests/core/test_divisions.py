"""The division hierarchy: levels, code prefixes, the enclosing and parent division."""

from __future__ import annotations

import pytest

from core import divisions

# 樊城区 (district 420606), 汉江街道 (street 420606001), a community, one of its grids and a
# building of that grid
DISTRICT, STREET, COMMUNITY, GRID = ("420606000000", "420606001000", "420606001002",
                                     "420606001002003")
BUILDING = GRID + "017"


def test_levels_run_from_the_district_down_to_the_building() -> None:
    assert divisions.LEVELS == ("district", "street", "community", "grid", "building")
    # KPIs, maps and the division list stop at the grid; the filters offer street to grid
    assert divisions.SCOPE_LEVELS == ("district", "street", "community", "grid")
    assert divisions.AREA_LEVELS == ("street", "community", "grid")
    assert [divisions.depth(lv) for lv in divisions.LEVELS] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="not a division level: 'county'"):
        divisions.depth("county")


def test_prefixes_name_the_division_at_each_level() -> None:
    assert divisions.prefix(GRID, "district") == "420606"
    assert divisions.prefix(GRID, "street") == "420606001"
    assert divisions.prefix(GRID, "community") == COMMUNITY
    assert divisions.prefix(GRID, "grid") == GRID
    assert divisions.prefix(BUILDING, "grid") == GRID
    assert divisions.prefix(BUILDING, "building") == BUILDING
    # every code inside a division starts with its prefix, and a code outside does not
    assert COMMUNITY.startswith(divisions.prefix(STREET, "street"))
    assert not "420606002001".startswith(divisions.prefix(STREET, "street"))


def test_enclosing_and_parent_codes_are_padded_to_twelve_digits() -> None:
    assert divisions.code_at(GRID, "street") == STREET
    assert divisions.code_at(COMMUNITY, "district") == DISTRICT
    assert divisions.code_at(GRID, "grid") == GRID
    # grid and building codes are longer than official ones: cut, never padded
    assert divisions.code_at(BUILDING, "grid") == GRID
    assert divisions.code_at(BUILDING, "building") == BUILDING
    assert divisions.code_at(BUILDING, "community") == COMMUNITY
    assert divisions.code_at(BUILDING, "street") == STREET
    assert [divisions.parent_code(c, lv) for c, lv in
            ((BUILDING, "building"), (GRID, "grid"), (COMMUNITY, "community"),
             (STREET, "street"), (DISTRICT, "district"))] == [GRID, COMMUNITY, STREET,
                                                              DISTRICT, None]
