"""The division hierarchy: levels, code prefixes, the enclosing and parent division."""

from __future__ import annotations

import pytest

from core import divisions

# 樊城区 (district 420606), 汉江街道 (street 420606001), a community and one of its grids
DISTRICT, STREET, COMMUNITY, GRID = ("420606000000", "420606001000", "420606001002",
                                     "420606001002003")


def test_levels_run_from_the_district_down_to_the_grid() -> None:
    assert divisions.LEVELS == ("district", "street", "community", "grid")
    assert divisions.AREA_LEVELS == ("street", "community", "grid")
    assert [divisions.depth(lv) for lv in divisions.LEVELS] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="not a division level: 'county'"):
        divisions.depth("county")


def test_prefixes_name_the_division_at_each_level() -> None:
    assert divisions.prefix(GRID, "district") == "420606"
    assert divisions.prefix(GRID, "street") == "420606001"
    assert divisions.prefix(GRID, "community") == COMMUNITY
    assert divisions.prefix(GRID, "grid") == GRID
    # every code inside a division starts with its prefix, and a code outside does not
    assert COMMUNITY.startswith(divisions.prefix(STREET, "street"))
    assert not "420606002001".startswith(divisions.prefix(STREET, "street"))


def test_enclosing_and_parent_codes_are_padded_to_twelve_digits() -> None:
    assert divisions.code_at(GRID, "street") == STREET
    assert divisions.code_at(COMMUNITY, "district") == DISTRICT
    assert divisions.code_at(GRID, "grid") == GRID
    assert [divisions.parent_code(c, lv) for c, lv in
            ((GRID, "grid"), (COMMUNITY, "community"), (STREET, "street"),
             (DISTRICT, "district"))] == [COMMUNITY, STREET, DISTRICT, None]
