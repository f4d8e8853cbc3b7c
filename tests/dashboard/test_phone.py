"""The dashboard on a phone (政务微信 / 钉钉 open links in a mobile browser): Chromium with mobile
emulation at 390×844 (touch, a phone's pixel ratio). The overview and a domain page never
scroll sideways, the KPI cards sit one or two to a row inside the screen, and a tap drills
down (a tap on a row of the overview's ranking table)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard import browser
from tests.dashboard.conftest import PERIOD, build_case_warehouse

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3,
         "is_mobile": True, "has_touch": True, "locale": "zh-CN",
         "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                       "(KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36 wxwork/4.1"}
OVERFLOW_JS = """() => {
    const doc = document.scrollingElement, main = document.querySelector('[data-testid="stMain"]');
    return {doc: doc.scrollWidth, main: main.scrollWidth, mainClient: main.clientWidth,
            width: innerWidth}; }"""
ROWS_JS = """() => {
    const boxes = [...document.querySelectorAll('[class*="st-key-card_"]')]
        .map(e => e.getBoundingClientRect());
    const rows = {};
    for (const b of boxes) { const k = Math.round(b.top); (rows[k] = rows[k] || []).push(b); }
    return {rows: Object.values(rows).map(r => r.length),
            left: Math.min(...boxes.map(b => b.left)), right: Math.max(...boxes.map(b => b.right))};
}"""


@pytest.fixture(scope="module", autouse=True)
def _need_browser() -> None:
    browser.require_browser()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cfg = build_case_warehouse(tmp_path_factory.mktemp("phone_cases"))
    with browser.serve(cfg, log=cfg.parent / "serve.log") as (base, _):
        yield base


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser.chromium() as b:
        yield b


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    ctx = chromium.new_context(**PHONE)
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    ctx.close()


def _fits(page: Any) -> None:
    """No sideways scrolling, and every card inside the screen, one or two to a row."""
    o = page.evaluate(OVERFLOW_JS)
    assert o["width"] == 390
    assert o["doc"] <= o["width"] and o["main"] <= o["mainClient"], o
    r = page.evaluate(ROWS_JS)
    assert r["rows"] and all(n in (1, 2) for n in r["rows"]), r
    assert 2 in r["rows"], r  # two to a row where two fit
    assert r["left"] >= 0 and r["right"] <= o["width"], r


@pytest.mark.parametrize("path", ["", "gov"])
def test_pages_fit_a_phone(phone: Any, server: str, path: str) -> None:
    phone.goto(f"{server}/{path}?period={PERIOD}")
    browser.wait_cards(phone, 3)
    phone.wait_for_timeout(500)  # let the rows settle
    _fits(phone)
    # scrolled to the bottom (charts and tables drawn), still nothing sideways
    phone.locator('[data-testid="stDataFrame"], [data-testid="stVegaLiteChart"]').first.wait_for()
    phone.mouse.wheel(0, 20_000)
    phone.wait_for_timeout(500)
    o = phone.evaluate(OVERFLOW_JS)
    assert o["doc"] <= o["width"] and o["main"] <= o["mainClient"], o
    assert phone.locator('[data-testid="stException"]').count() == 0


def test_a_tap_on_a_ranking_row_drills_down(phone: Any, server: str) -> None:
    phone.goto(f"{server}/?period={PERIOD}")
    browser.wait_cards(phone, 3)
    grid = phone.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    grid.wait_for()
    box = grid.bounding_box()
    phone.touchscreen.tap(box["x"] + 18, box["y"] + 35 + 17)  # the first row's selection box
    browser.wait_query(phone, "street=420606")
    browser.wait_cards(phone, 3)
    _fits(phone)  # the street's page fits too
