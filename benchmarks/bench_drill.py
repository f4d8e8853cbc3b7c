"""``make bench-drill``: the first page of a drill-through at benchmark scale (DESIGN §8: a
drill-through page ≤ 1 s at 10M cases).

Uses the warehouse ``make bench-kpi`` builds (``benchmarks/data/kpi/scale-<S>``, reused when
it is there; built from ``gongzhi demo --scale S`` otherwise) and times, for figures from the
whole district down to one community, busy and rare parts (all cases of the month, the late
ones of one community):

- ``page_ms``: the first page of rows (what the page draws), a fresh engine each time, with
  the time-column indexes of ``warehouse.drill_indexes`` (migration 9; ``--no-indexes``
  drops them to measure without, and a later run without it puts them back);
- ``total_ms``: the pager's total as the page gets it (a count's figure, from the rollups);
- ``count_ms``: counting the rows in SQL (what a sum, an average or a breakdown group needs).

Writes ``benchmarks/out/drill.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_kpi import DATA, OUT, PERIOD, build
from metrics import drill, periods
from metrics.service import Metrics
from warehouse import drill_indexes
from warehouse.engine import open_warehouse

BAR_MS = 1000.0
# (KPI, part): busy and rare figures on the three big fact tables
FIGURES = [("gov.online_case_rate", "denominator"), ("gov.rectification_rate", "numerator"),
           ("gov.on_time_rate", "numerator"), ("grid.on_time_closure_rate", "numerator"),
           ("grid.rework_rate", "numerator"), ("vol.service_hours", "measure")]


def scopes(m: Metrics) -> list[Any]:
    d = m.divisions()
    street = d.filter(d["level"] == "street")["code"][0]
    community = d.filter((d["level"] == "community")
                         & d["code"].str.starts_with(street[:9]))["code"][0]
    return [m.district(), m.scope("street", street), m.scope("community", community)]


def timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, out


def _first_page(url: str, kpi: Any, fig: drill.Figure) -> float:
    """Milliseconds for the first 50 rows on a fresh engine (no pooled connection, no
    SQLite page cache)."""
    fresh = open_warehouse(url)
    try:
        return timed(lambda: drill.rows(fresh, kpi, fig, limit=50))[0]
    finally:
        fresh.dispose()


def measure(url: str, log: Any, repeat: int = 3) -> list[dict[str, Any]]:
    engine = open_warehouse(url)
    m = Metrics(engine)
    period = periods.parse(PERIOD)
    out = []
    for scope in scopes(m):
        for kpi_id, part in FIGURES:
            kpi = m.catalog.get(kpi_id)
            fig = drill.Figure(kpi_id, part, scope, period)
            pages = [_first_page(url, kpi, fig) for _ in range(repeat)]
            total_ms, total = timed(functools.partial(drill.known_total, Metrics(engine), kpi,
                                                      fig))
            count_ms, counted = timed(functools.partial(drill.count, engine, kpi, fig))
            row = {"kpi": kpi_id, "part": part, "scope": scope.key(), "rows": counted,
                   "page_ms": statistics.median(pages), "page_max_ms": max(pages),
                   "total_ms": total_ms if total is not None else None,
                   "count_ms": count_ms}
            log(f"{scope.key():24s} {kpi_id:28s} {part:11s} rows {counted:>9,} "
                f"page {row['page_ms']:8.1f} ms  total {total_ms:8.1f} ms  "
                f"count {count_ms:8.1f} ms")
            out.append(row)
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=67.0)
    ap.add_argument("--postgres", action="store_true", help="also on the PostgreSQL copy "
                    "bench-kpi builds (schema gongzhi_bench_kpi)")
    ap.add_argument("--no-indexes", action="store_true",
                    help="measure without warehouse.drill_indexes (a table scan per page)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    folder = DATA / f"scale-{args.scale:g}"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GONGZHI_PSEUDONYM_KEY_FILE", str(folder / ".pseudonym_key"))
    url = f"sqlite:///{folder / 'warehouse.db'}"
    t = time.perf_counter()
    build(args.scale, url, folder, "bench_kpi_loaded", print)
    if not args.no_indexes:
        t_ix = time.perf_counter()
        made = drill_indexes.ensure(open_warehouse(url))
        print(f"drill indexes {made or 'present'} ({time.perf_counter() - t_ix:,.1f} s)")
    else:
        print(f"drill indexes dropped: {drill_indexes.drop(open_warehouse(url))}")
    result: dict[str, Any] = {"scale": args.scale, "period": PERIOD,
                              "indexes": not args.no_indexes,
                              "build_s": time.perf_counter() - t, "bar_ms": BAR_MS}
    with open_warehouse(url).connect() as c:
        from sqlalchemy import text

        result["cases"] = c.execute(text("SELECT count(*) FROM service_cases")).scalar_one()
    result["sqlite"] = measure(url, print)
    if args.postgres:
        from benchmarks.bench_kpi import PG_ADMIN, PG_SCHEMA

        pg_url = f"{PG_ADMIN}?options=-csearch_path%3D{PG_SCHEMA}"
        build(args.scale, pg_url, folder, "bench_kpi_loaded", print)
        if not args.no_indexes:
            drill_indexes.ensure(open_warehouse(pg_url))
        else:
            drill_indexes.drop(open_warehouse(pg_url))
        result["postgres"] = measure(pg_url, print)
    worst = max(r["page_ms"] for r in result["sqlite"])
    result["first_page_worst_ms"] = worst
    result["meets_bar"] = worst <= BAR_MS
    result["machine"] = {"nproc": os.cpu_count(), "python": platform.python_version()}
    Path(OUT / "drill.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"cases {result['cases']:,}; worst first page {worst:,.1f} ms (bar {BAR_MS:,.0f}) "
          f"→ {OUT / 'drill.json'}")


if __name__ == "__main__":
    main()
