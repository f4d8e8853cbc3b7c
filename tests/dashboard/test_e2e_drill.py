"""In headless Chromium: from a red card to the rows behind it. Click the card's 查看明细, see
the numerator's rows counted, go to the second page (served a page at a time: the audit log
shows the offset), switch to the denominator, and export: the CSV holds exactly the rows
behind the figure."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard import browser
from tests.differential import harness as h
from tests.differential.world import generate

pytestmark = pytest.mark.browser
PERIOD = "2025-Q2"
KPI = "grid.closure_rate"


@pytest.fixture(scope="module", autouse=True)
def _need_browser() -> None:
    browser.require_browser()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("e2e_drill")
    cfg = h.build(generate(h.SEED, 1.5), folder, f"sqlite:///{folder / 'warehouse.db'}")
    with cfg.open("a", encoding="utf-8") as f:
        f.write('\n[dashboard]\nsign_in = "open"\n')
    return cfg


@pytest.fixture(scope="module")
def server(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("e2e_drill_log") / "serve.log"
    with browser.serve(warehouse, log=log) as (base, _):
        yield base


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser.chromium() as b:
        yield b


def _truth(cfg: Path) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The card's figure and the event ids behind each part, from the metrics layer."""
    from ingest.registry import load_validated
    from metrics import drill, periods
    from metrics.service import Metrics
    from warehouse.engine import make_engine

    m = Metrics(make_engine(load_validated(cfg).warehouse_url))
    p = periods.parse(PERIOD)
    card = m.compute([KPI], m.district(), p).row(0, named=True)
    kpi = m.catalog.get(KPI)
    ids = {part: sorted(drill.export(m.engine, kpi, drill.Figure(KPI, part, m.district(), p))
                        [0]["event_id"].to_list()) for part in ("numerator", "denominator")}
    m.engine.dispose()
    return card, ids


def _audited(cfg: Path) -> list[dict[str, Any]]:
    from ingest.registry import load_validated
    from warehouse import audit
    from warehouse.engine import make_engine

    eng = make_engine(load_validated(cfg).warehouse_url)
    try:
        return [e for e in audit.entries(eng, limit=100)
                if e["target"].startswith(f"drill:{KPI}")]
    finally:
        eng.dispose()


def test_a_red_card_opens_its_rows_pages_and_exports(chromium: Any, server: str,
                                                    warehouse: Path) -> None:
    card, ids = _truth(warehouse)
    assert card["status"] == "red" and card["numerator"] == len(ids["numerator"]) > 50
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True,
                               locale="zh-CN")
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{server}/?period={PERIOD}")
        box = page.locator(f".st-key-card_{KPI.replace('.', '_')}")
        box.get_by_text("落后（红）").wait_for()  # the card is red
        box.get_by_role("link", name="查看明细").click()
        page.get_by_role("heading", name="明细核查").wait_for()
        n = len(ids["numerator"])
        page.get_by_text(f"共 {n} 条记录").wait_for()
        browser.wait_query(page, f"kpi={KPI}")
        browser.wait_query(page, "part=numerator")
        page.locator('[data-testid="stDataFrame"]').first.wait_for()  # the rows' table
        # the second page is fetched from the server (rows 51-…), and its view audited
        pager = page.get_by_label("页码（共 2 页）")
        pager.fill("2")
        pager.press("Enter")
        for _ in range(100):
            offsets = [json.loads(e["filters"]).get("offset") for e in _audited(warehouse)
                       if e["action"] == "view_rows"]
            if 50 in offsets:
                break
            page.wait_for_timeout(200)
        assert 0 in offsets and 50 in offsets, offsets
        # the denominator's rows, exported
        page.get_by_text("分母", exact=True).click()
        page.get_by_text(f"共 {len(ids['denominator'])} 条记录").wait_for()
        browser.script_done(page)  # the export button of the finished run, not a rerun's
        with page.expect_download() as got:
            page.get_by_role("button", name="导出 CSV").click()
        raw = Path(got.value.path()).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(raw[3:].decode("utf-8"))))
        assert sorted(r["事件编号"] for r in rows) == ids["denominator"]
        assert page.locator('[data-testid="stException"]').count() == 0
        exports = [e for e in _audited(warehouse) if e["action"] == "export"]
        assert exports and exports[0]["row_count"] == len(ids["denominator"])
    finally:
        ctx.close()
