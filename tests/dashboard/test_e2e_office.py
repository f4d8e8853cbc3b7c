"""综合考评, area targets and the monthly bulletin in a real headless Chromium against
``gongzhi serve`` on the demo warehouse: the overview's composite table shows what
``gongzhi rank`` computes, a leader sets a target on 目标管理, and 月度通报 generates a Word
file whose ranking table is the CLI's — each action audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gongzhi.cli import cli
from tests.dashboard import browser

pytestmark = pytest.mark.browser
PERIOD = "2025-05"


@pytest.fixture(scope="module", autouse=True)
def _need_browser() -> None:
    browser.require_browser()


@pytest.fixture(scope="module")
def config(demo_config: Path) -> Path:
    return demo_config


@pytest.fixture(scope="module")
def server(demo_server: str) -> str:
    return demo_server


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True,
                               locale="zh-CN")
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    ctx.close()


def gz(config: Path, *args: str) -> Any:
    res = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_overview_shows_the_composite_ranking(page: Any, server: str, config: Path) -> None:
    page.goto(f"{server}/?period={PERIOD}")
    browser.wait_cards(page, 3, timeout=60_000)
    page.get_by_role("tab", name="街道综合考评（红黑榜）").click()  # lazy: built when opened
    table = page.locator('[data-testid="stTable"] table').first
    table.wait_for()
    rows = table.locator("tbody tr")
    shown = [[c.strip() for c in rows.nth(i).locator("td, th").all_inner_texts()]
             for i in range(rows.count())]
    want = gz(config, "rank", "--period", PERIOD, "--format", "json")
    got = [(r[-7], r[-6], r[-5]) for r in shown]  # rank, area, score (an index may lead)
    assert got == [(str(r["rank"]) if r["rank"] else "—", r["name"],
                    f"{r['score']:.2f}" if r["score"] is not None else "—") for r in want]
    boards = {r[-6]: r[-2] for r in shown}
    assert {n for n, b in boards.items() if b == "红榜"} == {
        r["name"] for r in want if r["board"] == "top"}


def test_a_leader_sets_an_area_target(page: Any, server: str, config: Path) -> None:
    page.goto(f"{server}/targets?period={PERIOD}")
    page.get_by_role("heading", name="目标管理").first.wait_for()
    browser.pick(page, "指标", "网办率 (gov.online_case_rate)")
    browser.pick(page, "区域", "汉江街道")
    page.get_by_role("textbox", name="目标值").fill("75%")
    page.get_by_role("textbox", name="预警值").fill("60%")
    page.get_by_role("button", name="保存目标").click()
    page.get_by_text("已保存（第 1 版）").wait_for()
    listed = gz(config, "targets", "list", "--format", "json")
    assert [(r["kpi"], r["code"], r["target"], r["warning"], r["set_by"]) for r in listed] == [
        ("gov.online_case_rate", "420606001000", 0.75, 0.6, "demo")]
    row = gz(config, "kpi", "--period", PERIOD, "--street", "420606001000", "--kpi",
             "gov.online_case_rate", "--format", "json")[0]
    assert row["target"] == 0.75
    # a bad value is refused on the page, with the reason
    page.get_by_role("textbox", name="目标值").fill("175%")
    page.get_by_role("button", name="保存目标").click()
    page.get_by_text("未能保存").wait_for()


def test_the_bulletin_page_generates_a_word_file(page: Any, server: str, config: Path,
                                                 tmp_path: Path) -> None:
    import docx

    page.goto(f"{server}/bulletins?period={PERIOD}")
    page.get_by_role("button", name=f"生成樊城区 {PERIOD} 通报").click()
    page.get_by_text("已生成并归档").wait_for(timeout=120_000)
    with page.expect_download() as dl:
        page.get_by_role("button", name="下载刚生成的通报").click()
    path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(path)
    assert path.suffix == ".docx"
    doc = docx.Document(str(path))
    assert any("关于2025年5月基层治理重点指标情况的通报" in p.text for p in doc.paragraphs)
    names = [r.cells[1].text for r in doc.tables[1].rows[1:]]
    assert names == [r["name"] for r in gz(config, "rank", "--period", PERIOD,
                                            "--format", "json")]
    page.reload()
    page.get_by_text("通报归档").wait_for()
    with page.expect_download() as dl2:
        page.get_by_role("button", name="下载").first.click()
    assert dl2.value.suggested_filename == path.name
    from ingest.registry import load_validated
    from warehouse import audit
    from warehouse.engine import open_for_reading

    engine = open_for_reading(load_validated(config).warehouse_url)
    actions = [(e["username"], e["action"]) for e in audit.entries(engine)]
    assert ("demo", "bulletin_generate") in actions and ("demo", "bulletin_download") in actions
    engine.dispose()
