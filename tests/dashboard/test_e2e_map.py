"""The map in a real headless Chromium: a click on a street shows its communities (drill-down
by click), a click under an event hexagon drills into the street under the pointer (not the
one at the hexagon's centre), and street staff get only their own street's polygons, whatever
the URL asks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from dashboard.components import geomap
from ingest.registry import load_validated
from tests.dashboard import browser
from tests.dashboard.conftest import copy_demo
from warehouse import accounts
from warehouse.engine import open_warehouse

pytestmark = pytest.mark.browser

PASSWORD = "Map-test-passw0rd"
HANJIANG, WANGZHAI = "420606001000", "420606002000"
PERIOD = "2024-12"
PATHS = "[class*='st-key-geomap_'] .vega-embed svg path[aria-label*='区域']"
LABELS_JS = f"""() => [...document.querySelectorAll("{PATHS}")]
    .map(p => (p.getAttribute('aria-label').match(/区域: ([^;]+)/) || [])[1])"""
# a point inside the path (not in a hole, not under another mark), in page coordinates
INSIDE_JS = """label => {
  const p = [...document.querySelectorAll(arguments_paths)]
      .find(x => x.getAttribute('aria-label').includes('区域: ' + label + ';'));
  const svg = p.ownerSVGElement, r = p.getBoundingClientRect(), pt = svg.createSVGPoint();
  const m = p.getScreenCTM().inverse();
  for (let i = 1; i < 24; i++) for (let j = 1; j < 24; j++) {
    const x = r.x + r.width * i / 24, y = r.y + r.height * j / 24;
    pt.x = x; pt.y = y;
    if (p.isPointInFill(pt.matrixTransform(m)) && document.elementFromPoint(x, y) === p)
      return [x, y];
  }
  return null; }""".replace("arguments_paths", f'"{PATHS}"')


@pytest.fixture(scope="module", autouse=True)
def _need_browser() -> None:
    browser.require_browser()


@pytest.fixture(scope="module")
def config(office_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's demo warehouse (every source loaded, the polygons of every
    level among them), signed in."""
    cfg = copy_demo(office_demo, tmp_path_factory.mktemp("map_e2e"))
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('sign_in = "open"',
                                                           'sign_in = "required"'),
                   encoding="utf-8")
    eng = open_warehouse(load_validated(cfg).warehouse_url)
    accounts.add_user(eng, "boss", PASSWORD, "leader", "420606000000", "区领导")
    accounts.add_user(eng, "jd", PASSWORD, "street_staff", HANJIANG, "汉江街道 工作人员")
    eng.dispose()
    return cfg


@pytest.fixture(scope="module")
def server(config: Path) -> Iterator[str]:
    with browser.serve(config, log=config.parent / "serve.log") as (base, _):
        yield base


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser.chromium() as b:
        yield b


def names(config: Path, level: str, prefix: str = "") -> set[str]:
    """Short names of the active, real divisions of ``level`` under ``prefix`` (from the
    warehouse, not from the dashboard)."""
    eng = open_warehouse(load_validated(config).warehouse_url)
    with eng.connect() as c:
        d = pl.read_database("SELECT code, short_name, level, placeholder FROM divisions", c)
    eng.dispose()
    return set(d.filter((pl.col("level") == level) & ~pl.col("placeholder").cast(pl.Boolean)
                        & pl.col("code").str.starts_with(prefix))["short_name"])


def signed_in(chromium: Any, base: str, user: str, path: str) -> Any:
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1100}, locale="zh-CN")
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{base}{path}")
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    return page


def drawn_areas(page: Any, want: set[str]) -> set[str]:
    """Wait until the map's polygons are exactly ``want`` (by name); return what is drawn."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(f"want => {{ const got = ({LABELS_JS})();"
                               " return got.length === want.length && "
                               "want.every(n => got.includes(n)); }", arg=sorted(want),
                               timeout=30_000, polling=100)
    return set(page.evaluate(LABELS_JS))


def test_a_click_on_a_street_shows_its_communities(chromium: Any, server: str,
                                                   config: Path) -> None:
    page = signed_in(chromium, server, "boss", f"/map?period={PERIOD}&kpi=grid.closure_rate")
    streets = names(config, "street")
    assert drawn_areas(page, streets) == streets
    xy = page.evaluate(INSIDE_JS, "汉江街道")
    assert xy is not None
    page.mouse.click(*xy)
    browser.wait_query(page, f"street={HANJIANG}")
    communities = names(config, "community", HANJIANG[:9])
    assert drawn_areas(page, communities) == communities
    page.context.close()


def test_street_staff_see_only_their_own_polygons(chromium: Any, server: str,
                                                  config: Path) -> None:
    own = names(config, "community", HANJIANG[:9])
    page = signed_in(chromium, server, "jd", f"/map?period={PERIOD}")
    assert drawn_areas(page, own) == own
    # a link to another street does not show it: the view stays inside the staff's area
    page.goto(f"{server}/map?period={PERIOD}&street={WANGZHAI}")
    page.wait_for_timeout(1500)
    drawn = set(page.evaluate(LABELS_JS))
    assert drawn <= own
    assert not drawn & names(config, "community", WANGZHAI[:9])
    page.context.close()


# a point covered by an event hexagon whose street is not the street at the hexagon's centre
# (a hexagon across a border): where a click must go to the street under the pointer
HEX_JS = f"""() => {{
  const hexes = [...document.querySelectorAll("[class*='st-key-geomap_'] .vega-embed svg "
                                               + ".{geomap.HEX_LAYER}_marks path")];
  const areas = [...document.querySelectorAll("{PATHS}")];
  const pt = areas[0].ownerSVGElement.createSVGPoint();
  const inside = (p, x, y) => {{ pt.x = x; pt.y = y;
    return p.isPointInFill(pt.matrixTransform(p.getScreenCTM().inverse())); }};
  const name = p => {{ const m = p && (p.getAttribute('aria-label') || '')
    .match(/区域: ([^;]+)/); return m && m[1]; }};
  const under = (x, y) => name(areas.find(p => inside(p, x, y)));
  for (const hex of hexes) {{
    const r = hex.getBoundingClientRect(), cx = r.x + r.width / 2, cy = r.y + r.height / 2;
    const centre = under(cx, cy);
    if (!centre) continue;
    for (let i = 2; i < 15; i++) for (let j = 2; j < 15; j++) {{
      const x = r.x + r.width * i / 16, y = r.y + r.height * j / 16;
      const street = under(x, y);
      if (street && street !== centre && inside(hex, x, y))
        return {{x, y, hexes: hexes.length, centre, street,
                 top: name(document.elementFromPoint(x, y).closest('path'))}};
    }}
  }}
  return {{hexes: hexes.length}};
}}"""


def test_a_click_on_an_area_under_an_event_hexagon_drills_into_that_area(
        chromium: Any, server: str, config: Path) -> None:
    """Hexagons are drawn over the areas and take no clicks: a click on a point of a street
    that a hexagon centred in another street covers goes to the street under the pointer."""
    page = signed_in(chromium, server, "boss", f"/map?period={PERIOD}&kpi=grid.closure_rate")
    streets = names(config, "street")
    assert drawn_areas(page, streets) == streets
    page.wait_for_function("() => document.querySelectorAll(\"[class*='st-key-geomap_'] "
                           f".{geomap.HEX_LAYER}_marks path\").length > 0", timeout=30_000)
    hit = page.evaluate(HEX_JS)
    assert hit["hexes"] > 5 and hit.get("street"), hit
    assert hit["top"] == hit["street"], hit  # the hexagon lets the pointer through
    page.mouse.click(hit["x"], hit["y"])
    eng = open_warehouse(load_validated(config).warehouse_url)
    with eng.connect() as c:
        code = c.exec_driver_sql("SELECT code FROM divisions WHERE level = 'street' "
                                 "AND short_name = ?", (hit["street"],)).scalar_one()
    eng.dispose()
    browser.wait_query(page, f"street={code}")
    page.context.close()


def test_no_other_site_may_steer_the_dashboard_from_a_frame(server: str) -> None:
    """Streamlit's default lets Community Cloud's domains send a framed app stop, rerun and
    auth messages; the dashboard allows none (and its page then checks its own messages
    against no URL patterns: .streamlit/config.toml)."""
    import json
    import urllib.request

    with urllib.request.urlopen(server + "/_stcore/host-config", timeout=10) as r:
        assert json.load(r)["allowedOrigins"] == []
