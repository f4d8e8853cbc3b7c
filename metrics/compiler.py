"""Compiling a measure × scope × period × group-by into one SQLAlchemy aggregate query.

Two targets, same result shape (``[key,] value, rows``):
- the raw fact table (any measure, any scope, grids included), filters in WHERE;
- a monthly rollup (:mod:`metrics.rollup`) when one covers the measure: far fewer rows.
No SQL text is built from strings and no fact row leaves the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Select,
    Table,
    and_,
    case,
    distinct,
    func,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from core import divisions
from metrics import breakdown, derived, semantic, sqlexpr
from metrics.model import Filter, Measure
from metrics.periods import Period
from warehouse.schema import data_tables, population

# an area one level down, a month, or a breakdown dimension (metrics.breakdown)
Group = Literal["street", "community", "grid", "month", "category", "department", "channel",
                "item", "mechanism"] | None


class NotApplicable(Exception):
    """The measure cannot be computed for this scope or grouping (e.g. a grid for data kept
    per community)."""


@dataclass(frozen=True)
class Scope:
    """Where: the district, a street, a community or a grid, by division code."""

    level: str
    code: str
    name: str = ""

    def key(self) -> str:
        return f"{self.level}:{self.code}"


def area_column(t: Table) -> ColumnElement[Any] | None:
    """The division code a row belongs to (its community or grid); None for district-wide
    tables such as the item catalogue (the semantic layer's ``area``)."""
    spec = semantic.load(check=False).table(t.name)
    return t.c[spec.area.column] if spec is not None and spec.area is not None else None


def grid_level(t: Table) -> bool:
    """Whether rows of ``t`` are filed per grid (and so can be scoped to one grid)."""
    spec = semantic.load(check=False).table(t.name)
    return spec is not None and spec.area is not None and spec.area.level == "grid"


def area_level(m: Measure) -> str | None:
    """The finest level measure ``m``'s rows are filed at (its area table's, through ``via``;
    the semantic layer's ``area``); None for data kept for the whole district only."""
    name = m.via.partition(".")[0] if m.via else m.table
    spec = semantic.load(check=False).table(name or "")
    return spec.area.level if spec is not None and spec.area is not None else None


def street_level(table: str) -> bool:
    """Whether rows of ``table`` are filed per street (the 街道职权清单 tables): they have no
    community or grid, so those scopes and groupings do not apply."""
    spec = semantic.load(check=False).table(table)
    return spec is not None and spec.area is not None and spec.area.level == "street"


def _per_street(area: ColumnElement[Any] | None) -> bool:
    table = getattr(area, "table", None)
    return isinstance(table, Table) and street_level(table.name)


def column(t: Table, name: str) -> ColumnElement[Any]:
    if name in t.c:
        return t.c[name]
    d = semantic.load(check=False).derived(t.name, name)
    if d is not None:
        return derived.sql(t, d)
    raise KeyError(f"{t.name}.{name}")


def is_boolean(t: Table, name: str) -> bool:
    if name in t.c:
        return isinstance(t.c[name].type, Boolean)
    d = semantic.load(check=False).derived(t.name, name)
    return d is not None and d.type is Boolean


def condition(t: Table, f: Filter) -> ColumnElement[Any]:
    """One structured filter as a SQL condition with bound parameters."""
    col = column(t, f.column)
    if f.op == "is_null":
        return col.is_(None)
    if f.op == "not_null":
        return col.is_not(None)
    if is_boolean(t, f.column) and f.op in ("eq", "ne") and f.ref is None:
        want = bool(f.value) if f.op == "eq" else not bool(f.value)
        return sqlexpr.is_true(col) if want else sqlexpr.is_true(~col) & col.is_not(None)
    other: Any = column(t, f.ref) if f.ref else f.value
    ops = {"eq": col.__eq__, "ne": col.__ne__, "gt": col.__gt__, "gte": col.__ge__,
           "lt": col.__lt__, "lte": col.__le__}
    if f.op == "in":
        return col.in_(f.value)
    if f.op == "not_in":
        return col.not_in(f.value)
    return ops[f.op](other)


def time_bounds(t: Table, time: str, period: Period) -> tuple[Any, Any, bool]:
    """(low, high, inclusive_high) of ``period`` in the stored form of the time column."""
    if semantic.load(check=False).is_month(t.name, time):
        first, last = period.months
        return first, last, True
    if isinstance(t.c[time].type, DateTime):
        return period.utc_start, period.utc_end, False
    return period.start, period.end, False


def window_conditions(m: Measure, t: Table, period: Period | None) -> list[ColumnElement[Any]]:
    if m.window == "latest_year":
        # per community: the latest year not after the period that this community reported
        p2 = population.alias("p2")
        latest = select(func.max(p2.c.year)).where(p2.c.community_code == t.c.community_code)
        if period is not None:
            latest = latest.where(p2.c.year <= period.last_day.year)
        return [t.c.year == latest.scalar_subquery()]
    if period is None or m.window == "none" or not m.time:
        return []
    col = t.c[m.time]
    low, high, incl = time_bounds(t, m.time, period)
    upper = col <= high if incl else col < high
    if m.window == "to_end":
        return [col.is_not(None), upper]
    return [col >= low, upper]


def prefix_range(col: ColumnElement[Any], prefix: str) -> ColumnElement[Any]:
    """``col`` starts with ``prefix``, as a range an index can serve (LIKE cannot in SQLite,
    whose LIKE is case-insensitive)."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(col >= prefix, col < upper)


# A table whose area column is optional (a 12345 export without a community) keeps rows that
# no area claims yet: they count for the district and for no street, community or grid. Its
# rollups file them under this key.
UNPLACED = ""


def unplaced(area: ColumnElement[Any]) -> ColumnElement[Any] | None:
    """The condition "this row has no area", for area columns that may lack one."""
    if getattr(area, "info", {}).get("unplaced") is not None:  # a rollup's area
        return area == UNPLACED
    if getattr(area, "nullable", False):
        return area.is_(None)
    return None


def scope_condition(area: ColumnElement[Any] | None, scope: Scope, gridded: bool
                    ) -> ColumnElement[Any] | None:
    if area is None:
        if scope.level != "district":
            raise NotApplicable("this data is kept for the whole district only")
        return None
    if scope.level in ("community", "grid") and _per_street(area):
        raise NotApplicable("this data is kept per street")
    if scope.level == "district":
        inside = prefix_range(area, divisions.prefix(scope.code, "district"))
        none = unplaced(area)
        return inside if none is None else or_(inside, none)
    if scope.level == "street":
        return prefix_range(area, divisions.prefix(scope.code, "street"))
    if scope.level == "community":
        return prefix_range(area, scope.code) if gridded else area == scope.code
    if scope.level == "grid":
        if not gridded:
            raise NotApplicable("this data is kept per community, not per grid")
        return area == scope.code
    raise ValueError(scope.level)


def group_key(group: Group, area: ColumnElement[Any] | None, t: Table, time: str | None,
              gridded: bool) -> ColumnElement[Any]:
    if area is None and group in ("street", "community", "grid"):
        raise NotApplicable("this data is kept for the whole district only")
    if group in ("community", "grid") and _per_street(area):
        raise NotApplicable("this data is kept per street")
    if group == "street" and area is not None:
        return sqlexpr.street_of(area)
    if group == "community" and area is not None:
        return sqlexpr.community_of(area)
    if group == "grid" and area is not None:
        if not gridded:
            raise NotApplicable("this data is kept per community, not per grid")
        return area
    if group == "month":
        if not time:
            raise NotApplicable("no time column to group by month")
        if semantic.load(check=False).is_month(t.name, time):
            return t.c[time]
        if isinstance(t.c[time].type, Date):
            return sqlexpr.month_of(t.c[time])
        return sqlexpr.month_of(sqlexpr.local_day(t.c[time]))
    raise ValueError(group)


@dataclass
class MeasureRows:
    """The rows a measure aggregates: FROM ``source`` WHERE ``conditions``, values in
    ``table`` (the measure's own; ``area`` is the division code that scopes them, possibly of
    a joined table). The one definition both the KPI's aggregate and the drill-through's rows
    come from."""

    source: Any
    table: Table
    area: ColumnElement[Any] | None
    gridded: bool
    conditions: list[ColumnElement[Any]]

    def where(self) -> ColumnElement[Any] | None:
        return and_(*self.conditions) if self.conditions else None

    def join_dimension(self, dim: str) -> ColumnElement[Any]:
        """The breakdown dimension's value, joining its table when it lives in another."""
        try:
            expr, join = breakdown.expression(self.table, dim)
        except breakdown.NoDimension as e:
            raise NotApplicable(str(e)) from None
        if join is not None:
            self.source = self.source.outerjoin(*join)
        return expr


def measure_rows(m: Measure, scope: Scope, period: Period | None) -> MeasureRows:
    """The rows behind measure ``m`` in ``scope`` and ``period``: its filters, its time window
    and the scope condition (NotApplicable when the data is not kept at that scope)."""
    tables = data_tables()
    assert m.table is not None
    t = tables[m.table]
    src: Any = t
    area_t = t
    if m.via:
        vt_name, _, vkey = m.via.partition(".")
        area_t = tables[vt_name]
        src = t.join(area_t, t.c[vkey] == area_t.c[vkey])
    area = area_column(area_t)
    gridded = grid_level(area_t)
    conds = [condition(t, f) for f in m.filter]
    conds += window_conditions(m, t, period)
    sc = scope_condition(area, scope, gridded)
    if sc is not None:
        conds.append(sc)
    return MeasureRows(src, t, area, gridded, conds)


def raw_query(m: Measure, scope: Scope, period: Period | None, group: Group = None) -> Select:
    """``SELECT [key,] value, rows`` of measure ``m`` straight from its table."""
    mr = measure_rows(m, scope, period)
    t = mr.table
    if m.agg == "count":
        value: Any = func.count()
        rows: Any = func.count()
    elif m.agg == "count_distinct":
        value = func.count(distinct(column(t, m.column or "")))
        rows = func.count()
    elif m.agg == "sum":
        value = func.coalesce(func.sum(column(t, m.column or "")), 0)
        rows = func.count()
    else:
        col = column(t, m.column or "")
        value = func.avg(col)
        rows = func.count(col)
    cols = [value.label("value"), rows.label("rows")]
    key: Any = None
    if group in breakdown.DIMENSIONS:
        key = mr.join_dimension(group)
    elif group is not None:
        key = group_key(group, mr.area, t, m.time, mr.gridded)
    stmt = select(*cols).select_from(mr.source)
    where = mr.where()
    if where is not None:
        stmt = stmt.where(where)
    if key is not None:
        key = key.label("key")
        none = (unplaced(mr.area) if mr.area is not None and group in ("street", "community",
                                                                        "grid") else None)
        if none is not None:  # rows without an area belong to no street or community
            stmt = stmt.where(~none)
        stmt = stmt.add_columns(key).group_by(key)
    return stmt


def rollup_query(rollup: Table, parts: list[tuple[Any, Measure, Period, str, str]],
                 scope: Scope, group: Group = None) -> tuple[Select, dict[Any, tuple[str, str]]]:
    """One statement over a monthly rollup for several measures × periods at one scope: each
    part ``(key, measure, period, value column, rows column)`` becomes a pair of conditional
    sums; returns the statement and, per part key, the labels of its value and rows. Periods
    must be whole months (month, quarter, year, ranges of months). A distinct rollup's
    parts (count_distinct: value column ``dkey``, rows ``n``) count its distinct keys.

    Kept (by table, parts, scope and grouping): the same figures asked again after a run are
    the same statement, neither built nor compiled again (SQLAlchemy's compiled cache)."""
    if (scope.level == "grid" or group == "grid") and not rollup.info.get("gridded"):
        raise NotApplicable("this rollup is kept per community, not per grid")
    memo = (rollup, tuple((k, p, v, n, m.window, m.agg) for k, m, p, v, n in parts),
            scope.key(), group)
    hit = _ROLLUP_QUERIES.get(memo)
    if hit is None:
        hit = _rollup_query(rollup, parts, scope, group)
        if len(_ROLLUP_QUERIES) >= 512:
            _ROLLUP_QUERIES.clear()
        _ROLLUP_QUERIES[memo] = hit
    return hit


_ROLLUP_QUERIES: dict[Any, tuple[Select, dict[Any, tuple[str, str]]]] = {}


_ROLLUP_COLUMNS: dict[Any, tuple[list[Any], dict[Any, tuple[str, str]], list[Any]]] = {}


def _rollup_columns(rollup: Table, parts: list[tuple[Any, Measure, Period, str, str]]
                    ) -> tuple[list[Any], dict[Any, tuple[str, str]], list[Any]]:
    """The conditional sums of :func:`rollup_query` (columns, labels, period conditions):
    the same for every scope, so a new area (each street or community a dashboard opens)
    reuses them. Building them is most of a statement's cost (a 12-month trend: hundreds of
    CASE expressions), and the compiled SQL is already shared (the area is a parameter)."""
    memo = (rollup, tuple((k, p, v, n, m.window, m.agg) for k, m, p, v, n in parts))
    hit = _ROLLUP_COLUMNS.get(memo)
    if hit is not None:
        return hit
    month = rollup.c.month
    cols: list[Any] = []
    labels: dict[Any, tuple[str, str]] = {}
    spans: list[Any] = []
    for key, m, p, value_col, rows_col in parts:
        if key in labels:
            continue
        if not p.whole_months:
            raise NotApplicable("monthly rollups cannot answer day or week periods")
        first, last = p.months
        inside = and_(month >= first, month <= last) if m.window == "period" else month <= last
        spans.append(inside)
        if m.agg == "count_distinct":  # a distinct rollup (metrics.rollup.distinct): its keys
            dkey = func.nullif(rollup.c[value_col], rollup.info["nullkey"])
            value: Any = func.count(distinct(case((inside, dkey))))
            n = func.sum(case((inside, rollup.c[rows_col]), else_=0))
        else:
            v = func.sum(case((inside, rollup.c[value_col]), else_=0))
            n = func.sum(case((inside, rollup.c[rows_col]), else_=0))
            value = (v * 1.0 / func.nullif(n, 0)) if m.agg == "avg" else func.coalesce(v, 0)
        i = len(labels)
        cols += [value.label(f"v{i}"), func.coalesce(n, 0).label(f"n{i}")]
        labels[key] = (f"v{i}", f"n{i}")
    if len(_ROLLUP_COLUMNS) >= 512:
        _ROLLUP_COLUMNS.clear()
    _ROLLUP_COLUMNS[memo] = (cols, labels, spans)
    return cols, labels, spans


def _rollup_query(rollup: Table, parts: list[tuple[Any, Measure, Period, str, str]],
                  scope: Scope, group: Group) -> tuple[Select, dict[Any, tuple[str, str]]]:
    month, area = rollup.c.month, rollup.c.area
    cols, labels, spans = _rollup_columns(rollup, parts)
    conds = [or_(*spans)]
    # ``area`` is a grid code in a grid-level table's rollup (a community's prefix range
    # holds its grids), else a community code (metrics.rollup)
    gridded = bool(rollup.info.get("gridded"))
    sc = scope_condition(area, scope, gridded)
    if sc is not None:
        conds.append(sc)
    stmt = select(*cols).select_from(rollup).where(and_(*conds))
    if group is not None:
        if group == "month":
            gkey: Any = month
        elif group == "street":
            gkey = sqlexpr.street_of(area)
        elif group == "community" and gridded:
            gkey = sqlexpr.community_of(area)
        else:  # a community's rows by community, a grid-level table's by grid
            gkey = area
        if group != "month":  # rows without an area belong to no street or community
            stmt = stmt.where(area != UNPLACED)
        stmt = stmt.add_columns(gkey.label("key")).group_by(gkey)
    return stmt, labels
