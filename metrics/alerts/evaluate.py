"""Evaluating alert rules, recording each alert once, and delivering the due ones.

:func:`check` is the one entry point: the run observer calls it after every ingestion run,
the scheduler on ``[alerting] schedule``, and ``gongzhi alerts check``. It

1. finds the candidates: red figures (``kpi_red``), figures that fell by more than ``points``
   against the previous period (``kpi_drop``; "fell" respects the KPI's direction), sources
   whose latest run failed (``source_failed``) or that have not answered for ``hours``
   (``source_stale``), 督办 tasks past their due date (``task_overdue``);
2. records the new ones: one alert per rule × area (or source) × KPI × period, kept in
   ``alert_log``, so a re-run finds it there and sends nothing again; a rule with
   ``open_task = true`` opens a 督办 task for the area at the same time;
3. sends what is due: new alerts, alerts held by quiet hours that have ended, and failed
   deliveries whose retry time has come.

KPI figures come from the same :class:`metrics.service.Metrics` as every page (rollups, one
grouped query per KPI family), so an evaluation costs a few grouped queries however large
the warehouse; the KPI part is skipped when the data version and period are those of the
last evaluation in this process.

The steps live in :mod:`metrics.alerts.candidates` (1) and :mod:`metrics.alerts.ledger` (2, 3);
this module runs them and follows the ingestion runs (:class:`AlertObserver`).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table

from core.alertconfig import KPI_RULES, AlertingSettings
from metrics import periods
from metrics.alerts.candidates import (
    Candidate,
    kpi_candidates,
    local_time,
    source_candidates,
    task_candidates,
)
from metrics.alerts.ledger import record, send_due
from metrics.catalog import Catalog
from metrics.periods import Period
from metrics.service import Metrics
from warehouse.engine import data_version, utcnow

log = logging.getLogger("gongzhi.alerts")


@dataclass
class CheckReport:
    """What one check did: alerts recorded (new), and deliveries tried."""

    new: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # alert id, title, dest, ok, error
    problems: list[str] = field(default_factory=list)
    period: str = ""
    seconds: float = 0.0


# -- the entry point -----------------------------------------------------------------------------

def check(engine: Engine, settings: Any, *, period: Period | None = None,
          now: dt.datetime | None = None, metrics: Metrics | None = None,
          only_kpis: set[str] | None = None) -> CheckReport:
    """Evaluate every rule, record the new alerts, send what is due (see the module doc).

    ``now``: naive UTC (tests pass one); ``period``: the KPI period (default: the last
    complete month in local time, as ``gongzhi kpi``); ``only_kpis``: the KPI rules look at
    these KPIs only (None: all they name)."""
    import time

    t0 = time.perf_counter()
    alerting: AlertingSettings = settings.alerting
    tz = ZoneInfo(settings.scheduler.timezone)
    now = now or utcnow()
    today = local_time(now, tz).date()
    p = period or periods.latest_complete("month", today)
    report = CheckReport(period=p.label)
    rules = alerting.rules
    cands: list[Candidate] = []
    krules = [r for r in rules if r.rule in KPI_RULES]
    if krules and only_kpis != set():
        m = metrics or Metrics(engine)
        cands += kpi_candidates(m, krules, p, only_kpis)
    source_ids = [s.id for s in settings.sources]
    scheduled = {s.id for s in settings.sources if s.schedule}
    cands += source_candidates(engine, rules, source_ids, scheduled, now, tz)
    cands += task_candidates(engine, rules, today)
    report.new = record(engine, alerting, cands, now, tz, settings.tasks.due_days)
    for n in report.new:
        if n["problem"]:
            report.problems.append(f"rule {n['rule_id']}: {n['problem']}")
    report.sent = send_due(engine, alerting, now, tz)
    report.seconds = time.perf_counter() - t0
    return report


class AlertObserver:
    """Follows ingestion runs: after runs, the rules are checked (never raising: an alert
    that cannot be evaluated or sent never fails or blocks a run). Also the scheduler's
    periodic check (``schedule``, ``on_schedule``)."""

    def __init__(self, settings: Any):
        self.settings = settings
        self.schedule = settings.alerting.schedule
        self._metrics: Metrics | None = None
        self._last: tuple[int, str] | None = None  # (data version, period) evaluated
        self.period: Period | None = None  # None: the last complete month (as gongzhi kpi)

    def before_merge(self, conn: Any, table: Table, stage: Table) -> None:
        """Nothing to do inside the run's transaction."""

    def after_merge(self, conn: Any, table: Table, stage: Table, counts: Any,
                    frame: Any = None) -> None:
        """Nothing to do inside the run's transaction."""

    def after_run(self, engine: Engine, results: Sequence[Any]) -> None:
        """After runs (committed or failed): the source and task rules, and the KPI rules
        for the KPIs on the tables the runs changed (the others were checked when their
        data last changed, and the scheduled check looks at every KPI)."""
        changed = self._changed(results)
        self._safe(engine, tables=changed, full=changed is None)

    def on_schedule(self, engine: Engine) -> None:
        self._safe(engine, tables=None)

    def _changed(self, results: Sequence[Any]) -> set[str] | None:
        """The tables the runs changed; None when a source does not say (check every KPI)."""
        specs = {s.id: s for s in self.settings.sources}
        out: set[str] = set()
        for r in results:
            if not (r.inserted or r.updated or r.retired or r.deleted):
                continue
            spec = specs.get(r.source)
            if spec is not None and spec.table:
                out.add(spec.table)
            elif spec is not None and spec.plugin == "divisions":
                out.add("divisions")
            else:  # a plugin feeding tables of its choice
                return None
        return out

    def _safe(self, engine: Engine, tables: set[str] | None, full: bool = False) -> None:
        if not self.settings.alerting.rules:
            return
        try:
            if self._metrics is None or self._metrics.engine is not engine:
                self._metrics = Metrics(engine)
            version = data_version(engine)
            tz = ZoneInfo(self.settings.scheduler.timezone)
            p = self.period or periods.latest_complete("month", local_time(utcnow(), tz).date())
            label = p.label
            only: set[str] | None
            if full:
                only = None
            elif tables is None:  # the schedule: every KPI, unless nothing changed since
                only = None if self._last != (version, label) else set()
            else:
                only = _kpis_on(self._metrics.catalog, tables)
            rep = check(engine, self.settings, period=p, metrics=self._metrics,
                        only_kpis=only)
            if only is None:
                self._last = (version, label)
            for n in rep.new:
                _say(f"alert {n['id']} ({n['rule_id']}): {n['title']} [{n['status']}]")
            for s in rep.sent:
                _say(f"alert {s['alert_id']} → {s['dest']}: "
                     f"{'sent' if s['ok'] else 'not delivered, retried later: ' + s['error']}")
        except Exception as e:  # logged, never raised into the run
            _say(f"alerts: evaluation failed: {type(e).__name__}: {e}")


def _kpis_on(catalog: Catalog, tables: set[str]) -> set[str]:
    """The KPIs whose figures read any of ``tables`` (divisions move every figure)."""
    if "divisions" in tables:
        return set(catalog.kpis)
    return {k.id for k in catalog.kpis.values()
            if any(m.table in tables for m in k.measures().values())}


def _say(message: str) -> None:
    log.info(message)
    sys.stderr.write(f"{message}\n")


def observers_for(settings: Any) -> list[AlertObserver]:
    """The alert observer when rules are configured: the ``alerts`` extension of the
    ``gongzhi.observers`` group (pyproject.toml), so every runner and the scheduler get it."""
    return [AlertObserver(settings)] if settings.alerting.rules else []
