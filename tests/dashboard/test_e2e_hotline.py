"""The 12345 page in a real headless Chromium against ``gongzhi serve``: reached from the
navigation the semantic layer builds, its cards drawn with the figures metrics computes, and
its CSV export holding exactly the period's requests with free text masked."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard import browser
from tests.dashboard.conftest import PERIOD
from tests.metrics.harness import CASES, load_case, materialize

pytestmark = pytest.mark.browser
CASE = load_case(CASES / "hotline.yaml")


@pytest.fixture(scope="module", autouse=True)
def _need_browser() -> None:
    browser.require_browser()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("e2e_hotline")
    m = materialize(CASE, folder, f"sqlite:///{folder / 'warehouse.db'}")
    m.engine.dispose()
    cfg = folder / "gongzhi.toml"
    with cfg.open("a", encoding="utf-8") as f:
        f.write('\n[dashboard]\nsign_in = "open"\n')
    with browser.serve(cfg, log=folder / "serve.log") as (base, _):
        yield base, cfg


@pytest.fixture
def page(server: tuple[str, Path], chromium: Any) -> Iterator[Any]:
    ctx = chromium.new_context(viewport={"width": 1400, "height": 2400}, accept_downloads=True,
                               locale="zh-CN")
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    ctx.close()


def test_the_12345_page_in_chromium(page: Any, server: tuple[str, Path]) -> None:
    base, cfg = server
    page.goto(f"{base}/?period={PERIOD}")
    browser.wait_cards(page, 3)
    page.get_by_role("link", name="12345热线").click()  # the navigation built from the layer
    page.wait_for_function("() => document.querySelector('h1')?.innerText === '12345热线'")
    browser.wait_cards(page, 6)
    from ingest.registry import load_validated
    from metrics import format as fmt
    from metrics import periods
    from metrics.service import Metrics
    from warehouse.engine import make_engine

    m = Metrics(make_engine(load_validated(cfg).warehouse_url))
    ids = [k.id for k in m.catalog.by_domain("hotline")]
    frame = m.compute(ids, m.district(), periods.parse(PERIOD))
    want = {r["kpi"].replace(".", "_"): fmt.value(r["value"], r["unit"], "zh")
            for r in frame.to_dicts()}
    m.engine.dispose()
    assert browser.wait_for_cards(page, want) == want
    page.get_by_text("本期诉求类别前十").wait_for()
    may = [r for r in CASE["tables"]["hotline_requests"]
           if str(r["received_at"]).startswith(PERIOD)]
    page.get_by_text(f"共 {len(may)} 条记录").wait_for()
    with page.expect_download() as got:
        page.get_by_role("button", name="导出 CSV").click()
    raw = Path(got.value.path()).read_bytes()
    rows = list(csv.DictReader(io.StringIO(raw[3:].decode("utf-8"))))
    assert sorted(r["工单编号"] for r in rows) == sorted(r["request_id"] for r in may)
    content = {r["工单编号"]: r["诉求内容"] for r in rows}
    assert content["R1"] == "电梯坏了，联系电话138****8000"
    assert b"13812348000" not in raw
    assert page.locator('[data-testid="stException"]').count() == 0
