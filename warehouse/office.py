"""The district office's own records: targets per area (versioned) and the bulletin archive.

Both are application state written by leaders and the scheduler, not source data, so they
live beside the accounts and the audit log (``app_metadata``: on SQLite a file of its own,
so a leader setting a target never queues behind an ingestion run's merge). Both tables are
append-only in use: a target change or a clearing is a new row with the next version, so the
history of every target stays; the current target is the newest version.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    insert,
    select,
)

from warehouse.engine import app_engine, utcnow, write_transaction
from warehouse.schema import app_metadata

area_targets = Table(
    "area_targets",
    app_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kpi", String(64), nullable=False),
    Column("level", String(16), nullable=False),  # street | community
    Column("code", String(32), nullable=False),
    Column("year", Integer, nullable=False),
    Column("target", Float),  # None with cleared: back to the district default
    Column("warning", Float),
    Column("cleared", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False),  # 1, 2, … per (kpi, code, year)
    Column("set_by", String(128), nullable=False),
    Column("set_at", DateTime, nullable=False),
    Column("note", Text),
    Index("ix_area_targets_key", "kpi", "code", "year", "version"),
)

bulletins = Table(
    "bulletins",
    app_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("period", String(16), nullable=False),
    Column("level", String(16), nullable=False),  # district | street
    Column("code", String(32), nullable=False),  # whose version (the district or a street)
    Column("format", String(8), nullable=False),  # docx | pdf
    Column("path", Text, nullable=False),  # the archived file
    Column("sha256", String(64), nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("generated_at", DateTime, nullable=False),
    Column("generated_by", String(128), nullable=False),
    Column("trigger", String(16), nullable=False),  # cli | dashboard | schedule
    Index("ix_bulletins_period", "period", "code"),
)


@dataclass(frozen=True)
class AreaTarget:
    """The current target of one KPI for one area and year."""

    kpi: str
    level: str
    code: str
    year: int
    target: float
    warning: float | None
    version: int
    set_by: str
    set_at: dt.datetime


def revision(engine: Engine) -> int:
    """A number that grows with every target change (the newest row id): part of cache keys,
    so figures coloured by a target are computed again once it changes."""
    with app_engine(engine).connect() as conn:
        return int(conn.execute(select(func.max(area_targets.c.id))).scalar() or 0)


def current(engine: Engine) -> dict[tuple[str, str, int], AreaTarget]:
    """Every target in force, by (kpi, area code, year); cleared ones are left out."""
    t = area_targets.c
    with app_engine(engine).connect() as conn:
        rows = conn.execute(select(area_targets).order_by(t.kpi, t.code, t.year, t.version)
                            ).mappings().all()
    latest: dict[tuple[str, str, int], Any] = {}
    for r in rows:
        latest[(r["kpi"], r["code"], r["year"])] = r
    return {k: AreaTarget(r["kpi"], r["level"], r["code"], r["year"], r["target"], r["warning"],
                          r["version"], r["set_by"], r["set_at"])
            for k, r in latest.items() if not r["cleared"] and r["target"] is not None}


def history(engine: Engine, *, kpi: str | None = None, code: str | None = None,
            year: int | None = None) -> list[dict[str, Any]]:
    """Every version of the matching targets, oldest first."""
    t = area_targets.c
    stmt = select(area_targets).order_by(t.kpi, t.code, t.year, t.version)
    if kpi:
        stmt = stmt.where(t.kpi == kpi)
    if code:
        stmt = stmt.where(t.code == code)
    if year:
        stmt = stmt.where(t.year == year)
    with app_engine(engine).connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def write_target(engine: Engine, *, kpi: str, level: str, code: str, year: int,
                 target: float | None, warning: float | None, by: str,
                 note: str | None = None) -> int:
    """Append the next version of a target (``target`` None: cleared); returns the version.
    Values are checked by the caller (:mod:`metrics.targets`)."""
    t = area_targets.c
    with write_transaction(app_engine(engine)) as conn:
        last = conn.execute(select(func.max(t.version)).where(
            t.kpi == kpi, t.code == code, t.year == year)).scalar() or 0
        conn.execute(insert(area_targets).values(
            kpi=kpi, level=level, code=code, year=year, target=target,
            warning=None if target is None else warning, cleared=target is None,
            version=last + 1, set_by=by, set_at=utcnow(), note=note))
    return int(last) + 1


def record_bulletin(engine: Engine, **values: Any) -> int:
    """Add a generated bulletin to the archive list; returns its id."""
    with write_transaction(app_engine(engine)) as conn:
        res = conn.execute(insert(bulletins).values(generated_at=utcnow(), **values))
        key = res.inserted_primary_key
        assert key is not None
        return int(key[0])


def archived(engine: Engine, *, code_prefix: str = "", limit: int = 200
             ) -> list[dict[str, Any]]:
    """Archived bulletins, newest first; ``code_prefix`` keeps one area's (a staff view)."""
    b = bulletins.c
    stmt = select(bulletins).order_by(b.id.desc()).limit(limit)
    if code_prefix:
        stmt = stmt.where(b.code.startswith(code_prefix))
    with app_engine(engine).connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def bulletin(engine: Engine, bulletin_id: int) -> dict[str, Any] | None:
    with app_engine(engine).connect() as conn:
        r = conn.execute(select(bulletins).where(bulletins.c.id == bulletin_id)).mappings().first()
    return dict(r) if r else None
