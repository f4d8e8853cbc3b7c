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
        return settings, service.Metrics(open_replica(settings.warehouse_read_url, primary))
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
    return settings, service.Metrics(engine)


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

