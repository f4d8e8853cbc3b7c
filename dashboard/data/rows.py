"""Rows behind the figures: detail pages, exports and the drill-through of a KPI's part.

Views of person-level rows and every export write an audit record (DESIGN §6); exports are
not cached: one is made when its button is clicked.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from dashboard.data.base import Key, cached, catalog, check_scope, metrics, names
from metrics import detail, periods
from metrics.compiler import NotApplicable, Scope
from warehouse import audit

# Detail tables whose rows are about people (pseudonymised ids): viewing them is audited.
PERSONAL_DETAILS = detail.personal_domains()  # from the semantic layer
EXPORT_CAP = detail.EXPORT_CAP  # rows; an export beyond asks to narrow the filter

# -- detail rows -------------------------------------------------------------------------------


@cached
def _detail_count(k: Key, domain: str, level: str, code: str, period: str) -> int | None:
    scope = Scope(level, code)
    check_scope(k, scope)
    try:
        return detail.count(metrics().engine, domain, scope, periods.parse(period),
                            viewer=k.viewer)
    except NotApplicable:
        return None


def detail_count(k: Key, domain: str, scope: Scope, period: str) -> int | None:
    """How many detail rows the filter selects; None when the data has no such breakdown."""
    return _detail_count(k, domain, scope.level, scope.code, period)


@cached
def _detail_page(k: Key, domain: str, level: str, code: str, period: str, offset: int,
                 limit: int, lang: str) -> pl.DataFrame:
    scope = Scope(level, code)
    check_scope(k, scope)
    rows = detail.rows(metrics().engine, domain, scope, periods.parse(period), offset=offset,
                       limit=limit, viewer=k.viewer)
    return detail.labelled(rows, domain, lang, names(k))


def detail_page(k: Key, domain: str, scope: Scope, period: str, offset: int, limit: int,
                lang: str) -> pl.DataFrame:
    """One page of detail rows for people (local times, names, headers in ``lang``)."""
    return _detail_page(k, domain, scope.level, scope.code, period, offset, limit, lang)


def audit_view(k: Key, domain: str, scope: Scope, period: str, offset: int, rows: int) -> None:
    """Record that person-level detail rows were shown (DESIGN §6)."""
    if domain in PERSONAL_DETAILS:
        audit.record(metrics().engine, username=k.viewer.username, role=k.viewer.role,
                     action=audit.VIEW_ROWS, target=f"detail:{domain}",
                     filters={"scope": scope.key(), "period": period, "offset": offset},
                     row_count=rows)


def export_rows(k: Key, domain: str, scope: Scope, period: str, lang: str,
                fmt: str) -> pl.DataFrame:
    """Every detail row of the filter, up to ``detail.EXPORT_CAP``, for an export in ``fmt``
    (audited; not cached: an export is made once, when its button is clicked)."""
    check_scope(k, scope)
    rows = detail.rows(metrics().engine, domain, scope, periods.parse(period), offset=0,
                       limit=detail.EXPORT_CAP, viewer=k.viewer)
    audit.record(metrics().engine, username=k.viewer.username, role=k.viewer.role,
                 action=audit.EXPORT, target=f"detail:{domain}:{fmt}",
                 filters={"scope": scope.key(), "period": period}, row_count=rows.height)
    return detail.labelled(rows, domain, lang, names(k))


# -- drill-through (the rows behind a KPI's part) ----------------------------------------------


def _figure(kpi: str, part: str, scope: Scope, period: str, dim: str | None,
            key: str | None) -> Any:
    from metrics import drill

    return drill.Figure(kpi, part, scope, periods.parse(period), dim, key)


@cached
def _drill_total(k: Key, kpi: str, part: str, level: str, code: str, period: str,
                 dim: str | None, key: str | None) -> int | None:
    from metrics import drill

    scope = Scope(level, code)
    check_scope(k, scope)
    fig = _figure(kpi, part, scope, period, dim, key)
    try:
        known = drill.known_total(metrics(), catalog().get(kpi), fig)  # a count: its figure
        if known is not None:
            return known
        return drill.count(metrics().engine, catalog().get(kpi), fig, viewer=k.viewer)
    except NotApplicable:
        return None


def drill_total(k: Key, kpi: str, part: str, scope: Scope, period: str,
                dim: str | None = None, key: str | None = None) -> int | None:
    """How many rows are behind a KPI's part; None where the KPI has none at this level."""
    return _drill_total(k, kpi, part, scope.level, scope.code, period, dim, key)


@cached
def _drill_page(k: Key, kpi: str, part: str, level: str, code: str, period: str,
                dim: str | None, key: str | None, offset: int, limit: int,
                lang: str) -> pl.DataFrame:
    from metrics import drill

    scope = Scope(level, code)
    check_scope(k, scope)
    frame, spec = drill.rows(metrics().engine, catalog().get(kpi),
                             _figure(kpi, part, scope, period, dim, key), offset=offset,
                             limit=limit, viewer=k.viewer)
    return drill.for_people(frame, spec, lang, names(k))


def drill_page(k: Key, kpi: str, part: str, scope: Scope, period: str, dim: str | None,
               key: str | None, offset: int, limit: int, lang: str) -> pl.DataFrame:
    """One page of the rows behind a KPI's part, for people (local times, names)."""
    return _drill_page(k, kpi, part, scope.level, scope.code, period, dim, key, offset, limit,
                       lang)


def audit_drill(k: Key, kpi: str, part: str, scope: Scope, period: str, dim: str | None,
                key: str | None, offset: int, rows: int) -> None:
    """Record that the rows behind a figure were shown (every drill-through view)."""
    from metrics import drill

    drill.record(metrics().engine, k.viewer, audit.VIEW_ROWS,
                 _figure(kpi, part, scope, period, dim, key), rows, offset=offset)


def drill_export(k: Key, kpi: str, part: str, scope: Scope, period: str, dim: str | None,
                 key: str | None, lang: str, fmt: str) -> pl.DataFrame:
    """Every row behind a figure (up to the export cap) for an export in ``fmt``; audited,
    not cached."""
    from metrics import drill

    check_scope(k, scope)
    fig = _figure(kpi, part, scope, period, dim, key)
    frame, spec = drill.export(metrics().engine, catalog().get(kpi), fig, viewer=k.viewer)
    drill.record(metrics().engine, k.viewer, audit.EXPORT, fig, frame.height, format=fmt)
    return drill.for_people(frame, spec, lang, names(k))
