"""Grouped results (issue 9, item 1): each period's rows kept apart, every group compared with
itself. ``--by month`` lists the months of the period only, each compared with the month
before (环比, M-1) and the same month last year (同比, M-12); ``--by street`` lists the streets
with rows in the period, each compared with the same street's previous period. Checked through
the rollups and straight from the facts, on both engines, and through ``gongzhi kpi``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gongzhi.cli import cli
from metrics import periods
from metrics.service import Metrics
from tests.metrics.harness import materialize

HANJIANG = "420606001001"  # 高庄社区, 汉江街道
WANGZHAI = "420606002001"  # 王寨街道

# cases per local month in 高庄社区; 2023-04/05 give the 同比 a value
PER_MONTH = {"2023-04": 2, "2023-05": 1, "2024-01": 3, "2024-02": 5, "2024-03": 2,
             "2024-04": 4, "2024-05": 6, "2024-06": 1}


def _cases() -> list[dict[str, Any]]:
    rows = []
    for month, n in PER_MONTH.items():
        for i in range(n):
            # the last one of each month at 23:30 local: 15:30 UTC, still this month
            when = f"{month}-28 23:30" if i == n - 1 else f"{month}-{10 + i:02d} 09:00"
            rows.append({"case_id": f"C{month}-{i}", "item_code": "I1",
                         "community_code": HANJIANG, "channel": "online" if i % 2 else "window",
                         "submitted_at": when, "status": "accepted"})
    # 王寨 has cases in 2024-Q1 only, one of them at 00:10 on 1 April local time (which is
    # still 31 March in UTC): April, so Q2
    rows += [{"case_id": f"W{i}", "item_code": "I1", "community_code": WANGZHAI,
              "channel": "window", "submitted_at": f"2024-02-{10 + i} 10:00",
              "status": "accepted"} for i in range(3)]
    rows.append({"case_id": "W-edge", "item_code": "I1", "community_code": WANGZHAI,
                 "channel": "online", "submitted_at": "2024-04-01 00:10", "status": "accepted"})
    # around 2025-W05 (Mon 27 January - Sun 2 February 2025, across January's end) and in
    # the week before it (W04: 20-26 January)
    rows += [{"case_id": f"K{i}", "item_code": "I1", "community_code": HANJIANG,
              "channel": "window", "submitted_at": when, "status": "accepted"}
             for i, when in enumerate(["2025-01-21 10:00", "2025-01-28 10:00",
                                       "2025-01-29 10:00", "2025-02-02 23:59"])]
    # party members checking in: a stock, by month it is the count at each month's end
    members = [{"member_id": f"P{i}", "community_code": HANJIANG,
                "checked_in_at": f"2024-0{m}-15 10:00", "points": 10}
               for i, m in enumerate([1, 1, 3, 5, 5, 5])]
    return [{"service_items": [{"item_code": "I1", "item_name": "事项", "promised_days": 3}],
             "service_cases": rows, "party_members": members}]


@pytest.fixture
def metrics_pair(tmp_path: Path, warehouse_url: str) -> tuple[Metrics, Metrics]:
    m = materialize({"tables": _cases()[0]}, tmp_path, warehouse_url)
    return m, Metrics(m.engine, m.catalog, use_rollups=False)


def _by_key(frame: Any) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in frame.to_dicts()}


def _count(month: str, extra: int = 0) -> float:
    return float(PER_MONTH.get(month, 0) + extra)


def test_by_month_lists_the_periods_months_compared_with_m_minus_1_and_m_minus_12(
        metrics_pair: tuple[Metrics, Metrics]) -> None:
    for m, how in zip(metrics_pair, ("rollups", "facts"), strict=True):
        d = m.district()
        q2 = _by_key(m.compute(["gov.case_count"], d, periods.parse("2024-Q2"), "month"))
        assert list(q2) == ["2024-04", "2024-05", "2024-06"], how
        assert q2["2024-04"]["value"] == _count("2024-04", 1), how  # 王寨's 00:10 case
        assert q2["2024-04"]["prev_value"] == _count("2024-03"), how
        assert q2["2024-04"]["delta_prev"] == _count("2024-04", 1) - _count("2024-03"), how
        assert q2["2024-05"]["delta_prev"] == _count("2024-05") - _count("2024-04", 1), how
        assert q2["2024-04"]["ly_value"] == 2.0 and q2["2024-05"]["delta_yoy"] == 5.0, how
        assert q2["2024-06"]["ly_value"] == 0.0, how  # no cases in 2023-06: a count of 0
        q1 = _by_key(m.compute(["gov.case_count"], d, periods.parse("2024-Q1"), "month"))
        assert list(q1) == ["2024-01", "2024-02", "2024-03"], how
        # the example: February's 环比 is February − January, not February − 0
        assert q1["2024-02"]["value"] == 8.0 and q1["2024-02"]["delta_prev"] == 8.0 - 3.0, how
        assert q1["2024-01"]["prev_value"] == 0.0, how  # 2023-12: no rows, a count of 0


def test_by_month_of_a_ratio_and_of_a_stock(metrics_pair: tuple[Metrics, Metrics]) -> None:
    for m, how in zip(metrics_pair, ("rollups", "facts"), strict=True):
        d = m.district()
        rate = _by_key(m.compute(["gov.online_case_rate"], d, periods.parse("2024-Q1"), "month"))
        # 2024-02: 高庄 2 online of 5, 王寨 0 of 3; 2024-01: 1 of 3
        assert rate["2024-02"]["numerator"] == 2.0 and rate["2024-02"]["denominator"] == 8.0
        assert rate["2024-02"]["delta_prev"] == pytest.approx(2 / 8 - 1 / 3), how
        stock = _by_key(m.compute(["party.checked_in_members"], d, periods.parse("2024-Q2"),
                                  "month"))
        # members checked in by each month's end, not check-ins of the month
        assert {k: r["value"] for k, r in stock.items()} == {
            "2024-04": 3.0, "2024-05": 6.0, "2024-06": 6.0}, how
        assert stock["2024-04"]["delta_prev"] == 0.0 and stock["2024-05"]["delta_prev"] == 3.0


def test_by_street_keeps_periods_apart(metrics_pair: tuple[Metrics, Metrics]) -> None:
    for m, how in zip(metrics_pair, ("rollups", "facts"), strict=True):
        d = m.district()
        q3 = _by_key(m.compute(["gov.case_count"], d, periods.parse("2024-Q3"), "street"))
        assert q3 == {}, how  # no cases in Q3 anywhere: no street has a row
        may = _by_key(m.compute(["gov.case_count"], d, periods.parse("2024-05"), "street"))
        # 王寨 had cases in April (prev) only: no row for May
        assert list(may) == ["420606001000"], how
        assert may["420606001000"]["prev_value"] == 4.0, how
        apr = _by_key(m.compute(["gov.case_count"], d, periods.parse("2024-04"), "street"))
        assert apr["420606002000"]["value"] == 1.0, how
        assert apr["420606002000"]["prev_value"] == 0.0, how  # none in March
        assert apr["420606001000"]["ly_value"] == 2.0, how


def test_by_month_of_a_week_across_a_months_end(metrics_pair: tuple[Metrics, Metrics]) -> None:
    for m, how in zip(metrics_pair, ("rollups", "facts"), strict=True):
        # 2024-W13: Mon 25 March - Sun 31 March; W14: 1-7 April: inside one month each
        week = _by_key(m.compute(["gov.case_count"], m.district(),
                                 periods.parse("2024-W14"), "month"))
        assert list(week) == ["2024-04"] and week["2024-04"]["value"] == 1.0, how
        # each part of a week across a month's end compares with the same days a week before
        split = _by_key(m.compute(["gov.case_count"], m.district(),
                                  periods.parse("2025-W05"), "month"))
        assert {k: (r["value"], r["prev_value"], r["ly_value"]) for k, r in split.items()} == {
            "2025-01": (2.0, 1.0, 0.0), "2025-02": (1.0, 0.0, 0.0)}, how


def test_cli_by_month_json(tmp_path: Path, sqlite_url: str) -> None:
    materialize({"tables": _cases()[0]}, tmp_path, sqlite_url).engine.dispose()
    res = CliRunner().invoke(cli, ["--config", str(tmp_path / "gongzhi.toml"), "kpi",
                                   "--period", "2024-Q1", "--by", "month", "--kpi",
                                   "gov.case_count", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [(r["key"], r["value"], r["delta_prev"]) for r in rows] == [
        ("2024-01", 3.0, 3.0), ("2024-02", 8.0, 5.0), ("2024-03", 2.0, -6.0)]


def test_sparklines_treat_stocks_like_flows(metrics_pair: tuple[Metrics, Metrics]) -> None:
    """A stock's sparkline has a point for each month with rows, like a flow's; none for
    months before its first row, none where it does not apply (a grid for data kept per
    community), and each point is the stock at the month's end."""
    from metrics import views
    from metrics.compiler import Scope

    m = metrics_pair[0]
    page = views.overview(m, m.district(), periods.parse("2024-03"))
    stock = page.sparklines.filter(page.sparklines["kpi"] == "party.checked_in_members")
    assert dict(zip(stock["month"], stock["value"], strict=True)) == {
        "2024-01": 2.0, "2024-02": 2.0, "2024-03": 3.0}
    grid = views.overview(m, Scope("grid", HANJIANG + "001", ""), periods.parse("2024-03"))
    assert "party.checked_in_members" not in set(grid.sparklines["kpi"].to_list())


def test_one_areas_statement_serves_the_next_with_its_own_figures(
        metrics_pair: tuple[Metrics, Metrics]) -> None:
    """A rollup statement's conditional sums are built once for every area (the dashboard
    opens a street after another); each area still gets its own figures, month by month and
    by community, as the facts give them."""
    from metrics import views
    from metrics.compiler import Scope
    from metrics.periods import month_range

    m, facts = metrics_pair
    ids = views.headline_ids(m)
    year = month_range(periods.parse("2024-06"), 12)
    han, wang = HANJIANG[:9] + "000", WANGZHAI[:9] + "000"
    cols = ["kpi", "key", "value", "sample"]
    seen: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for street in (han, wang):
        scope = Scope("street", street, "")
        for p, group in ((year, "month"), (periods.parse("2024-02"), "community")):
            got, want = (x.compute(ids, scope, p, group, compare=False)  # type: ignore[arg-type]
                         for x in (m, facts))
            seen[(street, group)] = got.select(cols).sort("kpi", "key").to_dicts()
            assert seen[(street, group)] == want.select(cols).sort("kpi", "key").to_dicts()
    # not the same figures twice: 汉江 has cases in every month, 王寨 in Q1 2024 only
    assert seen[(han, "month")] != seen[(wang, "month")]
    assert {r["key"] for r in seen[(wang, "community")]} == {WANGZHAI}
