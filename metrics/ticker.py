"""The latest events of an area, for the ticker at the foot of the 首屏 big screen.

Small by design: a few rows of each kind (grid events, service cases, ingest runs), only the
columns a one-line message needs (never free text or anything about a person), newest first.
Area facts are scoped like every KPI (:func:`metrics.compiler.scope_condition`) and checked
against the viewer; runs carry no area data (source, time, outcome) and are shown to all.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, select

from metrics.access import Viewer
from metrics.compiler import NotApplicable, Scope, area_column, grid_level, scope_condition
from warehouse.engine import utcnow
from warehouse.schema import (
    grid_event_categories,
    grid_events,
    ingest_runs,
    service_cases,
    service_items,
)

KINDS = ("grid_event", "service_case", "run")
SCHEMA: dict[str, Any] = {"kind": pl.String, "at": pl.Datetime("us"), "area": pl.String,
                          "what": pl.String, "state": pl.String}


def _scoped(stmt: Any, table: Any, scope: Scope) -> Any | None:
    """``stmt`` limited to ``scope``; None when the table cannot be cut that fine (service
    cases are filed per community, not per grid)."""
    try:
        cond = scope_condition(area_column(table), scope, grid_level(table))
    except NotApplicable:
        return None
    return stmt if cond is None else stmt.where(cond)


def latest_events(engine: Engine, scope: Scope, per_kind: int, *,
                  viewer: Viewer | None = None, now: dt.datetime | None = None) -> pl.DataFrame:
    """Up to ``per_kind`` of each kind, newest first within a kind: ``kind``, ``at`` (naive
    UTC), ``area`` (division code, None for runs), ``what`` (category name, item name or
    source id) and ``state`` (closed/open, the case status, the run status). Rows stamped
    after ``now`` (naive UTC, default the clock; a source's clock running ahead) wait."""
    if viewer is not None:
        viewer.check(scope.level, scope.code)
    if per_kind <= 0:
        return pl.DataFrame(schema=SCHEMA)
    now = now or utcnow()
    g, c, i, r = grid_events.c, grid_event_categories.c, service_items.c, ingest_runs.c
    events = (select(g.reported_at, g.grid_code, func.coalesce(c.name, g.category),
                     func.coalesce(g.closed_at, g.resolved_at).is_not(None))
              .select_from(grid_events.outerjoin(grid_event_categories,
                                                 c.category == g.category))
              .where(g.reported_at <= now)
              .order_by(g.reported_at.desc(), g.event_id).limit(per_kind))
    s = service_cases.c
    cases = (select(s.submitted_at, s.community_code, func.coalesce(i.item_name, s.item_code),
                    s.status)
             .select_from(service_cases.outerjoin(service_items, i.item_code == s.item_code))
             .where(s.submitted_at <= now)
             .order_by(s.submitted_at.desc(), s.case_id).limit(per_kind))
    runs = (select(r.finished_at, r.source, r.status).where(r.finished_at.is_not(None))
            .order_by(r.finished_at.desc(), r.run_id.desc()).limit(per_kind))
    rows: list[tuple[Any, ...]] = []
    with engine.connect() as conn:
        q = _scoped(events, grid_events, scope)
        if q is not None:
            rows += [("grid_event", at, area, what, "closed" if done else "open")
                     for at, area, what, done in conn.execute(q)]
        q = _scoped(cases, service_cases, scope)
        if q is not None:
            rows += [("service_case", at, area, what, status)
                     for at, area, what, status in conn.execute(q)]
        rows += [("run", at, None, source, status) for at, source, status in conn.execute(runs)]
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")
