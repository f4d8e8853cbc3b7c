"""Distinct counts' rollups (metrics.rollup.distinct) answer as the fact tables do: grouped,
month by month and compared (环比, 同比), at every level and for months, quarters and years;
after a first drop and after a second that changes and deletes rows (a volunteer moving to
another community, one deleted, one registering whose services were filed before), with the
rollups kept by the runs equal to a rebuild from the facts. The rollup path reads no fact
table of those measures."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from tests.conftest import fresh_warehouse_url, write_config
from tests.differential import harness as h
from tests.differential.world import World, generate, write_sources

COLUMNS = ["kpi", "key", "value", "numerator", "denominator", "sample", "status",
           "prev_value", "ly_value"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    (tmp_path / "wh").mkdir()
    with fresh_warehouse_url(request.param, tmp_path / "wh") as u:
        yield u


def _distinct_kpis() -> list[str]:
    from metrics.catalog import load_catalog
    from metrics.rollup import eligible_distinct

    cat = load_catalog()
    return sorted(k.id for k in cat.kpis.values()
                  if any(eligible_distinct(m) for m in k.measures().values()))


def _rows(frame: Any) -> list[tuple[Any, ...]]:
    def norm(v: Any) -> Any:
        return round(v, 9) if isinstance(v, float) else v

    return sorted((tuple(norm(r[c]) for c in COLUMNS) for r in frame.to_dicts()),
                  key=repr)


def _check(cfg: Path, world: World) -> list[str]:
    """Every distinct KPI through the rollups and through the facts, over the draws below;
    and the statements of the rollup path (none may read a fact table of those KPIs)."""
    from ingest.registry import load_validated
    from metrics import periods
    from metrics.compiler import Scope
    from metrics.service import Metrics
    from warehouse.engine import open_warehouse

    engine = open_warehouse(load_validated(cfg).warehouse_url)
    fast, slow = Metrics(engine), Metrics(engine, use_rollups=False)
    kpis = _distinct_kpis()
    assert {"vol.active_rate", "street.items_exercised_rate"} <= set(kpis)
    busiest = world.tables["volunteer_services"]["started_at"].dt.strftime("%Y-%m").mode()[0]
    month = periods.parse(busiest)
    quarter = periods.parse(f"{busiest[:4]}-Q{(int(busiest[5:]) - 1) // 3 + 1}")
    year = periods.parse(busiest[:4])
    district = fast.district()
    street = Scope("street", world.communities[0][:9] + "000")
    community = Scope("community", world.communities[0])
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    problems: list[str] = []
    draws = [(sc, p, g) for sc in (district, street, community)
             for p in (month, quarter, year) for g in (None, "street", "community")]
    draws += [(district, year, "month"), (street, quarter, "month"), (community, year, "month")]
    for sc, p, g in draws:
        event.listen(engine, "before_cursor_execute", listen)
        try:
            a = fast.compute(kpis, sc, p, g)  # type: ignore[arg-type]
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        b = slow.compute(kpis, sc, p, g)  # type: ignore[arg-type]
        if _rows(a) != _rows(b):
            problems.append(f"{sc.key()} {p.label} by {g}: rollups {_rows(a)} != facts "
                            f"{_rows(b)}")
    from metrics.catalog import load_catalog
    from metrics.rollup import distinct_families

    tables = {f.table for f in distinct_families(load_catalog()).values()}
    assert {"volunteer_services", "enforcement_cases"} <= tables
    facts = [s for s in seen if re.search(rf"\b({'|'.join(tables)})\b", s)]
    assert not facts, facts[:3]
    engine.dispose()
    return problems


def test_distinct_rollups_equal_the_facts_through_changes_and_deletes(
        tmp_path: Path, url: str) -> None:
    world = generate(h.SEED, h.SCALE)
    ev = h.evolve(world)
    folder = tmp_path / "src"
    folder.mkdir()
    write_sources(world, folder, parts=ev.first, tag="a")
    cfg = write_config(folder, url, h.source_entries(world))
    h.ingest(cfg)
    problems = _check(cfg, world)
    write_sources(world, folder, parts=ev.second, deleted=ev.deleted, tag="b")
    h.ingest(cfg)
    problems += _check(cfg, world)
    # a third drop of volunteers alone (no service changes, so no month is recomputed): one
    # with services moves to another street, one is deleted, and V9999 (services filed, no
    # record yet) registers
    served = set(world.tables["volunteer_services"]["volunteer_id"].to_list())
    gone = {v["volunteer_id"] for v in ev.deleted["volunteers"]}
    kept = [v for v in ev.first["volunteers"] if v["volunteer_id"] in served
            and v["volunteer_id"] not in gone]
    mover, leaver = kept[0], kept[1]
    other = next(c for c in world.communities if c[:9] != mover["community_code"][:9])
    write_sources(world, folder, parts={"volunteers": [
        dict(mover, community_code=other), dict(mover, volunteer_id="V9999")]},
                  deleted={"volunteers": [leaver]}, tag="c")
    results = {r.source: r for r in h.ingest(cfg, ["t_volunteers"])}
    assert results["t_volunteers"].deleted == 1
    problems += _check(cfg, world)
    snaps = h.rollup_snapshots(cfg)
    names = [n for n in snaps["kept"] if str(n).startswith("rollupd_")]
    assert names
    for name in names:
        if snaps["kept"][name] != snaps["rebuilt"][name]:
            problems.append(f"{name}: kept by the runs differs from a rebuild")
    assert not problems, "\n".join(problems[:10])
