"""Runs, the quarantine, freshness and run-now: what the runs page and the cards' freshness
notes read. Not cached per data version: a run that changes no data must still show."""

from __future__ import annotations

import datetime as dt
import functools
from importlib.metadata import entry_points
from typing import Any

import streamlit as st

from core import reasons
from core.errors import ConfigError, Problem
from dashboard.data.base import config_path, metrics, settings
from metrics import calendar
from metrics.access import AccessDenied, Viewer
from warehouse import audit, requests, runlog


def runs(source: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    return runlog.list_runs(metrics().engine, source=source, limit=limit, offset=offset)


def quarantine(viewer: Viewer, source: str | None, run_id: int | None, reason: str | None,
               limit: int, offset: int) -> list[dict[str, Any]]:
    """Quarantined rows (raw source rows: person-level, so leaders only, and audited)."""
    if viewer.role != "leader":
        raise AccessDenied(f"{viewer.username} ({viewer.role}) may not browse the quarantine")
    rows = runlog.list_quarantine(metrics().engine, source=source, run_id=run_id,
                                  reason=reason, limit=limit, offset=offset)
    if rows:
        audit.record(metrics().engine, username=viewer.username, role=viewer.role,
                     action=audit.VIEW_ROWS, target="quarantine",
                     filters={"source": source, "run": run_id, "reason": reason,
                              "offset": offset}, row_count=len(rows))
    return rows


def request_reprocess(viewer: Viewer, source: str | None, reason: str | None,
                      run_id: int | None) -> int:
    """Ask the scheduler process to reprocess quarantined rows (leaders only; audited)."""
    if viewer.role != "leader":
        raise AccessDenied(f"{viewer.username} ({viewer.role}) may not reprocess the quarantine")
    if source is not None and source not in {s.id for s in settings().sources}:
        raise ConfigError([Problem(source, "unknown source")])
    reasons.check_reprocessable(reason)
    rid = requests.request_reprocess(metrics().engine, source=source, reason=reason,
                                     run_id=run_id, requested_by=viewer.username)
    audit.record(metrics().engine, username=viewer.username, role=viewer.role,
                 action="reprocess_request", target=f"quarantine:{source or '*'}",
                 filters={"source": source, "reason": reason, "run": run_id, "request": rid},
                 row_count=0)
    return rid


def reprocess_requests() -> list[dict[str, Any]]:
    return requests.recent_reprocess(metrics().engine)


def audit_entries(viewer: Viewer, limit: int, offset: int) -> list[dict[str, Any]]:
    """The audit log, for leaders."""
    if viewer.role != "leader":
        raise AccessDenied(f"{viewer.username} ({viewer.role}) may not read the audit log")
    return audit.entries(metrics().engine, limit=limit, offset=offset)


def last_success() -> dict[str, dt.datetime]:
    return runlog.last_success(metrics().engine)


def calendar_status() -> calendar.CalendarStatus:
    """Whether this year's and next year's holiday arrangements are known (按期 deadlines)."""
    return calendar.calendar_status(metrics().engine,
                                    warn_days_ahead=settings().calendar.warn_days_ahead)


# A run that finds no input changes no data (and so not the data version): these are kept a
# short while instead of per version, so the warning shows within half a minute.
@st.cache_data(show_spinner=False, ttl=dt.timedelta(seconds=30), max_entries=16)
def _states(config: str) -> dict[str, dict[str, Any]]:
    return runlog.source_states(metrics().engine)


def source_states() -> dict[str, dict[str, Any]]:
    """Per source: last checked, last data arrival, latest run's status and warning."""
    return _states(config_path())


def input_warnings() -> dict[str, list[str]]:
    """Per warehouse table, the sources feeding it whose latest run found no input: the
    cards of KPIs on that table say so beside their freshness."""
    states = source_states()
    out: dict[str, list[str]] = {}
    for spec in settings().sources:
        if not (states.get(spec.id) or {}).get("warning"):
            continue
        tables = (spec.table,) if spec.table else _plugin_tables(spec.plugin)
        for table in tables:
            out.setdefault(table, []).append(spec.id)
    return out


@functools.cache
def _plugin_tables(plugin: str) -> tuple[str, ...]:
    """The tables a plugin feeds when its source names none (the class's ``tables``), read
    from the ``gongzhi.sources`` entry point as for any third-party plugin: the dashboard
    names no ingest module. () when the plugin is not installed or fails to load."""
    for ep in entry_points(group="gongzhi.sources", name=plugin):
        try:
            return tuple(getattr(ep.load(), "tables", None) or ())
        except Exception:  # a broken plugin: the scheduler reports it; no card note here
            return ()
    return ()


def pending_requests() -> list[dict[str, Any]]:
    return runlog.pending_requests(metrics().engine)


def request_run(source: str, viewer: Viewer) -> int:
    """Ask the scheduler process to run ``source`` (no ingestion inside the dashboard)."""
    if viewer.role != "leader":
        raise AccessDenied(f"{viewer.username} ({viewer.role}) may not start runs")
    if source not in {s.id for s in settings().sources}:
        raise ConfigError([Problem(source, "unknown source")])
    return runlog.request_run(metrics().engine, source, requested_by=viewer.username)
