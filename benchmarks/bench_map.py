"""``make bench-map``: the map page (地图) in headless Chromium, coloured by grid (984
polygons at benchmark scale), and what it sends to the browser.

Against an existing warehouse (``--config``; the benchmark-scale one of ``make bench-kpi``,
whose demo includes the geometry), start ``gongzhi serve`` and measure in the Debian
``chromium`` driven by Playwright:

- ``map_first_draw_ms``: from navigation start until every grid polygon is drawn, in a new
  browser session on a warm server (median of ``--runs``); ``map_cold_ms`` is the first visit
  right after the server answers (caches empty; the server's warm-up, dashboard/warm.py, runs
  at the same time);
- ``first_draw_returning_browser_ms``: the same, but a new tab of a browser that opened the
  map before (a persistent profile: its HTTP cache and V8's code cache kept), as a leader's
  daily browser; ``map_first_draw_ms`` is the cold-cache figure (a new context per visit:
  empty caches). The two kinds alternate, and the server's work is the same for both (a new
  Streamlit session each); ``http_bytes_cold`` / ``http_bytes_returning_browser``: what each
  fetched over HTTP (the page, scripts, styles, fonts; not the websocket);
  ``websocket_open_cold_ms`` / ``websocket_open_returning_browser_ms``: until the page opened
  Streamlit's websocket (the front end's own loading and start-up, before any server work);
- ``map_warmed_default_ms``: a new server, once its log says the leader's map is warm (what
  a leader's first look after a server start or a nightly run gets), visited by the same
  Chromium (``map_cold_ms`` also pays Chromium's own first start): the first visit of the map
  by grid as it opens (default KPI, opening month); ``map_warmed_other_ms``: then a first
  visit of ``--period`` and :data:`KPI` (polygons warm, figures and hexagons computed);
  ``warmup_s``: from the server answering to its log saying the map is warm;
- ``map_after_title_ms``: from the page's title being drawn to the map being drawn (the map's
  own share, apart from Streamlit's page start); ``load_average_1min`` says how busy the
  machine was (on 2 shared cores the first draw is mostly the browser's own CPU time:
  Streamlit's start-up and Vega, so it follows the load); ``script_runs_per_open``: the most
  script runs one warm visit asked the server for (1: no rerun on the way to the map);
- ``websocket_bytes``: everything the server sent over Streamlit's websocket for one such
  visit (the whole page: the map's features and all else);
- ``payload_bytes``: the map's own features and event bins as JSON, computed as the page
  does (metrics.geo), and ``polygons``: how many.

Writes ``benchmarks/out/map.json``. Bars: first draw ≤ 2,000 ms, payload ≤ 1 MB. Not a test:
it prints and records the figures and exits 1 when a bar is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.dashboard import browser

OUT = Path(__file__).resolve().parent / "out"
BARS = {"map_first_draw_ms": 2000.0, "payload_bytes": 1_000_000}
KPI = "grid.closure_rate"
PATHS = "[class*='st-key-geomap_'] .vega-embed svg path[aria-roledescription='geoshape']"
VIEWPORT = {"width": 1400, "height": 1100}
# bytes the page's document and resources came over the network with (transferSize is 0 for
# what the browser's cache served; the websocket is not a resource entry)
FETCHED_JS = """() => [...performance.getEntriesByType('navigation'),
                    ...performance.getEntriesByType('resource')]
                 .reduce((n, e) => n + (e.transferSize || 0), 0)"""


def payload(config: Path, period: str) -> tuple[int, int]:
    """The map's features (polygons, figures) and event hexagons as JSON bytes, and the
    count."""
    from dashboard.components import geomap
    from ingest.registry import load_validated
    from metrics import geo
    from metrics.compiler import Scope
    from metrics.periods import parse
    from metrics.service import Metrics
    from warehouse.engine import open_for_reading

    m = Metrics(open_for_reading(load_validated(config).warehouse_url))
    district = m.district()
    scope = Scope("district", district.code, district.name)
    shapes = geo.shapes(m.engine, scope, "grid", width_px=760)
    areas = geo.choropleth(m, KPI, scope, parse(period), "grid")
    by_key = {r["key"]: r for r in areas.iter_rows(named=True)}
    features = [{"type": "Feature", "geometry": s["geometry"], "key": s["key"],
                 **{k: str(v) for k, v in by_key.get(s["key"], {}).items()}} for s in shapes]
    box = geo.bbox_of(shapes) or (0, 0, 1, 1)
    grid = geomap.hex_grid(box)
    hexes = geomap.hex_features(geo.hex_bins(m.engine, scope, parse(period), grid), grid)
    size = len(json.dumps(features, ensure_ascii=False).encode()) + len(
        json.dumps(hexes).encode())
    m.engine.dispose()
    return size, len(shapes)


def reruns(data: bytes | str) -> int:
    """1 when a message the page sent over Streamlit's websocket asks for a script run."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    msg.ParseFromString(data if isinstance(data, bytes) else data.encode())
    return int(msg.WhichOneof("type") == "rerun_script")


def visit(chromium: Any, url: str, polygons: int, runs: list[int] | None = None
          ) -> tuple[float, int, float, int, float]:
    """A visit in a new browser context (an empty HTTP cache, no V8 code cache): see
    :func:`visit_page`."""
    ctx = chromium.new_context(viewport=VIEWPORT, locale="zh-CN")
    try:
        return visit_page(ctx.new_page(), url, polygons, runs)
    finally:
        ctx.close()


def visit_page(page: Any, url: str, polygons: int, runs: list[int] | None = None
               ) -> tuple[float, int, float, int, float]:
    """ms until ``polygons`` grid polygons are drawn, the websocket bytes received, the ms
    from the page's title to the drawn map (the map's own share of the first draw), the
    HTTP bytes fetched over the network (the page and its scripts, styles, fonts; 0 for what
    came from the browser's cache) and the ms until Streamlit's front end opened its
    websocket (its own loading and start-up: before it, the server has no work); ``runs``
    gets the number of script runs the page asked for (each costs a whole run). The page is
    closed at the end."""
    received, asked = [0], [0]
    # on Playwright's side (the page's clock cannot see the websocket): from asking for
    # the page, a few ms before the page's own navigation start
    opened: list[float] = []
    started = [0.0]

    def on_ws(ws: Any) -> None:
        if not opened:  # the first one (a reconnect would open another)
            opened.append((time.monotonic() - started[0]) * 1000)
        ws.on("framereceived", lambda data: received.__setitem__(
            0, received[0] + len(data if isinstance(data, bytes) else data.encode())))
        ws.on("framesent", lambda data: asked.__setitem__(0, asked[0] + reruns(data)))
    page.on("websocket", on_ws)
    started[0] = time.monotonic()
    page.goto(url, wait_until="commit")
    page.wait_for_selector("h1", timeout=120_000)
    titled = float(page.evaluate("() => performance.now()"))
    page.wait_for_function(f"n => document.querySelectorAll(\"{PATHS}\").length >= n",
                           arg=polygons, timeout=120_000, polling=20)
    ms = page.evaluate("() => performance.now()")
    fetched = int(page.evaluate(FETCHED_JS))
    page.close()
    if runs is not None:
        runs.append(asked[0])
    return float(ms), received[0], float(ms) - titled, fetched, opened[0]


@contextmanager
def returning_browser(chromium: Any, url: str, polygons: int) -> Iterator[Any]:
    """A browser that has opened the map before, as a leader's daily browser has: a
    persistent profile (its HTTP disk cache and V8's code cache kept between tabs, unlike a
    new context) in a temporary folder, a second Chromium started from ``chromium``'s
    Playwright. The map is opened once (all the scripts it loads fetched and cached), then
    each :func:`visit_page` on a new tab is a new Streamlit session: the server does the
    same work as for a new context, only the browser's caches differ."""
    with tempfile.TemporaryDirectory(prefix="gz-bench-profile-") as profile:
        ctx = chromium.browser_type.launch_persistent_context(
            profile, executable_path=browser.CHROMIUM, args=browser.CHROMIUM_ARGS,
            headless=True, viewport=VIEWPORT, locale="zh-CN")
        try:
            for blank in ctx.pages:  # the tab a persistent context opens with
                blank.close()
            visit_page(ctx.new_page(), url, polygons)
            yield ctx
        finally:
            ctx.close()


def wait_warm(log: Path, timeout: float = 600.0) -> None:
    """Wait until the server's log says the leader's map is warm."""
    from dashboard.warm import WARMED_LINE

    deadline = time.monotonic() + timeout
    while WARMED_LINE not in log.read_text(encoding="utf-8", errors="replace"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no '{WARMED_LINE}' in {log} after {timeout} s")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, type=Path, help="gongzhi.toml of the warehouse")
    ap.add_argument("--period", required=True, help="period to show, e.g. 2025-12")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=OUT / "map.json")
    args = ap.parse_args(argv)
    why = browser.missing_browser()
    if why:
        print(f"bench-map: {why}", file=sys.stderr)
        return 2
    size, polygons = payload(args.config, args.period)
    url_path = f"/map?period={args.period}&level=grid&kpi={KPI}"
    OUT.mkdir(parents=True, exist_ok=True)
    with browser.chromium() as chromium:
        with browser.serve(args.config, log=OUT / "map-serve.log") as (base, _):
            runs: list[int] = []
            cold, ws_bytes, *_ = visit(chromium, base + url_path, polygons)
            # each run: a new context (empty caches), then a new tab of the returning
            # browser, one after the other so that both see the same load
            visits, back = [], []
            with returning_browser(chromium, base + url_path, polygons) as returning:
                for _ in range(args.runs):
                    visits.append(visit(chromium, base + url_path, polygons, runs))
                    back.append(visit_page(returning.new_page(), base + url_path, polygons))
        # a new server, left to warm up (the same Chromium, past its own first start): the
        # leader's first look, then another month and KPI
        log = OUT / "map-serve-warmed.log"
        with browser.serve(args.config, log=log) as (base, _):
            started = time.monotonic()
            wait_warm(log)
            warmup = time.monotonic() - started
            warmed_default, *_ = visit(chromium, base + "/map?level=grid", polygons)
            warmed_other, *_ = visit(chromium, base + url_path, polygons)
    warm = [v[0] for v in visits]
    result = {
        "map_first_draw_ms": round(statistics.median(warm), 1), "map_cold_ms": round(cold, 1),
        "map_runs_ms": [round(x, 1) for x in warm],
        "first_draw_returning_browser_ms": round(statistics.median(v[0] for v in back), 1),
        "returning_browser_runs_ms": [round(v[0], 1) for v in back],
        "websocket_open_cold_ms": round(statistics.median(v[4] for v in visits), 1),
        "websocket_open_returning_browser_ms": round(statistics.median(v[4] for v in back), 1),
        "http_bytes_cold": round(statistics.median(v[3] for v in visits)),
        "http_bytes_returning_browser": round(statistics.median(v[3] for v in back)),
        "map_warmed_default_ms": round(warmed_default, 1),
        "map_warmed_other_ms": round(warmed_other, 1), "warmup_s": round(warmup, 1),
        "map_after_title_ms": round(statistics.median(v[2] for v in visits), 1),
        "script_runs_per_open": max(runs),
        "load_average_1min": round(__import__("os").getloadavg()[0], 1),
        "websocket_bytes": ws_bytes,
        "payload_bytes": size, "polygons": polygons, "config": str(args.config),
        "period": args.period, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    missed = [k for k, bar in BARS.items() if result[k] > bar]
    for k in missed:
        print(f"bar missed: {k} = {result[k]} > {BARS[k]}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
