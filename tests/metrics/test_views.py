"""Page-level views: overview cards, sparklines, rankings, board, domain pages, heatmaps."""

from __future__ import annotations

from pathlib import Path

from metrics import periods, views
from tests.metrics.harness import CASES, load_case, materialize


def test_overview_and_domain_page(tmp_path: Path, sqlite_url: str) -> None:
    m = materialize(load_case(CASES / "gov.yaml"), tmp_path, sqlite_url)
    may = periods.parse("2024-05")
    ov = views.overview(m, m.district(), may)
    cards = {r["kpi"]: r for r in ov.cards.to_dicts()}
    assert set(cards) == set(views.headline_ids(m))
    assert cards["gov.online_case_rate"]["value"] == 0.4
    spark = ov.sparklines.filter(ov.sparklines["kpi"] == "gov.online_case_rate")
    assert spark["month"].to_list() == ["2024-04", "2024-05"]  # months with cases
    assert spark["value"].to_list() == [0.0, 0.4]
    ranking = ov.ranking.filter(ov.ranking["kpi"] == "gov.online_case_rate")
    assert dict(zip(ranking["key"], ranking["value"], strict=True)) == {
        "420606001000": 0.25, "420606002000": 1.0}
    board = ov.board.filter(ov.board["kpi"] == "gov.online_case_rate")
    assert set(board["key"]) == {"420606001001", "420606001002", "420606002001"}
    assert board["status"].to_list() == [None, None, None]  # samples too small for a colour

    page = views.domain_page(m, "gov", m.scope("street", "汉江街道"), may)
    assert set(page.kpis["kpi"]) == set(views.domain_ids(m, "gov"))
    by = page.ranking.filter(page.ranking["kpi"] == "gov.case_count")
    assert dict(zip(by["key"], by["value"], strict=True)) == {"420606001001": 2.0,
                                                              "420606001002": 2.0}
    trend = page.trend.filter(page.trend["kpi"] == "gov.case_count")
    assert trend.filter(trend["month"] == "2024-05")["value"].to_list() == [4.0]

    heat = views.heatmap(m, "gov.case_count", m.district(), may, months=2)
    assert heat.filter(heat["month"] == "2024-05").sort("area")["value"].to_list() == [4.0, 1.0]


def test_detail_rows_are_paged_scoped_and_labelled(tmp_path: Path, sqlite_url: str) -> None:
    from metrics import detail

    m = materialize(load_case(CASES / "gov.yaml"), tmp_path, sqlite_url)
    may = periods.parse("2024-05")
    street = m.scope("street", "汉江街道")
    assert detail.count(m.engine, "gov", street, may) == 4
    page = detail.rows(m.engine, "gov", street, may, offset=0, limit=3)
    assert page["case_id"].to_list() == ["S4", "S3", "S2"]  # newest first
    names = dict(zip(m.divisions()["code"], m.divisions()["short_name"], strict=True))
    shown = detail.labelled(page, "gov", "zh", names)
    assert shown["社区"].to_list() == ["刘埂社区", "刘埂社区", "高庄社区"]
    assert shown["受理时间"].to_list()[0] == "2024-05-20 09:00"  # local time
    rest = detail.rows(m.engine, "gov", street, may, offset=3, limit=3)
    assert rest["case_id"].to_list() == ["S1"]
