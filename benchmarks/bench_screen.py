"""``make bench-screen``: the 首屏 big screen left running, as a command hall leaves it.

Against an existing warehouse (``--config``, normally the benchmark-scale one that
``make bench-kpi`` builds), start ``gongzhi serve`` with ``[screen] rotate_seconds`` set to
``--rotate`` (a copy of the config beside it, so relative paths still hold), open ``/screen``
in the Debian ``chromium`` at 1920×1080 and let the domains turn for ``--minutes`` (30 by
default). The server's resident memory (process tree, from ``/proc``) is sampled every
``--every`` seconds; the baseline is taken once every domain has been on the wall twice
(caches warm), and the bar is on the growth after it: ≤ 50 MB (issue 13). Also checks that
the wall kept turning (the domain in the title bar changed) and never showed an error.

Writes ``benchmarks/out/screen.json`` and exits 1 when the bar is missed. The CI test
(tests/dashboard/test_bigscreen_soak.py) runs :func:`soak` for 36 seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from tests.dashboard import browser

OUT = Path(__file__).resolve().parent / "out"
BAR_GROWTH_MB = 50.0


def soak_config(config: Path, rotate: float) -> Path:
    """A copy of ``config`` (beside it) whose ``[screen]`` turns every ``rotate`` seconds."""
    text = config.read_text(encoding="utf-8")
    if "[screen]" in text:
        raise SystemExit(f"{config} has a [screen] section already: remove it for the soak")
    out = config.with_name(f".bench-screen-{config.name}")
    out.write_text(f"{text}\n[screen]\nrotate_seconds = {rotate}\n", encoding="utf-8")
    return out


def soak(config: Path, minutes: float, rotate: float = 5.0, every: float = 10.0,
         period: str | None = None, log: Path | None = None) -> dict[str, Any]:
    """Run the wall for ``minutes``; return the RSS samples and the figures."""
    cfg = soak_config(config, rotate)
    samples: list[tuple[float, float]] = []  # (seconds since start, MB)
    domains_seen: list[str] = []
    errors = 0
    try:
        with browser.serve(cfg, log=log) as (base, proc), browser.chromium() as b, \
                contextlib.ExitStack() as stack:
            ctx = b.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
            stack.callback(ctx.close)  # the browser may outlive the soak (tests share one)
            page = ctx.new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{base}/screen" + (f"?period={period}" if period else ""))
            page.locator(".st-key-screen_domain").wait_for()
            start = time.monotonic()
            end = start + minutes * 60
            while True:
                now = time.monotonic()
                samples.append((now - start, browser.rss_kb(proc.pid) / 1024))
                text = page.locator(".st-key-screen_domain").first.inner_text(timeout=30_000)
                name = text.split(" ")[0]
                if not domains_seen or domains_seen[-1] != name:
                    domains_seen.append(name)
                errors += page.locator('[data-testid="stException"], .stAlert').count()
                if now >= end:
                    break
                page.wait_for_timeout(min(every, max(0.0, end - now)) * 1000)
    finally:
        cfg.unlink(missing_ok=True)
    distinct = len(set(domains_seen))
    # baseline: once every domain has been up twice (the caches hold every domain's frames)
    warm_after = 2 * distinct * rotate
    warm = [mb for t, mb in samples if t >= warm_after] or [samples[-1][1]]
    return {
        "minutes": minutes, "rotate_seconds": rotate, "samples": len(samples),
        "domains": distinct, "turns": len(domains_seen) - 1, "errors_seen": errors,
        "rss_start_mb": round(samples[0][1], 1), "rss_baseline_mb": round(warm[0], 1),
        "rss_end_mb": round(samples[-1][1], 1), "rss_max_mb": round(max(m for _, m in samples), 1),
        "rss_growth_mb": round(max(warm) - warm[0], 1),
        "rss_series_mb": [[round(t), round(mb, 1)] for t, mb in samples],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--period", default=None, help="the period on the wall (default: latest)")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--rotate", type=float, default=5.0, help="seconds per domain")
    ap.add_argument("--every", type=float, default=10.0, help="seconds between RSS samples")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    result = soak(args.config.resolve(), args.minutes, args.rotate, args.every, args.period,
                  log=OUT / "screen-serve.log")
    result.update({"config": str(args.config), "period": args.period,
                   "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                   "machine": platform.platform(), "bar_growth_mb": BAR_GROWTH_MB})
    (OUT / "screen.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps({k: v for k, v in result.items() if k != "rss_series_mb"}, indent=2,
                     ensure_ascii=False))
    ok = result["rss_growth_mb"] <= BAR_GROWTH_MB and result["turns"] > 0 \
        and not result["errors_seen"]
    print("bar met" if ok else "BAR MISSED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
