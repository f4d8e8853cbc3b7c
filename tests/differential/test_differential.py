"""Differential tests (issue 9): seeded fact rows through the real runner, a few hundred drawn
combinations of KPI × scope × period × grouping with their 环比 and 同比, every output path
against the independent polars oracle, on SQLite and PostgreSQL.

``GONGZHI_DIFF_SEED`` picks the data and the draws, ``GONGZHI_DIFF_DRAWS`` how many per
engine, ``GONGZHI_DIFF_SCALE`` how much data; ``make test-deep`` runs thousands.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fresh_warehouse_url
from tests.differential import harness as h
from tests.differential import oracle as o
from tests.differential.world import World, generate


@pytest.fixture(scope="module")
def world() -> World:
    return generate(h.SEED, h.SCALE)


@pytest.fixture(scope="module")
def orc(world: World) -> o.Oracle:
    return o.Oracle(world)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql",
                                                              marks=pytest.mark.postgres)])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           world: World) -> Iterator[Path]:
    """The world loaded into a fresh warehouse on each engine; yields the config path."""
    folder = tmp_path_factory.mktemp(f"diff_{request.param}")
    with fresh_warehouse_url(request.param, folder) as url:
        yield h.build(world, folder, url)


def _metrics(cfg: Path, *, rollups: bool = True) -> Any:
    from ingest.registry import load_validated
    from metrics.service import Metrics
    from warehouse.engine import open_warehouse

    return Metrics(open_warehouse(load_validated(cfg).warehouse_url), use_rollups=rollups)


def test_planted_bad_rows_are_quarantined_and_nothing_else(loaded: Path, world: World) -> None:
    from ingest.registry import load_validated
    from warehouse import runlog
    from warehouse.engine import open_warehouse

    engine = open_warehouse(load_validated(loaded).warehouse_url)
    runs = {r["source"]: r for r in runlog.list_runs(engine, limit=100)}
    engine.dispose()
    for table, frame in world.tables.items():
        r = runs[f"t_{table}"]
        bad = len(world.bad.get(table, []))
        assert (r["read"], r["loaded"], r["quarantined"]) == (frame.height + bad, frame.height,
                                                              bad), table


def test_metrics_api_through_rollups_and_facts(loaded: Path, world: World,
                                               orc: o.Oracle) -> None:
    """``Metrics.compute``: the API behind every page, the CLI and the exports' figures."""
    problems: list[str] = []
    for m, how in ((_metrics(loaded), "rollups"), (_metrics(loaded, rollups=False), "facts")):
        for d in h.draws(world, h.DRAWS):
            problems += h.check_metrics(m, orc, d, how)
        m.engine.dispose()
    assert not problems, h.report(problems)


def test_cli_json_and_csv(loaded: Path, world: World, orc: o.Oracle) -> None:
    """``gongzhi kpi --format json`` and ``--format csv`` for a quarter of the draws."""
    problems: list[str] = []
    for d in h.draws(world, h.DRAWS)[::4]:
        problems += h.check_cli(loaded, orc, d, "json" if d.n % 8 else "csv")
    assert not problems, h.report(problems)


def test_dashboard_pages_and_exports(loaded: Path, world: World, orc: o.Oracle,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard's loaders (overview, domain page, heatmap) and its CSV/XLSX exports."""
    monkeypatch.setenv("GONGZHI_CONFIG", str(loaded))
    problems: list[str] = []
    sample = h.draws(world, h.DRAWS)
    for d in sample[: max(4, h.DRAWS // 40)]:
        problems += h.check_pages(orc, d)
    for d in sample[: max(10, h.DRAWS // 8)]:
        problems += h.check_export(world, d, "xlsx" if d.n % 3 == 0 else "csv")
    assert not problems, h.report(problems)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two fresh warehouses on one engine: one kept by increments, one loaded at once."""
    inc, full = tmp_path / "inc_warehouse", tmp_path / "full_warehouse"
    inc.mkdir()
    full.mkdir()
    with fresh_warehouse_url(request.param, inc) as a, \
            fresh_warehouse_url(request.param, full) as b:
        yield a, b


def test_incremental_loads_equal_a_rebuild_from_scratch(tmp_path: Path, world: World,
                                                        two_urls: tuple[str, str]) -> None:
    """Half the data, then the rest with changed rows and rows the source flagged deleted:
    the rollups kept by the runs equal rollups rebuilt from the facts, every drawn figure
    equals a warehouse loaded at once, and both equal the oracle — after each drop."""
    from tests.conftest import write_config
    from tests.differential.world import write_sources

    ev = h.evolve(world)
    inc, full = tmp_path / "inc", tmp_path / "full"
    inc.mkdir()
    full.mkdir()
    write_sources(world, inc, parts=ev.first, tag="a")
    cfg = write_config(inc, two_urls[0], h.source_entries(world))
    h.ingest(cfg)
    sample = h.draws(world, max(20, h.DRAWS // 4), seed=h.SEED + 2)
    problems: list[str] = []
    m = _metrics(cfg)
    half = o.Oracle(ev.half)
    for d in sample[::2]:
        problems += h.check_metrics(m, half, d, "after the first drop")
    write_sources(world, inc, parts=ev.second, deleted=ev.deleted, tag="b")
    results = {r.source: r for r in h.ingest(cfg)}
    for table, gone in ev.deleted.items():
        assert results[f"t_{table}"].deleted == len(gone), table
    snaps = h.rollup_snapshots(cfg)
    for name, kept in snaps["kept"].items():
        if kept != snaps["rebuilt"][name]:
            problems.append(f"rollup {name} kept by the runs differs from a rebuild")
    final = o.Oracle(ev.final)
    h.write_sources(ev.final, full)
    fm = _metrics(h_write_config(full, two_urls[1], world))
    for d in sample:
        problems += h.check_metrics(m, final, d, "incremental")
        a = m.compute(list(d.kpis), h.metrics_scope(m, d.scope), h.parse_period(d.period.label),
                      d.group)
        b = fm.compute(list(d.kpis), h.metrics_scope(fm, d.scope),
                       h.parse_period(d.period.label), d.group)
        for k in d.kpis:
            problems += h.compare(h.frame_rows(b, k), h.frame_rows(a, k),
                                  f"{d.describe()} [incremental vs rebuild] {k}")
    m.engine.dispose()
    fm.engine.dispose()
    assert not problems, h.report(problems)


def h_write_config(folder: Path, url: str, world: World) -> Path:
    from tests.conftest import write_config

    cfg = write_config(folder, url, h.source_entries(world))
    h.ingest(cfg)
    return cfg
