"""Drill-through, breakdowns, A-vs-B and year to date against an independent computation.

The seeded district of the differential tests is loaded through the real runner on SQLite
and PostgreSQL. For a sample of KPIs × scopes × periods:

- the rows behind each part (``metrics.drill``, and ``gongzhi rows --all --format json``) are
  exactly the rows an independent polars filter of the generated fact rows selects (the
  filters below are written here from the definitions of record, DESIGN §5; nothing comes
  from ``metrics/``), and their count (or sum, or average) is the numerator / denominator
  ``gongzhi kpi --format json`` reports;
- pages of any size put together give every row once, in a stable order;
- every breakdown (category, department, channel, item) sums to the total, and one is
  checked group by group against the independent filter;
- ``gongzhi kpi --vs B`` equals two single-period runs; a year to date equals the sums of
  its months, computed independently.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import fresh_warehouse_url
from tests.differential import harness as h
from tests.differential.world import World, generate
from tests.metrics.drill_facts import (
    GRID_KPIS,
    KEYS,
    SAMPLE,
    SPANS,
    Facts,
    Part,
    Span,
    _month_end,
    c,
)


@pytest.fixture(scope="module")
def world() -> World:
    return generate(h.SEED, 1.5)


@pytest.fixture(scope="module")
def facts(world: World) -> Facts:
    return Facts(world)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql",
                                                              marks=pytest.mark.postgres)])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           world: World) -> Iterator[Path]:
    """The world in a fresh warehouse on each engine, open to look at as the district."""
    folder = tmp_path_factory.mktemp(f"drill_{request.param}")
    with fresh_warehouse_url(request.param, folder) as url:
        cfg = h.build(world, folder, url)
        with cfg.open("a", encoding="utf-8") as f:
            f.write('\n[dashboard]\nsign_in = "open"\n')
        yield cfg


def _metrics(cfg: Path, rollups: bool = True) -> Any:
    from ingest.registry import load_validated
    from metrics.service import Metrics
    from warehouse.engine import open_warehouse

    return Metrics(open_warehouse(load_validated(cfg).warehouse_url), use_rollups=rollups)


def cli(cfg: Path, *args: str) -> Any:
    from click.testing import CliRunner

    from gongzhi.cli import cli as group

    res = CliRunner().invoke(group, ["--config", str(cfg), *args])
    assert res.exit_code == 0, (args, res.output, res.exception)
    return res.output


def scopes(w: World) -> list[tuple[str, str]]:
    streets = sorted({x[:9] + "000" for x in w.communities})
    empty = next(s for s in w.divisions.filter(c("level") == "street")["code"]
                 if s not in streets)
    district = w.divisions.filter(c("level") == "district")["code"][0]
    return [("district", district), ("street", streets[0]), ("street", streets[-1]),
            ("street", empty), ("community", w.communities[1]), ("grid", w.grids[2])]


def scope_spans(w: World) -> list[tuple[tuple[str, str], Span]]:
    """The scope × period pairs the rows are checked on: under ``make test-deep``
    (GONGZHI_DEEP=1) every scope with each of the first four periods; in CI each scope with
    two consecutive ones, so that every scope and every period (month, quarter, week, year to
    date) is still checked, each period with scopes of more than one level."""
    pairs = [(scope, SPANS[(i + j) % 4]) for i, scope in enumerate(scopes(w))
             for j in range(4 if h.DEEP else 2)]
    return pairs


def _scope_args(scope: tuple[str, str]) -> list[str]:
    return [] if scope[0] == "district" else [f"--{scope[0]}", scope[1]]


def _keys(frame: pl.DataFrame, table: str) -> set[tuple[Any, ...]]:
    return set(frame.select(KEYS[table]).iter_rows())


def test_rows_behind_each_part_are_exactly_the_independent_filter(
        loaded: Path, world: World, facts: Facts) -> None:
    from metrics import drill, periods
    from metrics.compiler import Scope

    m = _metrics(loaded)
    problems: list[str] = []
    checked = 0
    for scope, span in scope_spans(world):
        kpis = [k for k in SAMPLE if scope[0] != "grid" or k in GRID_KPIS]
        if scope[0] in ("district", "grid"):  # as `gongzhi kpi --format json` says
            figures = {r["kpi"]: r for r in json.loads(cli(
                loaded, "kpi", "--period", span.label, "--format", "json",
                *_scope_args(scope), *[a for k in kpis for a in ("--kpi", k)]))}
        else:  # the API it prints (the differential tests hold the two equal)
            figures = {r["kpi"]: r for r in m.compute(
                kpis, Scope(*scope), periods.parse(span.label), compare=False).to_dicts()}
        for kpi_id in kpis:
            kpi = m.catalog.get(kpi_id)
            for part, spec in SAMPLE[kpi_id].items():
                where = f"{kpi_id} {part} {scope} {span.label}"
                fig = drill.Figure(kpi_id, part, Scope(*scope), periods.parse(span.label))
                got, _ = drill.export(m.engine, kpi, fig)
                want = facts.rows(spec, scope, span)
                table = spec.table
                if _keys(got, table) != _keys(want, table) or got.height != want.height:
                    problems.append(f"{where}: rows differ: {got.height} vs {want.height}")
                # the figure the KPI reports is the count / sum / mean of these rows
                reported = figures[kpi_id]["value" if part == "measure" else part]
                expected = facts.figure(spec, scope, span)
                if part == "measure" and spec.agg == "count":
                    expected = expected or 0.0
                if not h.close(reported, expected):
                    problems.append(f"{where}: kpi says {reported}, rows give {expected}")
                if spec.agg == "count" and not h.close(reported, got.height):
                    problems.append(f"{where}: kpi {reported} vs {got.height} rows")
                if drill.count(m.engine, kpi, fig) != got.height:
                    problems.append(f"{where}: count differs from the rows")
                known = drill.known_total(m, kpi, fig)  # what the page's pager uses
                if known is not None and known != got.height:
                    problems.append(f"{where}: known total {known} vs {got.height}")
                checked += 1
            if "gap" in drill.parts_of(kpi):  # the denominator's rows, not the numerator's
                fig = drill.Figure(kpi_id, "gap", Scope(*scope), periods.parse(span.label))
                got, _ = drill.export(m.engine, kpi, fig)
                den, num = (facts.rows(SAMPLE[kpi_id][p], scope, span)
                            for p in ("denominator", "numerator"))
                table = SAMPLE[kpi_id]["denominator"].table
                want_keys = _keys(den, table) - _keys(num, table)
                if _keys(got, table) != want_keys or got.height != len(want_keys):
                    problems.append(f"{kpi_id} gap {scope} {span.label}: rows differ")
                known = drill.known_total(m, kpi, fig)
                if known != got.height or drill.count(m.engine, kpi, fig) != got.height:
                    problems.append(f"{kpi_id} gap {scope} {span.label}: count {known}")
                checked += 1
    m.engine.dispose()
    assert not problems, "\n".join(problems[:30])
    assert checked > (250 if h.DEEP else 200)


def test_cli_rows_all_and_pages_give_every_row_once_in_a_stable_order(
        loaded: Path, world: World, facts: Facts) -> None:
    from metrics import drill, periods
    from metrics.compiler import Scope

    street = scopes(world)[1]
    for kpi_id, part, span in (("grid.on_time_closure_rate", "denominator", SPANS[3]),
                               ("gov.online_case_rate", "numerator", SPANS[4]),
                               ("vol.active_rate", "numerator", SPANS[1])):
        spec = SAMPLE[kpi_id][part]
        # newest first, ties by key
        want = facts.rows(spec, street, span).sort([spec.time, *KEYS[spec.table]],
                                                   descending=[True] + [False] * len(
                                                       KEYS[spec.table]))
        args = ["rows", "--kpi", kpi_id, "--part", part, "--period", span.label,
                *_scope_args(street), "--format", "json"]
        everything = json.loads(cli(loaded, *args, "--all"))
        assert everything["total"] == want.height > 10, (kpi_id, everything["total"])
        ids = [tuple(r[k] for k in KEYS[spec.table]) for r in everything["rows"]]
        assert ids == list(want.select(KEYS[spec.table]).iter_rows())
        paged: list[tuple[Any, ...]] = []
        m = _metrics(loaded)
        fig = drill.Figure(kpi_id, part, Scope(*street), periods.parse(span.label))
        kpi = m.catalog.get(kpi_id)
        first = drill.page(m.engine, kpi, fig, 1, 7)
        assert first.pages == -(-want.height // 7) and first.total == want.height
        for n in range(1, first.pages + 2):  # one past the end: empty, not an error
            pg = drill.page(m.engine, kpi, fig, n, 7)
            assert pg.rows.height == max(0, min(7, want.height - 7 * (n - 1))), n
            paged += list(pg.rows.select(KEYS[spec.table]).iter_rows())
        m.engine.dispose()
        # the command line's pages are the same pages
        second = json.loads(cli(loaded, *args, "--page-size", "7", "--page", "2"))
        assert (second["page"], second["pages"], second["total"]) == (2, first.pages,
                                                                      want.height)
        assert [tuple(r[k] for k in KEYS[spec.table]) for r in second["rows"]] == ids[7:14]
        assert paged == ids


def test_breakdowns_sum_to_the_totals_and_match_the_facts_group_by_group(
        loaded: Path, world: World, facts: Facts) -> None:
    from metrics import periods
    from metrics.breakdown import dimensions_of
    from metrics.compiler import Scope

    m = _metrics(loaded)
    checked = 0
    cat = m.catalog
    by_table: dict[str, list[str]] = {}
    for k in cat.kpis.values():
        tables = {x.table for x in k.measures().values()}
        if len(tables) == 1 and k.periodic:
            by_table.setdefault(tables.pop() or "", []).append(k.id)
    problems: list[str] = []
    # both periods for each of the first three scopes under `make test-deep`; in CI they
    # take turns (each scope and each period still checked)
    pairs = [(scope, span) for i, scope in enumerate(scopes(world)[:3])
             for j, span in enumerate((SPANS[1], SPANS[3])) if h.DEEP or (i + j) % 2 == 0]
    for scope, span in pairs:
        p = periods.parse(span.label)
        ids = [k for v in by_table.values() for k in v]
        total = {r["kpi"]: r for r in m.compute(ids, Scope(*scope), p,
                                                compare=False).to_dicts()}
        for table, ids in by_table.items():
            for dim in dimensions_of(table):
                rows = m.compute(ids, Scope(*scope), p, dim, compare=False).to_dicts()
                for kpi_id in ids:
                    kpi = cat.get(kpi_id)
                    groups = [r for r in rows if r["kpi"] == kpi_id]
                    fields = ("numerator", "denominator") if kpi.is_ratio else (
                        ("value",) if kpi.additive else ())
                    # a distinct count's groups may share a value (an item delegated as one
                    # kind to one street, another kind to the next): its groups do not add up
                    # to the total; they are compared with the facts group by group below
                    parts = {"value": kpi.measure, "numerator": kpi.numerator,
                             "denominator": kpi.denominator}
                    fields = tuple(f for f in fields if parts[f] is None
                                   or parts[f].agg != "count_distinct")
                    for fld in fields:
                        s = sum(r[fld] or 0 for r in groups)
                        if not h.close(s, total[kpi_id][fld] or 0):
                            problems.append(f"{kpi_id} by {dim} {scope} {span.label} "
                                            f"{fld}: groups sum to {s}, total "
                                            f"{total[kpi_id][fld]}")
                        checked += 1
    # one breakdown group by group: on-time closure by category, and cases by department
    scope, span = scopes(world)[0], SPANS[3]
    for kpi_id, dim, column in (("grid.on_time_closure_rate", "category", "category"),
                                ("gov.online_case_rate", "department", "department"),
                                ("grid.registration_rate", "channel", "source")):
        got = {r["key"]: r for r in json.loads(cli(
            loaded, "kpi", "--kpi", kpi_id, "--period", span.label, "--by", dim,
            "--format", "json"))}
        parts = SAMPLE[kpi_id]
        den = facts.rows(parts["denominator"], scope, span).group_by(column).len()
        num = facts.rows(parts["numerator"], scope, span).group_by(column).len()
        want_den = dict(den.iter_rows())
        want_num = dict(num.iter_rows())
        assert set(got) == set(want_den), (kpi_id, sorted(map(str, got)), want_den)
        for key, r in got.items():
            assert (r["numerator"], r["denominator"]) == (want_num.get(key, 0),
                                                          want_den[key]), (kpi_id, key)
        assert None in got or dim != "department", "an item without a department is a group"
    # a distinct count group by group: delegated items (distinct item codes) by their kind
    items = Part("delegated_items", "delegated_on", None, "distinct", "item_code", "to_end")
    got = {r["key"]: r["value"] for r in json.loads(cli(
        loaded, "kpi", "--kpi", "street.delegated_items", "--period", span.label, "--by",
        "category", "--format", "json"))}
    want = {k: float(n) for k, n in facts.rows(items, scope, span).group_by("kind").agg(
        c("item_code").n_unique()).iter_rows()}
    assert want and got == want, (got, want)
    m.engine.dispose()
    assert not problems, "\n".join(problems[:30])
    assert checked > (100 if h.DEEP else 50)


def test_rows_of_a_breakdown_group_are_that_groups_rows(loaded: Path, world: World,
                                                        facts: Facts) -> None:
    scope, span = scopes(world)[1], SPANS[3]
    spec = SAMPLE["grid.on_time_closure_rate"]["numerator"]
    want = facts.rows(spec, scope, span)
    for category in [*sorted(set(want["category"].drop_nulls()))[:3], None]:
        args = ["rows", "--kpi", "grid.on_time_closure_rate", "--period", span.label,
                *_scope_args(scope), "--by", "category", "--all", "--format", "json"]
        if category is not None:
            args += ["--key", category]
        got = json.loads(cli(loaded, *args))
        expect = want.filter(c("category").is_null() if category is None
                             else c("category") == category)
        assert sorted(r["event_id"] for r in got["rows"]) == sorted(expect["event_id"])
    dept = json.loads(cli(loaded, "rows", "--kpi", "gov.online_case_rate", "--part",
                          "denominator", "--period", span.label, "--by", "department",
                          "--key", "区民政局", "--all", "--format", "json"))
    expect = facts.rows(SAMPLE["gov.online_case_rate"]["denominator"], scopes(world)[0],
                        span).filter(c("department") == "区民政局")
    assert sorted(r["case_id"] for r in dept["rows"]) == sorted(expect["case_id"])
    assert all(r["department"] == "区民政局" for r in dept["rows"]) and expect.height > 0


def test_a_against_b_equals_two_single_period_runs(loaded: Path, world: World) -> None:
    ids = ["grid.on_time_closure_rate", "grid.events_reported", "gov.online_case_rate",
           "gov.avg_visits", "vol.active_rate", "civic.property_fee_collection_rate"]
    for scope, a, b, by in ((scopes(world)[0], "2024-11", "2023-11", None),
                            (scopes(world)[1], "2025-06-YTD", "2024-06-YTD", None),
                            (scopes(world)[1], "2024-05", "2024-04", "category")):
        args = ["--format", "json", *_scope_args(scope),
                *[x for k in ids for x in ("--kpi", k)]] + (["--by", by] if by else [])
        vs = json.loads(cli(loaded, "kpi", "--period", a, "--vs", b, *args))
        one = {(r["kpi"], r.get("key")): r
               for r in json.loads(cli(loaded, "kpi", "--period", a, *args))}
        two = {(r["kpi"], r.get("key")): r
               for r in json.loads(cli(loaded, "kpi", "--period", b, *args))}
        assert {(r["kpi"], r.get("key")) for r in vs} == set(one) | set(two), (a, b, by)
        for r in vs:
            k = (r["kpi"], r.get("key"))
            assert (r["period_a"], r["period_b"]) == (a, b)
            for side, src in (("a", one), ("b", two)):
                for f in ("value", "numerator", "denominator", "sample", "status"):
                    want = src[k][f] if k in src else None
                    assert h.close(r[f"{f}_{side}"], want), (k, side, f, a, b)
            va, vb = r["value_a"], r["value_b"]
            change = None if va is None or vb is None else va - vb
            assert h.close(r["change"], change), k


def test_year_to_date_is_the_sum_of_its_months(loaded: Path, world: World,
                                               facts: Facts) -> None:
    """Year to date, through the rollups and straight from the facts, is the months'
    numerators and denominators added up (computed month by month from the facts)."""
    from metrics import periods
    from metrics.compiler import Scope

    ids = ["grid.on_time_closure_rate", "gov.good_rating_rate", "gov.avg_visits",
           "civic.property_fee_collection_rate", "grid.events_reported"]
    for rollups in (True, False):
        m = _metrics(loaded, rollups)
        for scope in scopes(world)[:3]:
            for through in ((2024, 2), (2025, 9)):
                y, last = through
                p = periods.parse(f"{y}-{last:02d}-YTD")
                frame = {r["kpi"]: r for r in m.compute(ids, Scope(*scope), p).to_dicts()}
                for kpi_id in ids:
                    parts = SAMPLE[kpi_id]
                    sums = {role: sum(facts.figure(spec, scope, Span(
                        "", dt.date(y, mo, 1), _month_end(y, mo))) or 0
                        for mo in range(1, last + 1)) for role, spec in parts.items()}
                    r = frame[kpi_id]
                    where = (kpi_id, scope, p.label, rollups)
                    if "measure" in parts:
                        assert h.close(r["value"], sums["measure"]), where
                        continue
                    assert h.close(r["numerator"], sums["numerator"]), where
                    assert h.close(r["denominator"], sums["denominator"]), where
                    scale = m.catalog.get(kpi_id).scale
                    want = sums["numerator"] / sums["denominator"] * scale \
                        if sums["denominator"] else None
                    assert h.close(r["value"], want), where
                    prev = periods.parse(f"{y - 1}-{last:02d}-YTD")
                    assert r["ly_value"] == m.compute([kpi_id], Scope(*scope), prev,
                                                      compare=False)["value"][0], where
        m.engine.dispose()


def test_a_ytd_period_names_itself_and_its_comparisons() -> None:
    from core.errors import ConfigError
    from metrics import periods

    p = periods.parse("2026-11-YTD")
    assert (p.start, p.end, p.label) == (dt.date(2026, 1, 1), dt.date(2026, 12, 1),
                                         "2026-11-YTD")
    assert p.previous().label == "2026-10-YTD" and p.last_year().label == "2025-11-YTD"
    assert periods.parse("2026-01-ytd").previous().label == "2025-12-YTD"
    assert periods.to_date(periods.parse("2026-Q2")).label == "2026-06-YTD"
    with pytest.raises(ConfigError, match="2024-05-YTD"):
        periods.parse("2026-13-YTD")
