"""``make bench-dashboard``: the dashboard in headless Chromium (DESIGN §8).

Against an existing warehouse (``--config``, normally the benchmark-scale one that
``make bench-kpi`` builds), start ``gongzhi serve`` on a free port and measure, in the Debian
``chromium`` driven by Playwright:

- ``overview_ms``: from navigation start until every overview card shows its value, in a new
  browser session on a warm server (median of ``--runs``); ``overview_cold_ms`` is the first
  visit after the server started (caches empty);
- ``overview_cached_browser_ms``: the same for a returning user, a new tab in a browser profile
  that has opened the dashboard before (static files from the browser cache); informative,
  the bar is on ``overview_ms``;
- ``filter_change_ms``: from choosing a street in the sidebar until every card shows that
  street's values (checked against :mod:`metrics`), each street chosen for the first time
  (median over ``--streets`` streets); ``filter_change_warm_ms`` the same street again;
- ``server_rss_mb``: the peak resident memory of the Streamlit process and its children,
  sampled from ``/proc`` every 100 ms over the whole run, which also opens every page once.

Writes ``benchmarks/out/dashboard.json``. Bars: overview ≤ 2,000 ms, filter change ≤ 1,000 ms,
server ≤ 600 MB. Not a test: it prints and records the figures and exits 1 when a bar is
missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from core.timezone import LOCAL
from metrics.periods import latest_complete
from tests.dashboard import browser

OUT = Path(__file__).resolve().parent / "out"
BARS = {"overview_ms": 2000.0, "filter_change_ms": 1000.0, "server_rss_mb": 600.0}
PAGES = ["gov", "grid", "vol", "party", "data"]


class RssSampler(threading.Thread):
    """Peak RSS of a process tree, sampled until stopped."""

    def __init__(self, pid: int, every: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak_kb = pid, every, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak_kb = max(self.peak_kb, browser.rss_kb(self.pid))
            self._halt.wait(self.every)

    def stop(self) -> float:
        self._halt.set()
        self.join()
        return self.peak_kb / 1024


def expected(config: Path, period: str) -> tuple[dict[str, dict[str, str]], list[tuple[str, str]]]:
    """The card values per area ('' = district) and the streets (code, name) with data."""
    from ingest.registry import load_validated
    from metrics import format as fmt
    from metrics import periods, views
    from metrics.service import Metrics
    from warehouse.engine import make_engine

    m = Metrics(make_engine(load_validated(config).warehouse_url))
    p = periods.parse(period)
    out: dict[str, dict[str, str]] = {}
    d = m.divisions()
    streets = [(r["code"], r["short_name"] or r["name"]) for r in d.filter(
        (d["level"] == "street") & d["active"] & ~d["placeholder"]).sort("code").to_dicts()]
    for code in ["", *[c for c, _ in streets]]:
        scope = m.scope("street", code) if code else m.district()
        ov = views.overview(m, scope, p)
        out[code] = {r["kpi"].replace(".", "_"): fmt.value(r["value"], r["unit"], "zh")
                     for r in ov.cards.to_dicts() if scope.level in m.catalog.get(r["kpi"]).scopes}
    m.engine.dispose()
    return out, streets


def _draw_overview(page: Any, url: str, want: dict[str, str]) -> float:
    """Open the overview in ``page``; ms from navigation start until every card is drawn
    with the values ``metrics`` gives."""
    page.goto(url, wait_until="commit")
    got = browser.wait_for_cards(page, want, timeout=60_000)
    if got != want:
        raise AssertionError(f"the overview cards differ from metrics: {got} != {want}")
    return float(page.evaluate("performance.now()"))


def visit_overview(chromium: Any, url: str, want: dict[str, str]) -> float:
    """A new session opens the overview; ms from navigation start to every card drawn."""
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        return _draw_overview(ctx.new_page(), url, want)
    finally:
        ctx.close()


def revisit_overview(chromium: Any, url: str, want: dict[str, str], runs: int) -> list[float]:
    """A returning user: new tabs (each its own Streamlit session) in one browser profile, so
    Streamlit's hashed static files come from the browser's cache as they do in an office
    browser on the second visit; ms from navigation start to every card drawn."""
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        times = []
        for n in range(runs + 1):
            page = ctx.new_page()
            took = _draw_overview(page, url, want)
            if n:  # the first visit fills the cache
                times.append(took)
            page.close()
        return times
    finally:
        ctx.close()


def change_street(chromium: Any, url: str, name: str, before: dict[str, str],
                  after: dict[str, str], again: bool) -> float:
    """ms from choosing street ``name`` until every card shows its values."""
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    try:
        page.goto(url)
        if browser.wait_for_cards(page, before, timeout=60_000) != before:
            raise AssertionError("the district cards did not appear")
        took = []
        for _ in range(2 if again else 1):
            page.get_by_role("combobox", name="街道", exact=True).click()
            option = page.get_by_role("option", name=name, exact=True)
            option.wait_for()
            start = page.evaluate("performance.now()")
            option.click()
            got = browser.wait_for_cards(page, after, timeout=60_000)
            if got != after:
                raise AssertionError(f"{name}: cards {got} != {after}")
            took.append(float(page.evaluate("performance.now()")) - start)
            if again:  # back to the district, then the same street once more
                page.get_by_role("combobox", name="街道", exact=True).click()
                page.get_by_role("option", name="全部街道", exact=True).click()
                browser.wait_for_cards(page, before, timeout=60_000)
        return took[-1]
    finally:
        ctx.close()


def tour(chromium: Any, base: str, period: str) -> None:
    """Open every page once (their caches count in the server's memory)."""
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    for path in PAGES:
        page.goto(f"{base}/{path}?period={period}")
        if path == "data":
            page.locator('[data-testid="stDataFrame"]').first.wait_for()
        else:
            browser.wait_cards(page, 3, timeout=120_000)
            page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    ctx.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, type=Path, help="gongzhi.toml of the warehouse")
    ap.add_argument("--period", default=None, help="period to show (default: the dashboard's)")
    ap.add_argument("--runs", type=int, default=5, help="overview visits to take the median of")
    ap.add_argument("--streets", type=int, default=3, help="streets to time a first choice of")
    ap.add_argument("--out", type=Path, default=OUT / "dashboard.json")
    args = ap.parse_args(argv)
    why = browser.missing_browser()
    if why:
        print(f"bench-dashboard: {why}", file=sys.stderr)
        return 2
    if not args.config.exists():
        print(f"bench-dashboard: no warehouse config at {args.config} (make bench-kpi builds "
              "the benchmark-scale one)", file=sys.stderr)
        return 2
    period = args.period or latest_complete("month", dt.datetime.now(LOCAL).date()).label
    config = args.config.resolve()
    print(f"expected card values from metrics for {period} …", flush=True)
    want, streets = expected(config, period)
    with_data = [(c, n) for c, n in streets if any(v != "—" for v in want[c].values())]
    picks = with_data[: args.streets]
    OUT.mkdir(parents=True, exist_ok=True)
    url = f"/?period={period}"
    result: dict[str, Any] = {"config": str(config), "period": period, "runs": args.runs}
    with browser.serve(config, log=OUT / "dashboard-serve.log", timeout=300) as (base, proc):
        kids = browser.descendants(proc.pid)  # gongzhi's child: the Streamlit server
        sampler = RssSampler(kids[0] if kids else proc.pid)
        sampler.start()
        with browser.chromium() as chromium:
            result["overview_cold_ms"] = round(visit_overview(chromium, base + url, want[""]))
            times = [visit_overview(chromium, base + url, want[""]) for _ in range(args.runs)]
            result["overview_ms"] = round(statistics.median(times))
            result["overview_all_ms"] = [round(x) for x in times]
            again = revisit_overview(chromium, base + url, want[""], args.runs)
            result["overview_cached_browser_ms"] = round(statistics.median(again))
            firsts = [change_street(chromium, base + url, n, want[""], want[c], again=False)
                      for c, n in picks]
            result["filter_change_ms"] = round(statistics.median(firsts))
            result["filter_change_all_ms"] = [round(x) for x in firsts]
            c, n = picks[0]
            result["filter_change_warm_ms"] = round(
                change_street(chromium, base + url, n, want[""], want[c], again=True))
            tour(chromium, base, period)
        result["server_rss_mb"] = round(sampler.stop(), 1)
    result["bars"] = BARS
    result["pass"] = {k: result[k] <= v for k, v in BARS.items()}
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                         "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("overview_ms", "overview_cold_ms",
                                              "overview_cached_browser_ms",
                                              "filter_change_ms", "filter_change_warm_ms",
                                              "server_rss_mb", "pass")}, ensure_ascii=False))
    print(f"written {args.out}")
    return 0 if all(result["pass"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
