"""Rollups of distinct counts: the distinct (area, month, key) triples a measure counts.

A distinct count does not add up across months or areas (a volunteer active in March and in
April is one volunteer of the quarter; an item exercised by two streets is one item of the
district), so these rollups keep the keys, not counts: per measure a table
``rollupd_<table>__<time>__<measure key>(month, area, dkey, n)`` holds every distinct key
of the rows the measure counts, per finest area and local month, with ``n`` the rows behind
it (the measure's row count, its sample). Any level, grouping and whole-month period is then
``count(DISTINCT dkey)`` over a few of its rows, exactly as over the facts.

``area`` is the finest code, as in the additive rollups (a grid-level table's grid, else the
community or street). A measure counted through another table (``via:
volunteers.volunteer_id``, scoped by the volunteer's community) keeps that table's area of the
key; ``NOWHERE`` when no such row is there (the facts' inner join drops the rows: so does
every scope here). A run that changes facts recomputes the months it touched (one aggregate
over those months' partitions); a run that changes the ``via`` table re-files the keys it
changed (no fact is read).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    delete,
    func,
    select,
    update,
)

from metrics import semantic, sqlexpr
from metrics.catalog import Catalog
from metrics.compiler import UNPLACED, area_column, condition, grid_level, unplaced
from metrics.model import Measure
from warehouse import direct_months
from warehouse.changed import changed_count, changed_rows
from warehouse.columns import FACT
from warehouse.schema import data_tables

DISTINCT_VERSION = 2  # bump when the layout or semantics change (rebuilds every one)
NOWHERE = "-"  # the area of a key whose ``via`` row is missing: in no scope
NULLKEY = "\x01"  # rows without a key: counted in ``n`` (the sample), never as a key


@dataclass(frozen=True)
class DistinctFamily:
    """The distinct keys of one count_distinct measure (its rows' table, time and filters)."""

    measure: Measure
    key: str

    @property
    def table(self) -> str:
        return self.measure.table or ""

    @property
    def time(self) -> str:
        return self.measure.time or ""

    @property
    def via(self) -> str | None:
        """The table whose row of the key gives the area (``volunteers``), if any."""
        return self.measure.via.partition(".")[0] if self.measure.via else None

    @property
    def name(self) -> str:
        return f"rollupd_{self.table}__{self.time}__{self.key}"[:63]

    @property
    def area_table(self) -> Table:
        return data_tables()[self.via or self.table]

    @property
    def gridded(self) -> bool:
        return grid_level(self.area_table)

    @property
    def fingerprint(self) -> str:
        spec = [DISTINCT_VERSION, self.table, self.time, self.key, self.measure.via,
                "area:grid" if self.gridded else "area:community"]
        return hashlib.sha1(json.dumps(spec).encode()).hexdigest()[:16]

    def sa_table(self) -> Table:
        """The family's table, one object per name (a new Table per query would compile
        every statement again)."""
        key = (self.name, self.fingerprint)
        table = _TABLES.get(key)
        if table is None:
            table = Table(self.name, MetaData(),
                          Column("month", String(7), primary_key=True),
                          Column("area", String(32), primary_key=True,
                                 info={"unplaced": UNPLACED}),
                          # counted distinct: sorted bytewise on PostgreSQL (a locale's
                          # collation sorts strings several times slower)
                          Column("dkey", String(128).with_variant(
                              String(128, collation="C"), "postgresql"), primary_key=True),
                          Column("n", Integer, nullable=False),
                          Index(f"ix_{self.name}_dkey"[:63], "dkey"),
                          info={"gridded": self.gridded, "nullkey": NULLKEY})
            table = _TABLES.setdefault(key, table)
        return table


_TABLES: dict[tuple[str, str], Table] = {}


def eligible_distinct(m: Measure) -> bool:
    """Whether a distinct rollup can answer ``m``: a distinct count of a stored column over a
    time column months can be told of, by its own area or that of the key's own row (via)."""
    if m.agg != "count_distinct" or not m.time or m.window not in ("period", "to_end"):
        return False
    t = data_tables().get(m.table or "")
    if t is None or t.info.get("kind") != FACT:
        return False  # registers (volunteers' teams) stay small: their own indexes serve them
    if (m.column or "") not in t.c or any(
            f.column not in t.c or (f.ref and f.ref not in t.c) for f in m.filter):
        return False  # derived columns (lookups, calendars) are left to the facts
    if not (semantic.load(check=False).is_month(t.name, m.time)
            or isinstance(t.c[m.time].type, DateTime)
            or t.c[m.time].type.python_type.__name__ == "date"):
        return False
    if m.via:
        vt, _, vkey = m.via.partition(".")
        return vkey == m.column and vt in data_tables() and area_column(data_tables()[vt]) \
            is not None
    return area_column(t) is not None


def distinct_families(catalog: Catalog) -> dict[str, DistinctFamily]:
    """The distinct rollups the catalogue's measures need, by rollup measure key."""
    from metrics.rollup.family import measure_key

    out: dict[str, DistinctFamily] = {}
    for kpi in catalog.kpis.values():
        for m in kpi.measures().values():
            if eligible_distinct(m):
                key = measure_key(m)
                if m.via:  # the key alone does not tell a via measure's area from its own
                    key = hashlib.sha1(f"{key}|{m.via}".encode()).hexdigest()[:10]
                out.setdefault(f"{m.table}|{m.time}|{key}", DistinctFamily(m, key))
    return out


def lookup_key(m: Measure) -> str:
    """The key :func:`distinct_families` files ``m`` under."""
    from metrics.rollup.family import measure_key

    key = measure_key(m)
    if m.via:
        key = hashlib.sha1(f"{key}|{m.via}".encode()).hexdigest()[:10]
    return f"{m.table}|{m.time}|{key}"


def _month_expr(t: Table, time: str) -> Any:
    from metrics.rollup.build import _month_expr as month_expr

    return month_expr(t, time)


def _area(fam: DistinctFamily, area_col: Any) -> Any:
    """The finest area of a row (UNPLACED where the area column may be empty)."""
    area: Any = area_col if fam.gridded else sqlexpr.community_of(area_col)
    return func.coalesce(area, UNPLACED) if unplaced(area_col) is not None else area


def _select(fam: DistinctFamily, keys: Any = None) -> tuple[Any, list[str]]:
    """The family's triples from its facts: (select, names); ``keys`` limits it to the
    keys a select of ``via``'s key gives."""
    t = data_tables()[fam.table]
    m = fam.measure
    src: Any = t
    at = fam.area_table
    area_col = area_column(at)
    assert area_col is not None
    area = _area(fam, area_col)
    if fam.via:
        vkey = m.column or ""
        src = t.outerjoin(at, t.c[vkey] == at.c[vkey])
        area = case((at.c[vkey].is_(None), NOWHERE), else_=area)
    dkey = t.c[m.column or ""]
    month = _month_expr(t, fam.time).label("month")
    conds: list[Any] = [t.c[fam.time].is_not(None)]
    conds += [condition(t, f) for f in m.filter]
    if keys is not None:
        conds.append(dkey.in_(keys))
    key = func.coalesce(dkey, NULLKEY)
    stmt = (select(month, area.label("area"), key.label("dkey"), func.count().label("n"))
            .select_from(src).where(and_(*conds)).group_by(month, area, key))
    return stmt, ["month", "area", "dkey", "n"]


def rebuild(conn: Connection, fam: DistinctFamily) -> None:
    rt = fam.sa_table()
    conn.execute(delete(rt))
    stmt, names = _select(fam)
    conn.execute(rt.insert().from_select(names, stmt))
    if conn.dialect.name == "postgresql":  # its first reads plan with the rows it holds
        conn.exec_driver_sql(f'ANALYZE "{rt.name}"')


def refresh_months(conn: Connection, fam: DistinctFamily, months: set[str]) -> None:
    """Recompute ``months`` (local ``YYYY-MM``) from the facts (only those months'
    partitions are read)."""
    from metrics.rollup.build import _month_bounds

    if not months:
        return
    rt = fam.sa_table()
    wanted = sorted(months)
    conn.execute(delete(rt).where(rt.c.month.in_(wanted)))
    stmt, names = _select(fam)
    stmt = stmt.where(_month_bounds(data_tables()[fam.table], fam.time, wanted))
    conn.execute(rt.insert().from_select(names, stmt))


def refile(conn: Connection, fam: DistinctFamily, keys: Any) -> None:
    """The ``via`` rows of ``keys`` (a select of their key) changed, came or went: their
    triples take the row's area now (``NOWHERE`` without one). No fact is read."""
    rt = fam.sa_table()
    at = fam.area_table
    vkey = at.c[fam.measure.column or ""]
    area_col = area_column(at)
    assert area_col is not None
    now = select(_area(fam, area_col)).where(vkey == rt.c.dkey).scalar_subquery()
    conn.execute(update(rt).where(rt.c.dkey.in_(keys))
                 .values(area=func.coalesce(now, NOWHERE)))


def months_of(conn: Connection, fam: DistinctFamily, source: Any, cond: Any) -> set[str]:
    """The months of the fact rows a join with ``source`` on ``cond`` selects."""
    t = data_tables()[fam.table]
    month = _month_expr(t, fam.time)
    rows = conn.execute(select(month).distinct().select_from(t.join(source, cond))
                        .where(t.c[fam.time].is_not(None))).scalars()
    return {str(x) for x in rows if x is not None}



class DistinctKeeper:
    """The distinct rollups' part of :class:`~metrics.rollup.RollupObserver`: the months a
    merge or a delete touches (the stored rows' before, the run's rows after) are recomputed;
    a change to a ``via`` table re-files its keys."""

    def __init__(self, catalog: Catalog):
        self.by_table: dict[str, list[DistinctFamily]] = {}
        self.by_via: dict[str, list[DistinctFamily]] = {}
        for fam in distinct_families(catalog).values():
            self.by_table.setdefault(fam.table, []).append(fam)
            if fam.via:
                self.by_via.setdefault(fam.via, []).append(fam)
        self._months: dict[str, list[set[str]]] = {}

    def before_merge(self, conn: Connection, table: Table, stage: Table) -> None:
        """The months of the stored rows the merge changes, and those of the rows sent
        straight to new months (their partitions are attached by the merge: no join with
        the scratch table finds them)."""
        fams = self.by_table.get(table.name)
        if not fams:
            return
        new: set[str] = set()
        plan = stage.info.get(direct_months.DIRECT)
        for d in (plan.tables if plan is not None else ()):
            # a partition's month is the stored (UTC) time's: the local month may be the next
            for shift in (-1, 0, 1):
                y, mo = divmod(d.year * 12 + d.month - 1 + shift, 12)
                new.add(f"{y:04d}-{mo + 1:02d}")
        if changed_count(stage):
            other, cond = changed_rows(table, stage)
            self._months[table.name] = [months_of(conn, f, other, cond) | new for f in fams]
        else:
            self._months[table.name] = [set(new) for _ in fams]

    def before(self, conn: Connection, table: Table, source: Any, cond: Any) -> None:
        """The months of the stored rows about to change or go (a join with ``source``)."""
        fams = self.by_table.get(table.name)
        if fams:
            self._months[table.name] = [months_of(conn, f, source, cond) for f in fams]

    def after(self, conn: Connection, table: Table, source: Any, cond: Any | None,
              keys: Any) -> None:
        """Recompute the months of the rows before (and of the run's rows now: ``source``
        joined on ``cond``); re-file the keys (a select) of a ``via`` table's changed rows."""
        old = self._months.pop(table.name, None)
        for i, fam in enumerate(self.by_table.get(table.name, ())):
            months = set(old[i]) if old is not None else set()
            if cond is not None:
                months |= months_of(conn, fam, source, cond)
            refresh_months(conn, fam, months)
        for fam in self.by_via.get(table.name, ()):
            refile(conn, fam, keys)
