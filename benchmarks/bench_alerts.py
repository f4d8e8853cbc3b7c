"""``make bench-alerts``: alert evaluation after an ingestion run at benchmark scale (DESIGN §8:
≤ 1 s).

Reuses (or builds) the ``gongzhi demo --scale 67`` warehouse of ``make bench-kpi`` (≈10M
service cases) on the embedded default, and configures rules a district would have: every
KPI with a target turning red, for streets and for communities; every KPI falling by more than
5 points, for communities; failed and stale sources; overdue 督办 tasks. Then times:

- ``first_check_s``: the first evaluation on an empty alert log (every red figure of every
  street and community recorded: the worst case, once);
- ``after_run_s`` (median and max of 3): a night's file of cases merged (rollups updated, data
  version bumped: no cached result holds) by a runner with the alert observer; the time of
  the observer's evaluation after the run (source and task rules, and the KPI rules for the
  KPIs on the tables the run changed) — the figure the bar is about;
- ``full_check_s``: the scheduled check after that (every rule, every KPI, nothing new).

Writes ``benchmarks/out/alerts.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from benchmarks import bench_kpi
from benchmarks.bench_kpi import DATA, OUT, PERIOD, build, nightly_run
from core.alertconfig import AlertRule
from metrics import periods
from metrics.alerts import AlertObserver, check
from metrics.rollup import RollupObserver
from metrics.service import Metrics
from warehouse import cycle
from warehouse.engine import app_engine, write_transaction

BAR_S = 1.0


def rules() -> list[AlertRule]:
    return [AlertRule(id="red_streets", rule="kpi_red", level="street"),
            AlertRule(id="red_communities", rule="kpi_red", level="community"),
            AlertRule(id="falls", rule="kpi_drop", level="community", points=5.0,
                      severity="yellow"),
            AlertRule(id="broken", rule="source_failed"),
            AlertRule(id="stale", rule="source_stale", hours=48.0),
            AlertRule(id="late", rule="task_overdue")]


class TimedObserver(AlertObserver):
    """The alert observer, timing its evaluation after each run."""

    def __init__(self, settings: Any):
        super().__init__(settings)
        self.seconds: list[float] = []
        self.new = 0

    def after_run(self, engine: Any, results: Any) -> None:
        t = time.perf_counter()
        super().after_run(engine, results)
        self.seconds.append(time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=float, default=67.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    folder = DATA / f"scale-{args.scale:g}"
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'warehouse.db'}"
    settings, engine = build(args.scale, url, folder, "bench_kpi_loaded", print)
    settings.alerting.rules = rules()
    period = periods.parse(PERIOD)
    with write_transaction(app_engine(engine)) as conn:  # the first check starts empty
        conn.execute(delete(cycle.alert_deliveries))
        conn.execute(delete(cycle.alert_log))
    metrics = Metrics(engine)  # the observer's, kept across runs
    t = time.perf_counter()
    first = check(engine, settings, period=period, metrics=metrics)
    first_s = time.perf_counter() - t
    print(f"first check: {len(first.new)} alerts recorded in {first_s:.3f} s")
    observer = TimedObserver(settings)
    observer._metrics = metrics
    observer.period = period  # the demo's data ends with this month
    catalog = metrics.catalog

    class _Runner(bench_kpi.Runner):  # nightly_run's runner, with the alert observer
        def __init__(self, settings: Any, engine: Any, **kw: Any):
            super().__init__(settings, engine,
                             observers=[RollupObserver(catalog), observer])

    bench_kpi.Runner = _Runner  # type: ignore[misc]
    for i in range(args.rounds):
        run_s = nightly_run(settings, engine, folder)
        print(f"round {i + 1}: nightly run {run_s:.1f} s, of which the alert evaluation "
              f"{observer.seconds[-1]:.3f} s")
    after = observer.seconds
    t = time.perf_counter()
    full = check(engine, settings, period=period, metrics=metrics)
    full_s = time.perf_counter() - t
    print(f"scheduled check (every KPI): {full_s:.3f} s ({len(full.new)} new)")
    result: dict[str, Any] = {
        "scale": args.scale, "period": PERIOD, "rules": [r.id for r in rules()],
        "first_check_s": round(first_s, 3), "first_check_alerts": len(first.new),
        "after_run_s_median": round(statistics.median(after), 3),
        "after_run_s_max": round(max(after), 3), "full_check_s": round(full_s, 3),
        "bar_s": BAR_S,
        "meets_bar": max(after) <= BAR_S,
    }
    OUT.mkdir(exist_ok=True)
    out = Path(OUT / "alerts.json")
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    engine.dispose()


if __name__ == "__main__":
    main()
