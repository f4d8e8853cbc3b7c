"""The warehouse connection, the cache key and the divisions: what every loader of
:mod:`dashboard.data` builds on.

Every cached function takes a :class:`Key` (config path, data version and the viewer) as its
first argument: ``st.cache_data`` is shared by every session, so the viewer's area must be part
of the key, and a new run (a new data version) must miss the cache.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

import polars as pl
import streamlit as st
from sqlalchemy.event import listens_for
from sqlalchemy.exc import SQLAlchemyError

from core import divisions
from core.errors import ConfigError, NoDivisions, Problem
from core.settings import Settings, load_settings

# The module, not the class: pages reach Metrics only through this package (tests/dashboard/
# test_parts.py keeps metrics.service imports to the data layer).
from metrics import service
from metrics.access import Viewer
from metrics.compiler import Scope
from warehouse.engine import (
    data_version,
    is_sqlite,
    last_loaded,
    make_engine,
    open_for_reading,
    open_replica,
)


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
def _open(config: str) -> tuple[Settings, service.Metrics]:
    # the common checks; plugin options are the scheduler's (it validates them at start-up)
    settings = load_settings(config or None)
    if settings.warehouse_read_url:
        # a hot standby: figures, freshness and the data version follow its replay; app state
        # (sign-in, audit, run-now) is written to the primary (warehouse.engine.app_engine)
        primary = make_engine(settings.warehouse_url)
        return settings, service.Metrics(open_replica(settings.warehouse_read_url, primary),
                                         threads=settings.warehouse_query_threads)
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
    return settings, service.Metrics(engine, threads=settings.warehouse_query_threads)


def reading_standby() -> bool:
    """Whether this dashboard reads a hot standby (``[warehouse] read_url``)."""
    return bool(settings().warehouse_read_url)


def config_path() -> str:
    """The config ``gongzhi serve`` passed on (``GONGZHI_CONFIG``), or '' for the default."""
    return os.environ.get("GONGZHI_CONFIG", "")


def settings() -> Settings:
    return _open(config_path())[0]


def metrics() -> service.Metrics:
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


def last_update(ver: int | None = None) -> dt.datetime | None:
    """When the warehouse's data last changed (naive UTC), or None before the first load;
    ``ver``: the data version the caller already read this run (saves two queries)."""
    return _last_loaded(config_path(), version() if ver is None else ver)


def key(viewer: Viewer, ver: int | None = None) -> Key:
    return Key(config_path(), version() if ver is None else ver, viewer)


# -- divisions ---------------------------------------------------------------------------------


@cached
def _divisions(config: str, ver: int) -> pl.DataFrame:
    d = metrics().divisions()
    return d.with_columns(pl.coalesce("short_name", "name").alias("label"))


@dataclass(frozen=True)
class Units:
    """The divisions a viewer can pick (:func:`units`) and the look-ups every run makes on
    them: level, parent and label by code, and each level's codes under a parent, sorted.
    Built once per data version and viewer area and shared by their sessions: read only."""

    frame: pl.DataFrame
    level: dict[str, str]
    parent: dict[str, str]
    label: dict[str, str]
    children: dict[tuple[str, str | None], list[str]]  # (level, parent or None) → codes


@dataclass(frozen=True)
class _Index:
    """Every division of a data version, looked up by code (what each run asks of them)."""

    frame: pl.DataFrame
    names: dict[str, str]
    parents: dict[str, str]
    scopes: dict[str, Scope]
    district: Scope | None
    units: dict[tuple[str, str], Units]  # by viewer (level, area), filled on first use


# Every run asks for the division list several times (filters, breadcrumb, names, the view's
# scope): a cache_data hit unpickles the whole frame each time and a polars filter on it costs
# a thread-pool round trip, so the list and its look-ups are built once per data version and
# shared as they are (cache_resource: no copy). Old versions age out like ``cached``'s.
@st.cache_resource(show_spinner=False, max_entries=8, ttl=dt.timedelta(hours=6))
def _index(config: str, ver: int) -> _Index:
    d = _divisions(config, ver)
    rows = d.select("code", "level", "label", "parent_code").rows()
    district = next((Scope(lv, c, lb) for c, lv, lb, _ in rows if lv == "district"), None)
    return _Index(frame=d, names={c: lb for c, _, lb, _ in rows},
                  parents={c: p for c, _, _, p in rows},
                  scopes={c: Scope(lv, c, lb) for c, lv, lb, _ in rows},
                  district=district, units={})


def _units_of(k: Key) -> Units:
    index = _index(k.config, k.version)
    area = (k.viewer.level, k.viewer.area)
    found = index.units.get(area)
    if found is None:  # two sessions building it at once build the same thing
        found = index.units[area] = _build_units(index.frame, k.viewer)
    return found


def _build_units(all_divisions: pl.DataFrame, viewer: Viewer) -> Units:
    d = all_divisions.filter(pl.col("active") & ~pl.col("placeholder"))
    depth = pl.col("level").replace_strict(divisions.DEPTH, default=-1, return_dtype=pl.Int8)
    own = d.filter(pl.col("code").str.starts_with(viewer.prefix)
                   & (depth >= divisions.depth(viewer.level)))
    if viewer.level == "community":  # their street, shown (fixed) above their community
        street = divisions.code_at(viewer.area, "street")
        own = pl.concat([d.filter(pl.col("code") == street), own])
    rows = own.select("code", "level", "label", "parent_code").rows()
    children: dict[tuple[str, str | None], list[str]] = {}
    for code, level, _, parent in sorted(rows):
        children.setdefault((level, None), []).append(code)
        if parent is not None:
            children.setdefault((level, parent), []).append(code)
    return Units(frame=own, level={r[0]: r[1] for r in rows}, parent={r[0]: r[3] for r in rows},
                 label={r[0]: r[2] for r in rows}, children=children)


def units(k: Key) -> pl.DataFrame:
    """Divisions people can pick: active, not a placeholder (虚拟社区), inside the viewer's
    area."""
    return _units_of(k).frame


def unit_index(k: Key) -> Units:
    """:func:`units` with its look-ups (shared, read only)."""
    return _units_of(k)


def names(k: Key) -> dict[str, str]:
    """Code → display name for every division, retired ones included (old rows use them).
    Shared by every session: read only."""
    return _index(k.config, k.version).names


def parents(k: Key) -> dict[str, str]:
    """Code → parent code for every division (shared: read only)."""
    return _index(k.config, k.version).parents


def district(k: Key) -> Scope:
    """The district; raises ConfigError when the warehouse has no division list yet."""
    found = _index(k.config, k.version).district
    if found is None:
        raise NoDivisions()
    return found


def district_code() -> str:
    """The district's code ('' before the division list is loaded)."""
    found = _index(config_path(), version()).district
    return "" if found is None else found.code


def allowed_scope(k: Key) -> Scope:
    """The widest area the viewer may see."""
    if k.viewer.level == "district" or not k.viewer.area:
        return district(k)
    return unit_scope(k, k.viewer.area)


def unit_scope(k: Key, code: str) -> Scope:
    found = _index(k.config, k.version).scopes.get(code)
    if found is None:
        raise ConfigError([Problem(code, "unknown division code")])
    return found


def check_scope(k: Key, scope: Scope) -> None:
    """Refuse a scope outside the viewer's area (AccessDenied): every loader checks before its
    metrics call (which checks again), so a crafted request never reaches a query."""
    k.viewer.check(scope.level, scope.code)


def catalog() -> Any:
    """The KPI catalogue the metrics layer loaded."""
    return metrics().catalog


# Loaded once per config: the ranking (kpis) and the bulletin generation (office) both pick one.
@st.cache_resource(show_spinner=False)
def scoring_schemes(config: str) -> dict[str, Any]:
    """The 综合考评 scoring schemes, by id (config/schemes)."""
    from metrics.scoring import load_schemes

    return load_schemes(metrics().catalog)

