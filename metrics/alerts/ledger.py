"""Recording each alert once, and delivering the due ones (see :mod:`metrics.alerts.evaluate`).

One alert per rule × area (or source) × KPI × period is kept in ``alert_log``, so a re-run
finds it there and sends nothing again; a rule with ``open_task = true`` opens a 督办 task for
the area at the same time. Due deliveries are new alerts, alerts held by quiet hours that
have ended, and failed deliveries whose retry time has come.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.alertconfig import KPI_RULES, AlertingSettings
from metrics.alerts import deliver
from metrics.alerts.candidates import Candidate, local_time
from metrics.alerts.workdays import due_date
from warehouse import cycle
from warehouse.engine import app_engine, write_transaction

log = logging.getLogger("gongzhi.alerts")


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
    local_now = local_time(now, tz)
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
    local_now = local_time(now, tz)
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
