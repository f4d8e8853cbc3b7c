"""The look-ups every script run makes, built once per data version and shared by sessions
(dashboard.data.base): the divisions a viewer can pick, names, parents and scopes, checked
against the division table read with plain SQL; and the overview's board, cached on its own."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text
from streamlit.testing.v1 import AppTest

from core import divisions
from tests.dashboard.conftest import GAOZHUANG, HANJIANG, PERIOD, WANGZHAI


def _table(case_config: Any) -> list[dict[str, Any]]:
    engine = create_engine(f"sqlite:///{case_config.parent / 'warehouse.db'}")
    with engine.connect() as c:
        rows = [dict(r) for r in c.execute(text(
            "SELECT code, level, parent_code, name, short_name, active, placeholder "
            "FROM divisions")).mappings()]
    engine.dispose()
    return rows


@pytest.mark.parametrize("role, area", [("leader", ""), ("street_staff", WANGZHAI),
                                        ("community_staff", GAOZHUANG)])
def test_units_and_their_look_ups_match_the_division_table(
        app: AppTest, case_config: Any, role: str, area: str) -> None:
    from dashboard import data
    from metrics.access import Viewer

    app.run()  # the app's config and warehouse
    district = data.district_code()
    viewer = Viewer("x", role, area or district)  # type: ignore[arg-type]
    key = data.key(viewer)
    table = _table(case_config)
    label = {r["code"]: r["short_name"] or r["name"] for r in table}
    # pickable: active, not a placeholder, inside the viewer's area (a community's street too)
    depth = divisions.depth(viewer.level)
    want = {r["code"] for r in table if r["active"] and not r["placeholder"]
            and r["code"].startswith(viewer.prefix) and divisions.depth(r["level"]) >= depth}
    if role == "community_staff":
        want.add(divisions.code_at(area, "street"))
    units = data.unit_index(key)
    assert set(units.frame["code"]) == want == set(units.level)
    assert units.label == {c: label[c] for c in want}
    assert units.parent == {r["code"]: r["parent_code"] for r in table if r["code"] in want}
    for level in ("street", "community", "grid"):
        mine = sorted(c for c in want if units.level[c] == level)
        assert units.children.get((level, None), []) == mine
        for parent in {units.parent[c] for c in mine}:
            assert units.children[(level, parent)] == [c for c in mine
                                                       if units.parent[c] == parent]
    # every division, retired ones too, for names, parents and scopes
    assert data.names(key) == label
    assert data.parents(key) == {r["code"]: r["parent_code"] for r in table}
    assert data.unit_scope(key, HANJIANG).name == label[HANJIANG]
    assert data.district(key).code == district
    assert data.allowed_scope(key).code == (area or district)
    # shared by every session of the version, and a new version builds them anew
    assert data.unit_index(key) is units
    assert data.unit_index(data.key(viewer, key.version + 1)) is not units


def test_the_overview_board_is_cached_on_its_own(app: AppTest, case_config: Any) -> None:
    from dashboard import data
    from metrics.access import Viewer

    app.run()
    viewer = Viewer("x", "leader", data.district_code())
    key = data.key(viewer)
    scope = data.district(key)
    ov = data.overview(key, scope, PERIOD, with_board=False)
    assert ov.board.is_empty() and not ov.cards.is_empty()
    full = data.overview(key, scope, PERIOD)
    assert full.board.equals(data.overview_board(key, scope, PERIOD))
    assert full.cards.equals(ov.cards) and full.ranking.equals(ov.ranking)
    communities = {r["code"] for r in _table(case_config) if r["level"] == "community"}
    assert set(full.board["key"].drop_nulls()) <= communities
