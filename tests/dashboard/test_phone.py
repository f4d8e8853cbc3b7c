"""The dashboard on a phone (政务微信 / 钉钉 open links in a mobile browser): Chromium with mobile
emulation at 390×844 (touch, a phone's pixel ratio). The overview, a domain page and the map
never scroll sideways, the KPI cards sit one or two to a row inside the screen, the map fits
the screen's width, and a tap drills down: on a row of the overview's ranking table, on a bar
of a domain page's ranking chart, on a polygon of the map."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ingest.registry import load_validated
from ingest.runner import Runner
from tests.dashboard import browser
from tests.dashboard.conftest import HANJIANG, PERIOD, build_case_warehouse
from tests.dashboard.test_e2e_map import INSIDE_JS, LABELS_JS
from warehouse.engine import open_warehouse

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


def add_boundaries(cfg: Path) -> dict[str, set[str]]:
    """Load test polygons for the case warehouse's district, streets and communities through
    the geo plugin (rectangles: streets in a 6-wide grid, each street's communities in strips
    across it); return the real divisions' short names by level and parent."""
    from shapely.geometry import box, mapping

    settings = load_validated(cfg)
    eng = open_warehouse(settings.warehouse_url)
    with eng.connect() as c:
        divs = pl.read_database("SELECT code, short_name, level, parent_code, placeholder "
                                "FROM divisions WHERE active", c)
    x0, y0, w, h = 111.9, 32.0, 0.05, 0.04
    streets = divs.filter(pl.col("level") == "street").sort("code")
    rows = -(-streets.height // 6)
    shapes: dict[str, dict[str, Any]] = {
        "district": {divs.filter(pl.col("level") == "district")["code"][0]:
                     box(x0, y0, x0 + 6 * w, y0 + rows * h)}, "street": {}, "community": {}}
    for i, code in enumerate(streets["code"]):
        sx, sy = x0 + (i % 6) * w, y0 + (rows - 1 - i // 6) * h
        shapes["street"][code] = box(sx, sy, sx + w, sy + h)
        kids = divs.filter(pl.col("parent_code") == code).sort("code")["code"]
        for j, kid in enumerate(kids):
            step = h / len(kids)
            shapes["community"][kid] = box(sx, sy + j * step, sx + w, sy + (j + 1) * step)
    with cfg.open("a", encoding="utf-8") as f:
        for level, polys in shapes.items():
            path = cfg.parent / f"{level}.geojson"
            path.write_text(json.dumps({"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {"code": k}, "geometry": mapping(g)}
                for k, g in polys.items()]}), encoding="utf-8")
            f.write(f'\n[[sources]]\nid = "geo_{level}"\nplugin = "geo"\npath = "{path.name}"'
                    f'\nvintage = "2024-01-01"'
                    f'\nlevel = "{level}"\ncode_property = "code"\n')
    results = Runner(load_validated(cfg), eng).run([f"geo_{lv}" for lv in shapes])
    eng.dispose()
    assert all(r.ok for r in results), [r.error for r in results]
    real = divs.filter(~pl.col("placeholder").cast(pl.Boolean))
    return {"street": set(real.filter(pl.col("level") == "street")["short_name"]),
            "community": set(real.filter(pl.col("parent_code") == HANJIANG)["short_name"])}


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[str]]]:
    cfg = build_case_warehouse(tmp_path_factory.mktemp("phone_cases"))
    return cfg, add_boundaries(cfg)


@pytest.fixture(scope="module")
def server(cases: tuple[Path, dict[str, set[str]]]) -> Iterator[str]:
    cfg = cases[0]
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


def test_a_tap_on_a_ranking_bar_drills_down(phone: Any, server: str) -> None:
    phone.goto(f"{server}/gov?period={PERIOD}")
    browser.wait_cards(phone, 3)
    bar = phone.locator('path[aria-roledescription="bar"][aria-label*="区域: 汉江街道;"]')
    bar.first.scroll_into_view_if_needed()
    phone.wait_for_timeout(300)  # the scroll settles before the tap
    box = bar.first.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box  # the whole bar on screen
    phone.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    browser.wait_query(phone, f"street={HANJIANG}")
    browser.wait_cards(phone, 3)


def _drawn(page: Any, want: set[str]) -> set[str]:
    page.wait_for_function(f"want => {{ const got = ({LABELS_JS})();"
                           " return got.length === want.length && "
                           "want.every(n => got.includes(n)); }", arg=sorted(want),
                           timeout=30_000, polling=100)
    return set(page.evaluate(LABELS_JS))


def test_the_map_fits_a_phone_and_a_tap_drills_down(
        phone: Any, server: str, cases: tuple[Path, dict[str, set[str]]]) -> None:
    names = cases[1]
    phone.goto(f"{server}/map?period={PERIOD}")
    assert _drawn(phone, names["street"]) == names["street"]
    svg = phone.locator("[class*='st-key-geomap_'] .vega-embed svg").first
    box = svg.bounding_box()
    # the whole map inside the screen, scaled down whole (its 760 × 540 aspect kept)
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert box["width"] >= 300 and box["height"] == pytest.approx(box["width"] * 540 / 760,
                                                                  abs=2), box
    o = phone.evaluate(OVERFLOW_JS)
    assert o["doc"] <= o["width"] and o["main"] <= o["mainClient"], o
    svg.scroll_into_view_if_needed()  # a point on screen: elementFromPoint sees only those
    phone.wait_for_timeout(300)
    xy = phone.evaluate(INSIDE_JS, "汉江街道")
    assert xy is not None
    phone.touchscreen.tap(*xy)
    browser.wait_query(phone, f"street={HANJIANG}")
    assert _drawn(phone, names["community"]) == names["community"] and names["community"]
    o = phone.evaluate(OVERFLOW_JS)
    assert o["doc"] <= o["width"] and o["main"] <= o["mainClient"], o
