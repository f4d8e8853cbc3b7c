"""Cached loaders: the only module of the dashboard that reads the warehouse.

KPIs come from :mod:`metrics` (``views`` for page frames, ``detail`` for rows) and run
information from :mod:`warehouse.runlog`; pages never hold SQL or KPI arithmetic. Every
cached function takes a :class:`Key` (config path, data version and the viewer) as its first
argument: ``st.cache_data`` is shared by every session, so the viewer's area must be part of
the key, and a new run (a new data version) must miss the cache. The viewer also goes into
every metrics call, which refuses an area outside the viewer's own (``AccessDenied``): the
data layer enforces access, not only the widgets. Exports, and views of person-level rows,
write an audit record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import polars as pl
import streamlit as st
from sqlalchemy.event import listens_for
from sqlalchemy.exc import SQLAlchemyError

from core import divisions, reasons
from core.errors import ConfigError, NoDivisions, Problem
from core.settings import Settings, load_settings
from metrics import calendar, committees, detail, geo, latest, periods, semantic, ticker, views
from metrics.access import AccessDenied, Viewer
from metrics.compiler import NotApplicable, Scope
from metrics.service import Metrics
from warehouse import audit, requests, runlog
from warehouse.engine import (
    data_version,
    is_sqlite,
    last_loaded,
    make_engine,
    open_for_reading,
    open_replica,
)

# Detail tables whose rows are about people (pseudonymised ids): viewing them is audited.
PERSONAL_DETAILS = detail.personal_domains()  # from the semantic layer
EXPORT_CAP = detail.EXPORT_CAP  # rows; an export beyond asks to narrow the filter

@dataclass(frozen=True)
class Key:
    """What every cached read depends on: which warehouse, which data, whose area."""

    config: str
    version: int
    viewer: Viewer


def _key_hash(k: Key) -> tuple[str, int, str]:
    # A cached read depends on the viewer's role and area, never on who they are: ten street
    # staff of one street share one entry (the metrics layer keys its results the same way),
    # while a leader's entry is never a street's. Audit records are written outside the cache.
    return (k.config, k.version, k.viewer.key())


# Bounded, so a long-running server keeps its memory: old data versions age out.
cached = st.cache_data(show_spinner=False, max_entries=256, ttl=dt.timedelta(hours=6),
                       hash_funcs={Key: _key_hash})


SQLITE_CACHE = "PRAGMA cache_size=-32768"  # 32 MiB page cache per dashboard connection


@st.cache_resource(show_spinner=False)
def _open(config: str) -> tuple[Settings, Metrics]:
    # the common checks; plugin options are the scheduler's (it validates them at start-up)
    settings = load_settings(config or None)
    if settings.warehouse_read_url:
        # a hot standby: figures, freshness and the data version follow its replay; app state
        # (sign-in, audit, run-now) is written to the primary (warehouse.engine.app_engine)
        primary = make_engine(settings.warehouse_url)
        return settings, Metrics(open_replica(settings.warehouse_read_url, primary))
    engine = open_for_reading(settings.warehouse_url)  # never waits for a running merge
    if is_sqlite(engine):
        # The warehouse's default page cache (128 MiB a connection) suits merges into big
        # tables; the dashboard only reads, from several pooled connections, and keeps its
        # memory bounded (DESIGN §8: ≤ 600 MB RSS at benchmark scale).
        @listens_for(engine, "connect")
        def _smaller_cache(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(SQLITE_CACHE)
            cur.close()

        engine.dispose()  # the schema check's pooled connection had the larger cache
    return settings, Metrics(engine)


def reading_standby() -> bool:
    """Whether this dashboard reads a hot standby (``[warehouse] read_url``)."""
    return bool(settings().warehouse_read_url)


def config_path() -> str:
    """The config ``gongzhi serve`` passed on (``GONGZHI_CONFIG``), or '' for the default."""
    return os.environ.get("GONGZHI_CONFIG", "")


def settings() -> Settings:
    return _open(config_path())[0]


def metrics() -> Metrics:
    return _open(config_path())[1]


def version() -> int:
    """The warehouse's data version (changes on every run that changes data) plus the area
    targets' revision: both only grow, so their sum changes whenever either does and a new
    target recolours the cached figures."""
    from warehouse import office

    engine = metrics().engine
    try:
        rev = office.revision(engine)
    except SQLAlchemyError:  # a warehouse from before the office tables, read only
        rev = 0
    return data_version(engine) + rev


@cached
def _last_loaded(config: str, ver: int) -> dt.datetime | None:
    return last_loaded(metrics().engine)


def last_update() -> dt.datetime | None:
    """When the warehouse's data last changed (naive UTC), or None before the first load."""
    return _last_loaded(config_path(), version())


def key(viewer: Viewer, ver: int | None = None) -> Key:
    return Key(config_path(), version() if ver is None else ver, viewer)


# -- divisions ---------------------------------------------------------------------------------


@cached
def _divisions(config: str, ver: int) -> pl.DataFrame:
    d = metrics().divisions()
    return d.with_columns(pl.coalesce("short_name", "name").alias("label"))


def units(k: Key) -> pl.DataFrame:
    """Divisions people can pick: active, not a placeholder (虚拟社区), inside the viewer's
    area."""
    d = _divisions(k.config, k.version).filter(pl.col("active") & ~pl.col("placeholder"))
    depth = pl.col("level").replace_strict(divisions.DEPTH, default=-1, return_dtype=pl.Int8)
    own = d.filter(pl.col("code").str.starts_with(k.viewer.prefix)
                   & (depth >= divisions.depth(k.viewer.level)))
    if k.viewer.level == "community":  # their street, shown (fixed) above their community
        street = divisions.code_at(k.viewer.area, "street")
        own = pl.concat([d.filter(pl.col("code") == street), own])
    return own


def names(k: Key) -> dict[str, str]:
    """Code → display name for every division, retired ones included (old rows use them)."""
    d = _divisions(k.config, k.version)
    return dict(zip(d["code"], d["label"], strict=True))


def parents(k: Key) -> dict[str, str]:
    """Code → parent code for every division."""
    d = _divisions(k.config, k.version)
    return dict(zip(d["code"], d["parent_code"], strict=True))


def district(k: Key) -> Scope:
    """The district; raises ConfigError when the warehouse has no division list yet."""
    d = _divisions(k.config, k.version).filter(pl.col("level") == "district")
    if d.is_empty():
        raise NoDivisions()
    return Scope("district", d["code"][0], d["label"][0])


def district_code() -> str:
    """The district's code ('' before the division list is loaded)."""
    d = _divisions(config_path(), version()).filter(pl.col("level") == "district")
    return "" if d.is_empty() else str(d["code"][0])


def allowed_scope(k: Key) -> Scope:
    """The widest area the viewer may see."""
    if k.viewer.level == "district" or not k.viewer.area:
        return district(k)
    return unit_scope(k, k.viewer.area)


def unit_scope(k: Key, code: str) -> Scope:
    row = _divisions(k.config, k.version).filter(pl.col("code") == code)
    if row.is_empty():
        raise ConfigError([Problem(code, "unknown division code")])
    r = row.row(0, named=True)
    return Scope(r["level"], r["code"], r["label"])


def _check(k: Key, scope: Scope) -> None:
    """Refuse a scope outside the viewer's area (AccessDenied)."""
    k.viewer.check(scope.level, scope.code)


# -- KPI views ---------------------------------------------------------------------------------


def _plain(frame: pl.DataFrame) -> pl.DataFrame:
    """An empty result comes with Object columns, which cannot be cached (pickled): give it
    plain null columns instead."""
    if not any(dt == pl.Object for dt in frame.dtypes):
        return frame
    if frame.height:
        return frame.with_columns(pl.col(c).map_elements(str, return_dtype=pl.String)
                                  for c, dt in frame.schema.items() if dt == pl.Object)
    return pl.DataFrame(schema={c: (pl.Null if dt == pl.Object else dt)
                                for c, dt in frame.schema.items()})


def _plain_all(page: Any) -> Any:
    for f in dataclasses.fields(page):
        setattr(page, f.name, _plain(getattr(page, f.name)))
    return page


@cached
def _overview(k: Key, level: str, code: str, name: str, period: str) -> views.Overview:
    scope = Scope(level, code, name)
    _check(k, scope)
    return _plain_all(views.overview(metrics(), scope, periods.parse(period),
                                     viewer=k.viewer))


def overview(k: Key, scope: Scope, period: str) -> views.Overview:
    """Headline cards, sparklines, ranking one level down and the three-colour board."""
    return _overview(k, scope.level, scope.code, scope.name, period)


@cached
def _domain(k: Key, domain: str, level: str, code: str, name: str,
            period: str) -> views.DomainPage:
    scope = Scope(level, code, name)
    _check(k, scope)
    return _plain_all(views.domain_page(metrics(), domain, scope, periods.parse(period),
                                        viewer=k.viewer))


def domain_page(k: Key, domain: str, scope: Scope, period: str) -> views.DomainPage:
    """A domain's KPIs, 12-month trends and ranking one level down."""
    return _domain(k, domain, scope.level, scope.code, scope.name, period)


@cached
def _domain_board(k: Key, domain: str, level: str, code: str, name: str,
                  period: str) -> pl.DataFrame:
    scope = Scope(level, code, name)
    _check(k, scope)
    return _plain(views.domain_board(metrics(), domain, scope, periods.parse(period),
                                     viewer=k.viewer))


def domain_board(k: Key, domain: str, scope: Scope, period: str) -> pl.DataFrame:
    """A domain's KPIs by community (grid in a community) where targets hold there."""
    return _domain_board(k, domain, scope.level, scope.code, scope.name, period)


@cached
def _heatmap(k: Key, kpi: str, level: str, code: str, name: str, period: str) -> pl.DataFrame:
    scope = Scope(level, code, name)
    _check(k, scope)
    return _plain(views.heatmap(metrics(), kpi, scope, periods.parse(period),
                                viewer=k.viewer))


def heatmap(k: Key, kpi: str, scope: Scope, period: str) -> pl.DataFrame:
    """One KPI by the areas one level down × month (area, month, value, status)."""
    return _heatmap(k, kpi, scope.level, scope.code, scope.name, period)


@cached
def _opening_month(k: Key, level: str, code: str, not_after: str) -> str | None:
    scope = Scope(level, code)
    _check(k, scope)
    found = latest.latest_month(metrics(), scope, periods.parse(not_after))
    return found.label if found else None


def opening_month(k: Key, scope: Scope, not_after: str) -> str | None:
    """The latest month, up to ``not_after``, with data in ``scope`` (where the dashboard
    opens); None when the area has no data at all."""
    return _opening_month(k, scope.level, scope.code, not_after)


def catalog() -> Any:
    return metrics().catalog


@cached
def _top_values(k: Key, page: str, level: str, code: str, period: str) -> pl.DataFrame:
    scope = Scope(level, code)
    _check(k, scope)
    top = semantic.load().pages[page].top
    assert top is not None
    return detail.top_values(metrics().engine, top.table, top.column, top.time, scope,
                             periods.parse(period), top.n, viewer=k.viewer)


def top_values(k: Key, page: str, scope: Scope, period: str) -> pl.DataFrame:
    """The page's "top values" section (semantic layer ``top``): value, rows."""
    return _top_values(k, page, scope.level, scope.code, period)


@cached
def _committees(k: Key, level: str, code: str, period: str) -> pl.DataFrame:
    scope = Scope(level, code)
    _check(k, scope)
    return committees.latest(metrics().engine, scope, periods.parse(period), viewer=k.viewer)


def committees_latest(k: Key, scope: Scope, period: str) -> pl.DataFrame:
    """Each community's latest 三色研判 up to the period's end (metrics.committees)."""
    return _committees(k, scope.level, scope.code, period)


def applicable(frame: pl.DataFrame, level: str) -> pl.DataFrame:
    """Rows of KPIs that are defined for areas of ``level`` (the catalogue's ``scopes``):
    a district-only KPI has no card on a street's page."""
    cat = catalog()
    ids = [k for k in frame["kpi"].unique(maintain_order=True) if level in cat.get(k).scopes]
    return frame.filter(pl.col("kpi").is_in(ids))


@cached
def _latest_events(k: Key, level: str, code: str, per_kind: int) -> pl.DataFrame:
    scope = Scope(level, code)
    _check(k, scope)
    return ticker.latest_events(metrics().engine, scope, per_kind, viewer=k.viewer)


def latest_events(k: Key, scope: Scope, per_kind: int) -> pl.DataFrame:
    """The newest grid events, service cases and runs of ``scope`` (the big screen's ticker;
    a few short rows, per data version)."""
    return _latest_events(k, scope.level, scope.code, per_kind)


# -- detail rows -------------------------------------------------------------------------------


@cached
def _detail_count(k: Key, domain: str, level: str, code: str, period: str) -> int | None:
    scope = Scope(level, code)
    _check(k, scope)
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
    _check(k, scope)
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
    _check(k, scope)
    rows = detail.rows(metrics().engine, domain, scope, periods.parse(period), offset=0,
                       limit=detail.EXPORT_CAP, viewer=k.viewer)
    audit.record(metrics().engine, username=k.viewer.username, role=k.viewer.role,
                 action=audit.EXPORT, target=f"detail:{domain}:{fmt}",
                 filters={"scope": scope.key(), "period": period}, row_count=rows.height)
    return detail.labelled(rows, domain, lang, names(k))


# -- drill-through, breakdowns, A-vs-B -----------------------------------------------------------


def _figure(kpi: str, part: str, scope: Scope, period: str, dim: str | None,
            key: str | None) -> Any:
    from metrics import drill

    return drill.Figure(kpi, part, scope, periods.parse(period), dim, key)


@cached
def _drill_total(k: Key, kpi: str, part: str, level: str, code: str, period: str,
                 dim: str | None, key: str | None) -> int | None:
    from metrics import drill

    scope = Scope(level, code)
    _check(k, scope)
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
    _check(k, scope)
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

    _check(k, scope)
    fig = _figure(kpi, part, scope, period, dim, key)
    frame, spec = drill.export(metrics().engine, catalog().get(kpi), fig, viewer=k.viewer)
    drill.record(metrics().engine, k.viewer, audit.EXPORT, fig, frame.height, format=fmt)
    return drill.for_people(frame, spec, lang, names(k))


@cached
def _breakdown(k: Key, kpi: str, dim: str, level: str, code: str, name: str,
               period: str) -> pl.DataFrame:
    scope = Scope(level, code, name)
    _check(k, scope)
    return _plain(metrics().compute([kpi], scope, periods.parse(period), dim,  # type: ignore
                                    compare=False, viewer=k.viewer))


def breakdown(k: Key, kpi: str, dim: str, scope: Scope, period: str) -> pl.DataFrame:
    """One KPI by a breakdown dimension (category, department, channel, item)."""
    return _breakdown(k, kpi, dim, scope.level, scope.code, scope.name, period)


@cached
def _versus(k: Key, ids: tuple[str, ...], level: str, code: str, name: str, a: str,
            b: str) -> pl.DataFrame:
    scope = Scope(level, code, name)
    _check(k, scope)
    return _plain(views.versus(metrics(), list(ids), scope, periods.parse(a), periods.parse(b),
                               viewer=k.viewer))


def versus(k: Key, ids: list[str], scope: Scope, a: str, b: str) -> pl.DataFrame:
    """KPIs in periods A and B side by side with the change."""
    return _versus(k, tuple(ids), scope.level, scope.code, scope.name, a, b)


# -- runs, quarantine, freshness, run-now ------------------------------------------------------


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


# -- 综合考评 ---------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _schemes(config: str) -> dict[str, Any]:
    from metrics.scoring import load_schemes

    return load_schemes(metrics().catalog)


@cached
def _ranking(k: Key, level: str, period: str, within: str) -> pl.DataFrame:
    from metrics.ranking import compute_ranking
    from metrics.scoring import pick

    scheme = pick(_schemes(k.config), None)
    r = compute_ranking(metrics(), scheme, level, periods.parse(period), viewer=k.viewer)
    if within:
        r = r.within("street", within)
    rows = [{"rank": x.rank, "code": x.code, "name": x.name, "score": x.score,
             "status": x.status, "rank_change": x.rank_change, "prev_rank": x.prev_rank,
             "board": x.board, "redistributed": x.redistributed} for x in r.rows]
    return pl.DataFrame(rows, schema={
        "rank": pl.Int64, "code": pl.String, "name": pl.String, "score": pl.Float64,
        "status": pl.String, "rank_change": pl.Int64, "prev_rank": pl.Int64,
        "board": pl.String, "redistributed": pl.Boolean})


def ranking(k: Key, level: str, period: str, within: str = "") -> pl.DataFrame:
    """The composite ranking (综合考评) of the streets, or of the communities (of street
    ``within`` when given), under the default scheme; staff get their own area's rows."""
    return _ranking(k, level, period, within)


# -- 月度通报 ---------------------------------------------------------------------------------


def generate_bulletin(viewer: Viewer, period: str, street: Scope | None, fmt: str) -> Any:
    """Generate (archive, audit) a bulletin as ``viewer``: never cached, every click is a
    generation of record."""
    from bulletin import archive
    from core.timezone import to_local
    from metrics.scoring import pick
    from warehouse.engine import utcnow

    s = settings()
    conf = s.bulletin
    scheme = pick(_schemes(config_path()), conf.scheme)
    return archive.generate(metrics(), scheme, periods.parse(period), conf, viewer,
                            street=street, fmt=fmt, trigger="dashboard",
                            issued=to_local(utcnow()).date())


def bulletin_archive(viewer: Viewer) -> list[dict[str, Any]]:
    """Archived bulletins the viewer may download (never cached: new ones appear at once)."""
    from bulletin import archive

    return archive.listing(metrics(), viewer)


# -- 督办 tasks and the alert log (warehouse.cycle enforces the viewer's area) ----------------
# Not cached: tasks move between data versions, and each person's list is small.

def task_counts(viewer: Viewer) -> dict[str, int]:
    from warehouse import cycle

    return cycle.open_counts(metrics().engine, viewer)


def tasks_for(viewer: Viewer, mine: str, area_prefix: str | None = None) -> list[dict[str, Any]]:
    from warehouse import cycle

    return cycle.list_tasks(metrics().engine, viewer, mine=mine, area_prefix=area_prefix)


def task(viewer: Viewer, task_id: int) -> dict[str, Any]:
    from warehouse import cycle

    return cycle.get_task(metrics().engine, viewer, task_id)


def task_move(viewer: Viewer, move: str, task_id: int, *args: Any) -> dict[str, Any]:
    """acknowledge | answer | close | send_back, as ``viewer`` (audited in the data layer)."""
    from warehouse import cycle

    fn: Any = {"acknowledge": cycle.acknowledge, "answer": cycle.answer,
               "close": cycle.close, "send_back": cycle.send_back}[move]
    return fn(metrics().engine, viewer, task_id, *args)


def open_task(viewer: Viewer, level: str, code: str, kpi: str | None, period: str,
              note: str, due_days: int, origin: str) -> int:
    """A leader opens a task about a figure of a street or community."""
    from metrics.alerts.tasks import open_for_figure

    return open_for_figure(metrics(), viewer, level=level, code=code,
                           period=periods.parse(period), kpi_id=kpi, due_days=due_days,
                           note=note, origin=origin)


def store_attachment(name: str, content: bytes) -> Any:
    from warehouse import cycle

    conf = settings().tasks
    return cycle.store_attachment(conf.attachments, name, content,
                                  max_bytes=int(conf.max_attachment_mb * 1_000_000),
                                  types=conf.attachment_types)


def read_attachment(viewer: Viewer, task_id: int) -> tuple[str, bytes]:
    from warehouse import cycle

    return cycle.read_attachment(metrics().engine, viewer, task_id, settings().tasks.attachments)


def alert_log(viewer: Viewer, limit: int = 200) -> list[dict[str, Any]]:
    """The alert log; staff see the alerts about their own area only."""
    from warehouse import cycle

    prefix = None if viewer.role == "leader" else viewer.prefix
    return cycle.alert_entries(metrics().engine, limit=limit, prefix=prefix)


# -- map ---------------------------------------------------------------------------------------


@cached
def _map_areas(k: Key, kpi: str, level: str, code: str, name: str, period: str,
               map_level: str) -> pl.DataFrame:
    scope = Scope(level, code, name)
    _check(k, scope)
    return geo.choropleth(metrics(), kpi, scope, periods.parse(period), map_level,
                          viewer=k.viewer)


def map_areas(k: Key, kpi: str, scope: Scope, period: str, level: str) -> pl.DataFrame:
    """One KPI for every area of ``level`` in ``scope``, with its rank (metrics.geo)."""
    return _map_areas(k, kpi, scope.level, scope.code, scope.name, period, level)


@cached
def _map_shapes(k: Key, level: str, code: str, map_level: str,
                width: int) -> list[dict[str, Any]]:
    scope = Scope(level, code)
    _check(k, scope)
    return geo.shapes(metrics().engine, scope, map_level, viewer=k.viewer, width_px=width)


def map_shapes(k: Key, scope: Scope, level: str, width: int) -> list[dict[str, Any]]:
    """The simplified polygons of ``level`` inside ``scope`` (only the viewer's own area)."""
    return _map_shapes(k, scope.level, scope.code, level, width)


@cached
def _hex_bins(k: Key, level: str, code: str, period: str, radius: float,
              lat0: float) -> pl.DataFrame:
    scope = Scope(level, code)
    _check(k, scope)
    return geo.hex_bins(metrics().engine, scope, periods.parse(period),
                        geo.HexGrid(radius, lat0), viewer=k.viewer)


def hex_bins(k: Key, scope: Scope, period: str, grid: geo.HexGrid) -> pl.DataFrame:
    """Grid events of the period counted in hexagons by the database (no rows)."""
    return _hex_bins(k, scope.level, scope.code, period, grid.radius, grid.lat0)


@cached
def _map_notes(k: Key, level: str, code: str, map_level: str) -> list[tuple[str, str]]:
    return geo.notes(metrics().engine, Scope(level, code), map_level)


def map_notes(k: Key, scope: Scope, level: str) -> list[tuple[str, str]]:
    """Where the shapes come from (note, vintage): licence, 'demo geometry'."""
    return _map_notes(k, scope.level, scope.code, level)
