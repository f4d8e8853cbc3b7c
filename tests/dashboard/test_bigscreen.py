"""The 首屏 big screen in a real headless Chromium against ``gongzhi serve``: at 1920×1080 and
3840×2160 it fills the window with no sidebar, menu or scrolling and figures readable from
5 m; its figures, ranking and three-colour counts equal ``gongzhi kpi --format json``, its
红黑榜 ``gongzhi rank --format json``, and the map is in its centre; the
domains take turns; a new run redraws it without a reload; a street's staff see their street.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard import browser
from tests.dashboard.conftest import HANJIANG, PERIOD, build_case_warehouse

pytestmark = pytest.mark.browser
ROTATE = 5  # seconds per domain in these tests ([screen] rotate_seconds)
CARDS_JS = r"""() => Object.fromEntries(
    [...document.querySelectorAll('[class*="st-key-screencard_"]')].map(el => [
        [...el.classList].find(c => c.startsWith('st-key-screencard_'))
            .replace(/^st-key-screencard_(blue|yellow|red|grey)_/, ''),
        el.querySelector('[data-testid="stMetricValue"]')?.innerText.trim()]))"""
SCROLLS_JS = """() => {
    const doc = document.scrollingElement, main = document.querySelector('[data-testid="stMain"]');
    return {docW: doc.scrollWidth, docH: doc.scrollHeight, w: innerWidth, h: innerHeight,
            mainW: main.scrollWidth, mainH: main.scrollHeight,
            mainCW: main.clientWidth, mainCH: main.clientHeight}; }"""


@pytest.fixture(scope="module", autouse=True)
def _need_browser() -> None:
    browser.require_browser()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = build_case_warehouse(tmp_path_factory.mktemp("screen_cases"))
    with cfg.open("a", encoding="utf-8") as f:
        f.write(f"\n[screen]\nrotate_seconds = {ROTATE}\n")
    street_boxes(cfg.parent / "warehouse.db")
    return cfg


def street_boxes(db: Path) -> None:
    """A square boundary per street of the case warehouse (as the geo plugin stores them), so
    the wall has a map to put in its centre."""
    con = sqlite3.connect(db)
    with con:
        cols = con.execute("PRAGMA table_info(geometries)").fetchall()
        streets = [r[0] for r in con.execute(
            "SELECT code FROM divisions WHERE level = 'street' ORDER BY code")]
        for i, code in enumerate(streets):
            x, y = 112.0 + 0.05 * i, 32.0
            # clockwise, as the geo plugin stores rings (Vega's spherical rule: the inside
            # is on the right)
            ring = [[x, y], [x, y + 0.04], [x + 0.04, y + 0.04], [x + 0.04, y], [x, y]]
            row: dict[str, Any] = {
                "code": code, "vintage": "2024-01-01", "level": "street",
                "geometry": json.dumps({"type": "Polygon", "coordinates": [ring]}),
                "bbox": f"{x},{y},{x + 0.04},{y + 0.04}", "area_km2": 16.0,
                "note": "test squares"}
            for _, name, kind, notnull, default, _pk in cols:  # lineage columns of a run
                if name not in row and notnull and default is None:
                    row[name] = 0 if "INT" in kind.upper() else "2024-01-01 00:00:00"
            con.execute(f"INSERT INTO geometries ({', '.join(row)}) VALUES "
                        f"({', '.join('?' * len(row))})", list(row.values()))
    con.close()


@pytest.fixture(scope="module")
def server(warehouse: Path) -> Iterator[str]:
    env = {"GONGZHI_REFRESH_SECONDS": "1", "GONGZHI_REFRESH_SPREAD_SECONDS": "0"}
    with browser.serve(warehouse, env=env, log=warehouse.parent / "serve.log") as (base, _):
        yield base


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser.chromium() as b:
        yield b


def _page(chromium: Any, width: int, height: int) -> Any:
    ctx = chromium.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    return pg


def cli_kpis(config: Path, *extra: str) -> list[dict[str, Any]]:
    """``gongzhi kpi --format json`` for May 2024 (the independent reading)."""
    out = subprocess.run([str(browser.GONGZHI), "--config", str(config), "kpi", "--period",
                          PERIOD, "--format", "json", *extra], check=True, capture_output=True,
                         text=True, cwd=browser.REPO)
    return list(json.loads(out.stdout))


def expected_cards(config: Path, domain: str, level: str = "district",
                   *extra: str) -> dict[str, str]:
    """The cards the wall must show for ``domain``: the domain's KPIs defined at ``level``,
    headline ones first, at most 8 (the default [screen] cards_per_domain), with the values
    the CLI gives, formatted as the cards format them."""
    from metrics import format as fmt
    from metrics.catalog import load_catalog

    cat = load_catalog()
    rows = {r["kpi"]: r for r in cli_kpis(config, *extra)}
    ids = [k.id for k in cat.by_domain(domain) if level in k.scopes]
    ids = sorted(ids, key=lambda i: not cat.get(i).headline)[:8]
    return {i.replace(".", "_"): fmt.value(rows[i]["value"], rows[i]["unit"], "zh") for i in ids}


def drawn_cards(page: Any) -> dict[str, str]:
    return dict(page.evaluate(CARDS_JS))


def wait_domain(page: Any, label: str, timeout: float = 30_000) -> None:
    """Wait until the title bar names ``label`` as the domain on the wall."""
    page.wait_for_function(
        "l => (document.querySelector('.st-key-screen_domain')?.innerText || '').startsWith(l)",
        arg=label + " ", timeout=timeout, polling=50)


def consistent_cards(page: Any, config: Path, domain: str, level: str = "district",
                     *extra: str, timeout: float = 60.0) -> dict[str, str]:
    """Wait until the wall shows ``domain`` with exactly the cards the CLI gives; one reading
    of the title bar and the cards at a time (the wall turns every few seconds)."""
    import time

    from metrics.catalog import load_catalog

    label = load_catalog().domains[domain].label.zh
    want = expected_cards(config, domain, level, *extra)
    deadline = time.monotonic() + timeout
    snap: dict[str, Any] = {}
    while time.monotonic() < deadline:
        snap = page.evaluate(f"() => ({{domain: document.querySelector('.st-key-screen_domain')"
                             f"?.innerText.trim() || '', cards: ({CARDS_JS})()}})")
        if snap["domain"].startswith(label + " ") and snap["cards"] == want:
            return want
        page.wait_for_timeout(100)
    raise AssertionError(f"the wall never showed {domain} as the CLI: {snap} != {want}")


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160)])
def test_the_wall_fills_the_window_with_the_cli_figures(chromium: Any, server: str,
                                                       warehouse: Path, width: int,
                                                       height: int) -> None:
    page = _page(chromium, width, height)
    page.goto(f"{server}/screen?period={PERIOD}")
    want = consistent_cards(page, warehouse, "gov")
    assert want["gov_online_case_rate"] == "40.0%"  # by hand: 2 of the 5 May cases online
    # no sidebar, menu, toolbar or header, nor an error
    for testid in ("stSidebar", "stSidebarNav", "stToolbar", "stHeader"):
        assert page.locator(f'[data-testid="{testid}"]').evaluate_all(
            "els => els.filter(e => e.offsetParent !== null && e.offsetHeight > 0).length") == 0
    assert page.locator('[data-testid="stException"]').count() == 0
    # no scrolling, either way, in the document or in Streamlit's main area
    s = page.evaluate(SCROLLS_JS)
    assert s["docW"] <= s["w"] and s["docH"] <= s["h"], s
    assert s["mainW"] <= s["mainCW"] and s["mainH"] <= s["mainCH"], s
    # everything is inside the window (nothing cut off below the ticker)
    bottom = page.evaluate("() => Math.max(...[...document.querySelectorAll("
                           "'[class*=\"st-key-screencard_\"], .st-key-screen_ticker')]"
                           ".map(e => e.getBoundingClientRect().bottom))")
    assert bottom <= height
    # readable from 5 m: headline figures at least 48 px at 1080p, scaled with the wall
    figures = page.locator('[class*="st-key-screencard_"] [data-testid="stMetricValue"]')
    sizes = figures.evaluate_all("els => els.map(e => parseFloat(getComputedStyle(e).fontSize))")
    assert sizes and min(sizes) >= 48 * height / 1080
    page.context.close()


def test_ranking_and_colour_counts_equal_the_cli(chromium: Any, server: str,
                                                 warehouse: Path) -> None:
    from metrics import format as fmt
    from metrics.catalog import load_catalog
    from metrics.compiler import area_level

    page = _page(chromium, 1920, 1080)
    page.goto(f"{server}/?screen=1&period={PERIOD}")
    wait_domain(page, "政务服务")
    # one reading of the wall (the domains turn every few seconds)
    snap = page.wait_for_function(f"() => {{ try {{ const s = ({SNAPSHOT_JS})(); "
                                  "return s.rows.length ? s : null; } catch (e) { return null; } }",
                                  polling=50).json_value()
    cat = load_catalog()
    domain = next(d for d, v in cat.domains.items() if snap["domain"].startswith(v.label.zh))
    label = snap["title"].split("·", 1)[1].strip()
    kpi = next(k for k in cat.by_domain(domain) if k.label.zh == label)
    by_street = [r for r in cli_kpis(warehouse, "--by", "street", "--kpi", kpi.id)
                 if r["value"] is not None]
    by_street.sort(key=lambda r: r["value"], reverse=kpi.direction == "higher")
    want = [[r["key_name"], fmt.value(r["value"], r["unit"], "zh")] for r in by_street]
    assert want and [r[1:3] for r in snap["rows"]] == want[:10]
    ranks = [int(r[0]) for r in snap["rows"]]  # ties share a rank
    assert ranks == [1 + sum(o["value"] > r["value"] if kpi.direction == "higher"
                             else o["value"] < r["value"] for o in by_street)
                     for r in by_street[:10]]
    # the counts: the domain's KPIs by community, where their target holds for communities
    # and whose rows are filed per community or finer (the item catalogue's
    # gov.online_capable_rate is the district's only: `--by community` refuses it)
    ids = [k.id for k in cat.by_domain(domain) if "community" in k.target_levels
           and all(area_level(mr) in ("community", "grid") for mr in k.measures().values())]
    picked = [f for i in ids for f in ("--kpi", i)]
    cells = [r for r in cli_kpis(warehouse, "--by", "community", *picked)
             if r["key"] is not None and r["value"] is not None]
    assert cells  # the case data colours communities
    for status in ("blue", "yellow", "red"):
        assert snap["counts"][status] == sum(r["status"] == status for r in cells), status
    assert sum(snap["counts"].values()) == len(cells)
    # the 红黑榜: the 红榜 then 黑榜 rows of ``gongzhi rank --format json`` (streets, 5 each)
    ranked = json.loads(subprocess.run(
        [str(browser.GONGZHI), "--config", str(warehouse), "rank", "--period", PERIOD,
         "--format", "json"], check=True, capture_output=True, text=True,
        cwd=browser.REPO).stdout)
    words = {"top": "红榜", "bottom": "黑榜"}
    board = [[words[b], str(r["rank"]), r["name"], f"{r['score']:.1f}"] for b in words
             for r in sorted((r for r in ranked if r["board"] == b), key=lambda r: r["rank"])[:5]]
    assert board and snap["board"] == board
    # the map in the centre column: street polygons drawn, centred across the wall
    with sqlite3.connect(warehouse.parent / "warehouse.db") as con:
        shapes = con.execute("SELECT count(*) FROM geometries WHERE level = 'street'").fetchone()
    assert page.wait_for_function(MAP_JS, polling=100).json_value() == shapes[0] > 0
    page.context.close()


# the number of areas the wall's map draws, once it is in the middle third of the window
MAP_JS = """() => { const el = document.querySelector('.st-key-screen_panel_map');
    if (!el) return null; const r = el.getBoundingClientRect(), x = r.x + r.width / 2;
    const n = el.querySelectorAll('svg path[aria-label*="区域"]').length;
    return n && x > innerWidth / 3 && x < innerWidth * 2 / 3 ? n : null; }"""


SNAPSHOT_JS = """() => ({
    domain: document.querySelector('.st-key-screen_domain').innerText.trim(),
    title: document.querySelector('.st-key-screen_head_ranking').innerText.trim(),
    rows: [...document.querySelectorAll('.st-key-screen_panel_ranking tbody tr')].map(
        tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim())),
    counts: Object.fromEntries(['blue', 'yellow', 'red', 'none'].map(s => [s,
        parseInt(document.querySelector(`.st-key-screen_count_${s} strong`).innerText)])),
    board: [...document.querySelectorAll('.st-key-screen_panel_red_black tbody tr')].map(
        tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim()))})"""


def test_domains_take_turns(chromium: Any, server: str, warehouse: Path) -> None:
    page = _page(chromium, 1920, 1080)
    page.goto(f"{server}/screen?period={PERIOD}")
    wait_domain(page, "政务服务")
    page.evaluate("window.__not_reloaded = true")
    first = page.locator(".st-key-screen_domain").inner_text()
    assert re.match(r"政务服务 1/\d", first)
    wait_domain(page, "网格治理", timeout=ROTATE * 3 * 1000)  # the next domain, by itself
    assert "网格治理 2/" in page.locator(".st-key-screen_domain").inner_text()
    consistent_cards(page, warehouse, "grid")  # with its own figures
    assert page.evaluate("window.__not_reloaded") is True
    page.context.close()


def test_the_ticker_shows_the_newest_events_of_the_area(chromium: Any, server: str,
                                                        warehouse: Path) -> None:
    from core.timezone import to_local

    db = sqlite3.connect(warehouse.parent / "warehouse.db")
    newest = db.execute("SELECT reported_at FROM grid_events ORDER BY reported_at DESC "
                        "LIMIT 1").fetchone()[0]
    db.close()
    import datetime as dt

    when = to_local(dt.datetime.fromisoformat(newest)).strftime("%m-%d %H:%M")
    page = _page(chromium, 1920, 1080)
    page.goto(f"{server}/screen?period={PERIOD}")
    ticker = page.locator(".st-key-screen_ticker")
    ticker.wait_for()
    text = ticker.inner_text()
    assert f"【网格事件】{when}" in text
    assert "【政务办件】" in text
    page.context.close()


def test_a_street_hall_sees_its_street(chromium: Any, case_config: Path,
                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    from warehouse import accounts
    from warehouse.engine import open_warehouse

    tmp = tmp_path_factory.mktemp("screen_street")
    src = case_config  # the session's case warehouse, copied
    dst = tmp / "copy"
    shutil.copytree(src.parent, dst)
    cfg = dst / "gongzhi.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(str(src.parent), str(dst))
                   .replace('sign_in = "open"', 'sign_in = "required"'), encoding="utf-8")
    eng = open_warehouse(f"sqlite:///{dst / 'warehouse.db'}")
    accounts.add_user(eng, "hanjiang", "street-hall-2024", "street_staff", HANJIANG, "汉江街道")
    eng.dispose()
    with browser.serve(cfg, log=dst / "serve.log") as (base, _):
        page = _page(chromium, 1920, 1080)
        page.goto(f"{base}/screen?period={PERIOD}")
        page.get_by_label("用户名").fill("hanjiang")  # the wall asks for a sign-in first
        page.get_by_label("密码").fill("street-hall-2024")
        page.get_by_role("button", name="登录", exact=True).click()
        wait_domain(page, "政务服务")
        assert "汉江街道" in page.locator(".st-key-screen_name").inner_text()
        want = consistent_cards(page, cfg, "gov", "street", "--street", HANJIANG)
        assert want["gov_online_case_rate"] == "25.0%"
        # the ranking is of its communities, none of another street
        rows = page.locator('.st-key-screen_panel_ranking tbody tr td:nth-child(2)')
        names = set(rows.all_inner_texts())
        assert names and names <= {"高庄社区", "刘埂社区"}
        page.context.close()


def test_a_new_run_redraws_the_wall_without_a_reload(chromium: Any, server: str,
                                                     warehouse: Path) -> None:
    """Last in the module: it adds a case to the shared warehouse."""
    from ingest.registry import load_validated
    from ingest.runner import Runner
    from metrics.catalog import load_catalog
    from metrics.rollup import RollupObserver
    from warehouse.engine import open_warehouse

    page = _page(chromium, 1920, 1080)
    page.goto(f"{server}/screen?period={PERIOD}")
    wait_domain(page, "政务服务")
    page.evaluate("window.__not_reloaded = true")
    cases = warehouse.parent / "data" / "service_cases.csv"
    with cases.open("a", encoding="utf-8", newline="") as f:
        header = cases.read_text(encoding="utf-8").splitlines()[0].split(",")
        row = {"case_id": "S9", "item_code": "I1", "community_code": "420606001001",
               "channel": "online", "submitted_at": "2024-05-21 10:00", "status": "accepted",
               "visits": "0"}
        csv.writer(f).writerow([row.get(h, "") for h in header])
    settings = load_validated(warehouse)
    engine = open_warehouse(settings.warehouse_url)
    result = Runner(settings, engine, observers=[RollupObserver(load_catalog())]).run(
        ["t_service_cases"])
    engine.dispose()
    assert result[0].ok and result[0].loaded >= 1
    want = expected_cards(warehouse, "gov")
    assert want["gov_online_case_rate"] == "50.0%"  # 3 of 6 online now
    # the wall turns through every domain; within two rounds gov is back, redrawn
    page.wait_for_function(
        "() => document.querySelector('.st-key-screencard_blue_gov_online_case_rate, "
        ".st-key-screencard_yellow_gov_online_case_rate, "
        ".st-key-screencard_red_gov_online_case_rate, "
        ".st-key-screencard_grey_gov_online_case_rate')"
        "?.querySelector('[data-testid=\"stMetricValue\"]')?.innerText.trim() === '50.0%'",
        timeout=ROTATE * 15 * 1000, polling=100)
    assert page.evaluate("window.__not_reloaded") is True
    page.context.close()
