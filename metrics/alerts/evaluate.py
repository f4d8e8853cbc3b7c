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
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Engine, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.alertconfig import KPI_RULES, AlertingSettings, AlertRule
from metrics import format as fmt
from metrics import periods
from metrics.alerts import deliver
from metrics.alerts.workdays import due_date
from metrics.catalog import Catalog
from metrics.periods import Period
from metrics.service import Metrics
from warehouse import cycle, runlog
from warehouse.engine import app_engine, data_version, utcnow, write_transaction

log = logging.getLogger("gongzhi.alerts")
RULE_WORDS = {"kpi_red": "指标红色", "kpi_drop": "指标下滑", "source_failed": "数据源运行失败",
              "source_stale": "数据源未更新", "task_overdue": "督办任务逾期"}
SEVERITY_WORDS = {"red": "红色预警", "yellow": "黄色预警"}
LEVEL_WORDS = {"district": "区", "street": "街道", "community": "社区", "source": "数据源"}


@dataclass
class Candidate:
    """A figure or a source that a rule fires on (recorded once per key)."""

    rule: AlertRule
    subject_level: str
    subject_code: str
    subject_name: str
    period: str
    kpi: str = ""
    value: float | None = None
    target: float | None = None
    unit: str | None = None
    title: str = ""
    message: str = ""
    figure: cycle.Figure | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.rule.id, self.subject_code, self.kpi, self.period)


@dataclass
class CheckReport:
    """What one check did: alerts recorded (new), and deliveries tried."""

    new: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # alert id, title, dest, ok, error
    problems: list[str] = field(default_factory=list)
    period: str = ""
    seconds: float = 0.0


# -- candidates --------------------------------------------------------------------------------

def _names(m: Metrics) -> dict[str, str]:
    d = m.divisions()
    return dict(zip(d["code"].to_list(),
                    d["short_name"].fill_null(d["name"]).to_list(), strict=True))


def kpi_candidates(m: Metrics, rules: Sequence[AlertRule], period: Period,
                   only: set[str] | None = None) -> list[Candidate]:
    """Candidates of the KPI rules: one grouped computation per level for all their KPIs
    (those in ``only`` when given)."""
    catalog = m.catalog
    # per level: every KPI watched, and those whose previous period is needed (kpi_drop)
    by_level: dict[str, tuple[set[str], set[str]]] = {}
    for r in rules:
        ids, prev = by_level.setdefault(r.level, (set(), set()))
        ids.update(_rule_kpis(r, catalog, only))
        if r.rule == "kpi_drop":
            prev.update(_rule_kpis(r, catalog, only))
    out: list[Candidate] = []
    if not by_level:
        return out
    district = m.district()
    names = _names(m)
    for level, (ids, prev_ids) in by_level.items():
        if not ids:
            continue
        group: Any = None if level == "district" else level
        # the current period for all, the previous one only for the drop rules' KPIs: a
        # third of the work of compare=True (which adds the same period last year)
        frame = m.compute(sorted(ids), district, period, group, compare=False)
        if frame.is_empty():
            continue
        before: dict[tuple[str, Any], Any] = {}
        if prev_ids:
            pf = m.compute(sorted(prev_ids), district, period.previous(), group, compare=False)
            before = dict(zip(zip(pf["kpi"].to_list(), pf["key"].to_list(), strict=True),
                              pf["value"].to_list(), strict=True))
        # only what a rule can raise (a red figure, or a KPI a drop rule watches), and only
        # the columns the candidates read: turning thousands of rows of every column into
        # dicts was a fifth of the evaluation
        rows = frame.filter(pl.col("value").is_not_null()
                            & ((pl.col("status") == "red")
                               | pl.col("kpi").is_in(sorted(prev_ids)))).select(
            "kpi", "key", "value", "unit", "target", "status", "sample").to_dicts()
        for row in rows:
            pv = before.get((row["kpi"], row["key"]))
            if pv is None and row["kpi"] in prev_ids and catalog.kpis[row["kpi"]].is_ratio:
                pv = None  # a ratio without a denominator last period: no change to judge
            row["prev_value"] = pv
            row["delta_prev"] = None if pv is None else row["value"] - pv
        for r in rules:
            if r.level != level:
                continue
            wanted = set(_rule_kpis(r, catalog, only))
            for row in rows:
                if row["kpi"] not in wanted:
                    continue
                code = district.code if level == "district" else row["key"]
                if code is None:
                    continue
                c = _kpi_candidate(r, row, level, code, names.get(code, code), period,
                                   catalog)
                if c is not None:
                    out.append(c)
    return out


def _rule_kpis(rule: AlertRule, catalog: Catalog, only: set[str] | None = None) -> list[str]:
    ids = ([k for k in rule.kpis if k in catalog.kpis] if rule.kpis else
           [k.id for k in catalog.kpis.values() if k.target is not None and k.periodic])
    return ids if only is None else [k for k in ids if k in only]


def _kpi_candidate(rule: AlertRule, row: dict[str, Any], level: str, code: str, name: str,
                   period: Period, catalog: Catalog) -> Candidate | None:
    kpi = catalog.kpis[row["kpi"]]
    unit = row["unit"]
    if rule.rule == "kpi_red":
        if row["status"] != "red":
            return None
        why = (f"未达目标（目标{'≥' if kpi.direction == 'higher' else '≤'}"
               f"{fmt.value(row['target'], unit)}）")
    else:  # kpi_drop: worsened by more than `points` against the previous period
        delta = row["delta_prev"]
        if delta is None or rule.points is None:
            return None
        worse = -delta if kpi.direction == "higher" else delta
        limit = rule.points / 100 if unit == "ratio" else rule.points
        if worse <= limit + 1e-12:
            return None
        size = fmt.value(abs(delta), unit) if unit != "ratio" else f"{abs(delta) * 100:.1f}个百分点"
        why = f"较上期{'下降' if kpi.direction == 'higher' else '上升'}{size}"
    label = kpi.label.zh
    title = (f"【{SEVERITY_WORDS[rule.severity]}】{name} {label} {period.label} "
             f"{fmt.value(row['value'], unit)}，{why}")
    lines = [f"规则：{rule.id}（{RULE_WORDS[rule.rule]}）",
             f"区域：{name}（{code}）",
             f"指标：{label}（{kpi.id}）",
             f"期间：{period.label}",
             f"数值：{fmt.value(row['value'], unit)}",
             f"目标：{fmt.value(row['target'], unit) if row['target'] is not None else '—'}",
             f"上期：{fmt.value(row['prev_value'], unit)}"
             f"（环比 {fmt.delta(row['delta_prev'], unit)}）",
             f"样本：{row['sample']}",
             f"口径：{' '.join(kpi.description.split())}"]
    figure = cycle.Figure(kpi=kpi.id, kpi_label=label, definition=kpi.description.strip(),
                          period=period.label, value=row["value"], target=row["target"],
                          unit=unit, status=row["status"])
    return Candidate(rule, level, code, name, period.label, kpi.id, row["value"],
                     row["target"], unit, title, "\n".join(lines), figure)


def source_candidates(engine: Engine, rules: Sequence[AlertRule], source_ids: Sequence[str],
                      scheduled: set[str], now: dt.datetime, tz: ZoneInfo) -> list[Candidate]:
    """Candidates of source_failed and source_stale from the run log."""
    states = runlog.source_states(engine)
    out: list[Candidate] = []
    today = _local(now, tz).date().isoformat()
    for r in rules:
        if r.rule == "source_failed":
            for sid in r.sources or source_ids:
                st = states.get(sid)
                if not st or st["status"] != runlog.FAILED:
                    continue
                when = _local(st["at"] or now, tz)
                err = " ".join(str(st["message"] or "").split())[:300]
                out.append(Candidate(
                    r, "source", sid, sid, when.date().isoformat(),
                    title=f"【{SEVERITY_WORDS[r.severity]}】数据源 {sid} 运行失败",
                    message="\n".join([f"规则：{r.id}（{RULE_WORDS[r.rule]}）",
                                       f"数据源：{sid}", f"时间：{when:%Y-%m-%d %H:%M}",
                                       f"原因：{err or '—'}"])))
        elif r.rule == "source_stale" and r.hours is not None:
            for sid in r.sources or sorted(scheduled):
                st = states.get(sid)
                if not st:  # never run yet (a new installation): nothing to be stale against
                    continue
                last = st.get("checked")
                age = None if last is None else (now - last).total_seconds() / 3600
                if age is not None and age <= r.hours:
                    continue
                since = "从未成功运行" if last is None else \
                    f"上次成功：{_local(last, tz):%Y-%m-%d %H:%M}（{age:.0f} 小时前）"
                out.append(Candidate(
                    r, "source", sid, sid, today,
                    title=f"【{SEVERITY_WORDS[r.severity]}】数据源 {sid} 超过 "
                          f"{r.hours:g} 小时未更新",
                    message="\n".join([f"规则：{r.id}（{RULE_WORDS[r.rule]}）",
                                       f"数据源：{sid}", since])))
    return out


def task_candidates(engine: Engine, rules: Sequence[AlertRule], today: dt.date
                    ) -> list[Candidate]:
    out: list[Candidate] = []
    rules = [r for r in rules if r.rule == "task_overdue"]
    if not rules:
        return out
    for t in cycle.overdue_tasks(engine, today):
        late = (today - t["due_date"]).days
        for r in rules:
            if late <= r.days:  # every task, whatever the rule's level
                continue
            out.append(Candidate(
                r, t["area_level"], t["area_code"], t["area_name"], f"task:{t['id']}",
                kpi=t["kpi"] or "", value=t["value"], target=t["target"], unit=t["unit"],
                title=f"【{SEVERITY_WORDS[r.severity]}】督办任务 #{t['id']} 逾期 {late} 天："
                      f"{t['area_name']} {t['title']}",
                message="\n".join([f"规则：{r.id}（{RULE_WORDS[r.rule]}）",
                                   f"任务：#{t['id']} {t['title']}",
                                   f"责任单位：{t['area_name']}（{t['area_code']}）",
                                   f"办理期限：{t['due_date']:%Y-%m-%d}（已逾期 {late} 天）",
                                   f"交办人：{t['created_by']}"])))
    return out


# -- recording -----------------------------------------------------------------------------------

def record(engine: Engine, alerting: AlertingSettings, cands: list[Candidate],
           now: dt.datetime, tz: ZoneInfo, due_days: int) -> list[dict[str, Any]]:
    """Keep the new candidates (one per key) with a delivery row per destination; open the
    tasks that rules ask for. Returns the new alerts."""
    if not cands:
        return []
    app = app_engine(engine)
    a = cycle.alert_log.c
    rule_ids = sorted({c.rule.id for c in cands})
    with app.connect() as conn:
        known = {tuple(r) for r in conn.execute(
            select(a.rule_id, a.subject_code, a.kpi, a.period).where(a.rule_id.in_(rule_ids)))}
    fresh: dict[tuple[str, str, str, str], Candidate] = {}
    for c in cands:
        if c.key not in known:
            fresh.setdefault(c.key, c)
    new: list[dict[str, Any]] = []
    local_now = _local(now, tz)
    planned = []
    for c in fresh.values():
        dests, problem = deliver.destinations(c.rule)
        quiet = deliver.quiet_now(c.rule, alerting.quiet_hours, local_now)
        status = cycle.LOGGED if not dests else (cycle.HELD if quiet else cycle.PENDING)
        planned.append((c, dests, problem, quiet, status))
    ids: list[int | None]
    try:  # one transaction for all: hundreds of alerts on a first check cost one commit
        with write_transaction(app) as conn:
            ids = [_insert(conn, c, dests, quiet, status, now)
                   for c, dests, _, quiet, status in planned]
    except IntegrityError:  # another process recorded some meanwhile: one by one
        ids = []
        for c, dests, _, quiet, status in planned:
            try:
                with write_transaction(app) as conn:
                    ids.append(_insert(conn, c, dests, quiet, status, now))
            except IntegrityError:
                ids.append(None)
    for (c, dests, problem, _, status), alert_id in zip(planned, ids, strict=True):
        if alert_id is None:
            continue
        task_id = None
        if c.rule.open_task and c.rule.rule in KPI_RULES and c.subject_level in (
                "street", "community"):
            task_id = _open_task(engine, c, alert_id, now, c.rule.due_days or due_days)
        new.append({"id": alert_id, "rule_id": c.rule.id, "rule": c.rule.rule,
                    "subject_code": c.subject_code, "subject_name": c.subject_name,
                    "kpi": c.kpi, "period": c.period, "value": c.value, "target": c.target,
                    "title": c.title, "message": c.message, "status": status,
                    "destinations": [d.masked for d in dests], "problem": problem,
                    "task_id": task_id})
    return new


def _insert(conn: Any, c: Candidate, dests: list[deliver.Destination], quiet: bool,
            status: str, now: dt.datetime) -> int:
    # the values as parameters, not in the statement: one statement, compiled once
    alert_id = int(conn.execute(insert(cycle.alert_log), dict(
        rule_id=c.rule.id, rule=c.rule.rule, severity=c.rule.severity,
        subject_level=c.subject_level, subject_code=c.subject_code,
        subject_name=c.subject_name, kpi=c.kpi, period=c.period, value=c.value,
        target=c.target, unit=c.unit, title=c.title[:256], message=c.message,
        created_at=now, status=status)).inserted_primary_key[0])
    for d in dests:
        conn.execute(insert(cycle.alert_deliveries), dict(
            alert_id=alert_id, dest_key=d.key, dest=d.masked[:256],
            status=cycle.HELD if quiet else cycle.PENDING, attempts=0))
    return alert_id


class _RuleActor:
    """Tasks an alert opens are issued in the rule's name (audited as ``alert:<rule>``)."""

    role = "leader"
    prefix = ""

    def __init__(self, rule_id: str):
        self.username = f"alert:{rule_id}"


def _open_task(engine: Engine, c: Candidate, alert_id: int, now: dt.datetime,
               days: int) -> int:
    task_id = cycle.open_task(
        engine, _RuleActor(c.rule.id), area_code=c.subject_code, area_level=c.subject_level,
        area_name=c.subject_name, title=c.title.split("】", 1)[-1][:200],
        due_date=due_date(engine, now, days),
        figure=c.figure or cycle.Figure(), note=c.message, origin="alert", alert_id=alert_id)
    with write_transaction(app_engine(engine)) as conn:
        conn.execute(update(cycle.alert_log).where(cycle.alert_log.c.id == alert_id)
                     .values(task_id=task_id))
    return task_id


# -- delivering ----------------------------------------------------------------------------------

def send_due(engine: Engine, alerting: AlertingSettings, now: dt.datetime, tz: ZoneInfo
             ) -> list[dict[str, Any]]:
    """Try every due delivery (new, held past quiet hours, failed past their retry time)."""
    app = app_engine(engine)
    rules = {r.id: r for r in alerting.rules}
    local_now = _local(now, tz)
    with app.connect() as conn:
        due = cycle.due_deliveries(conn, now)
        alerts = {r["id"]: dict(r) for r in conn.execute(select(cycle.alert_log).where(
            cycle.alert_log.c.id.in_({d["alert_id"] for d in due}))).mappings()} if due else {}
    jobs: list[tuple[deliver.Destination, str, str, str]] = []
    rows: list[dict[str, Any]] = []
    updates: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for d in due:
        rule = rules.get(d["rule_id"])
        alert = alerts[d["alert_id"]]
        if rule is None:
            updates.append((d, {"status": cycle.FAILED, "next_try_at": None,
                                "last_error": "the rule is no longer configured"}))
            continue
        if deliver.quiet_now(rule, alerting.quiet_hours, local_now):
            if d["status"] != cycle.HELD:
                updates.append((d, {"status": cycle.HELD}))
            continue
        dests = {x.key: x for x in deliver.destinations(rule)[0]}
        dest = dests.get(d["dest_key"])
        if dest is None:
            updates.append((d, {"status": cycle.FAILED, "next_try_at": None,
                                "last_error": "the destination is no longer configured "
                                              f"(rule {rule.id}, or {rule.notify_env} unset)"}))
            continue
        jobs.append((dest, alert["title"], alert["message"], alert["severity"]))
        rows.append(d | {"title": alert["title"]})
    outcomes = deliver.send_all(jobs, alerting.send_timeout_seconds) if jobs else []
    report: list[dict[str, Any]] = []
    for d, out in zip(rows, outcomes, strict=True):
        attempts = int(d["attempts"] or 0) + 1
        if out.ok:
            updates.append((d, {"status": cycle.SENT, "attempts": attempts, "sent_at": now,
                                "last_error": None, "next_try_at": None}))
        else:
            retry = (deliver.retry_at(now, attempts, alerting.retry_minutes)
                     if attempts < alerting.max_attempts else None)
            updates.append((d, {"status": cycle.FAILED, "attempts": attempts,
                                "last_error": out.error, "next_try_at": retry}))
            log.warning("alert %s: %s not delivered (attempt %d): %s", d["alert_id"],
                        d["dest"], attempts, out.error)
        report.append({"alert_id": d["alert_id"], "title": d["title"], "dest": d["dest"],
                       "ok": out.ok, "error": out.error, "attempts": attempts})
    if updates:
        _apply(app, updates, now)
    return report


def _apply(app: Engine, updates: list[tuple[dict[str, Any], dict[str, Any]]],
           now: dt.datetime) -> None:
    d = cycle.alert_deliveries.c
    touched = set()
    with write_transaction(app) as conn:
        for row, values in updates:
            conn.execute(update(cycle.alert_deliveries).where(
                d.alert_id == row["alert_id"], d.dest_key == row["dest_key"]).values(**values))
            touched.add(row["alert_id"])
        for alert_id in touched:  # the alert's state: every destination sent, or not yet
            states = set(conn.execute(select(d.status).where(d.alert_id == alert_id))
                         .scalars())
            status = (cycle.SENT if states == {cycle.SENT} else cycle.FAILED
                      if cycle.FAILED in states else cycle.HELD if cycle.HELD in states
                      else cycle.PENDING)
            done: dict[str, Any] = {"status": status}
            if status == cycle.SENT:
                done["sent_at"] = now
            conn.execute(update(cycle.alert_log).where(cycle.alert_log.c.id == alert_id)
                         .values(**done))


# -- the entry point -----------------------------------------------------------------------------

def _local(t: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """A stored naive-UTC (or aware) time in the local zone."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(tz)


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
    today = _local(now, tz).date()
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
            p = self.period or periods.latest_complete("month", _local(utcnow(), tz).date())
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
