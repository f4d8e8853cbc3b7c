"""Drill-through: from a KPI figure to exactly the rows behind its numerator or denominator.

A figure is a KPI × part (numerator, denominator, or the measure of a count KPI) × scope ×
period, optionally narrowed to one value of a breakdown dimension (a grouped row: "the
events of category 市容环境"). Its rows come from :func:`metrics.compiler.measure_rows`,
the same code that builds the KPI's aggregate, so there is no second copy of any KPI's
logic: the numerator's rows are the rows the numerator counts (for a sum, the rows it
sums; for an average, the rows whose value it averages).

Rows come a page at a time in a stable order, newest first (the measure's time column, then
the primary key; with an index on the time column, ``warehouse.drill_indexes``, the engine
reads a first page of a month without sorting it), exports up to :data:`EXPORT_CAP` rows. The
columns are the table's detail columns in the semantic layer, with its masks; personal columns
only in their masked forms (:func:`metrics.detail.columns_of`). Access is checked
here (a viewer outside the scope gets :class:`AccessDenied`); :func:`record` writes the audit
record callers owe for every view and export.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Boolean, Engine, Integer, Select, Table, func, select
from sqlalchemy.sql.elements import ColumnElement

from metrics import breakdown, semantic, sqlexpr
from metrics.access import Viewer
from metrics.compiler import MeasureRows, NotApplicable, Scope, column, measure_rows
from metrics.detail import EXPORT_CAP, columns_of, labelled_columns, masked
from metrics.model import Kpi, Measure
from metrics.periods import Period
from warehouse import audit
from warehouse.schema import polars_dtype

# ``gap``: rows the denominator counts and the numerator does not (the cases not done on
# time, the events closed late): a rate's shortfall, where both count rows of one table
PARTS = ("numerator", "denominator", "gap", "measure")
PART_LABELS = {"numerator": ("分子", "numerator"), "denominator": ("分母", "denominator"),
               "gap": ("未达标", "shortfall"), "measure": ("计数", "measure")}
PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Figure:
    """Which figure to open: a KPI's part in a scope and period, optionally only the rows of
    one value of a breakdown dimension (``dim`` set: ``key`` None means rows without one)."""

    kpi: str
    part: str
    scope: Scope
    period: Period | None
    dim: str | None = None
    key: str | None = None

    def describe(self) -> dict[str, Any]:
        """The filters, as the audit log and the exports' file names record them."""
        out: dict[str, Any] = {"kpi": self.kpi, "part": self.part, "scope": self.scope.key(),
                               "period": self.period.label if self.period else None}
        if self.dim:
            out |= {"dim": self.dim, "key": self.key}
        return out


@dataclass
class Page:
    """One page of a figure's rows, with how many there are in all."""

    rows: pl.DataFrame
    page: int
    size: int
    total: int
    columns: tuple[tuple[str, str, str], ...] = field(default=())

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))


def parts_of(kpi: Kpi) -> list[str]:
    """The parts of ``kpi`` that have rows: numerator, denominator and, for a rate whose two
    count rows of one table, the gap between them; or its measure."""
    parts = list(kpi.measures())
    if _has_gap(kpi):
        parts.append("gap")
    return parts


def _has_gap(kpi: Kpi) -> bool:
    ms = kpi.measures()
    num, den = ms.get("numerator"), ms.get("denominator")
    return (num is not None and den is not None and num.agg == den.agg == "count"
            and (num.table, num.via) == (den.table, den.via))


def measure_of(kpi: Kpi, part: str) -> Measure:
    if part == "gap" and _has_gap(kpi):
        return kpi.measures()["denominator"]
    measures = kpi.measures()
    if part not in measures:
        raise NotApplicable(f"{kpi.id} has no {part}; it has {', '.join(measures)}")
    return measures[part]


def _period_for(kpi: Kpi, m: Measure, period: Period | None) -> Period | None:
    # as the KPI service does: a state (no period) ignores the period, except a latest-year
    # lookup, which needs it to pick the year
    return period if kpi.periodic or m.window == "latest_year" else None


@dataclass
class _Plan:
    rows: MeasureRows
    columns: list[ColumnElement[Any]]
    spec: tuple[tuple[str, str, str], ...]
    order: list[ColumnElement[Any]]
    schema: dict[str, Any]
    masks: tuple[tuple[str, str], ...] = ()  # (column, mask) shown masked (free text)


def _plan(kpi: Kpi, fig: Figure) -> _Plan:
    m = measure_of(kpi, fig.part)
    mr = measure_rows(m, fig.scope, _period_for(kpi, m, fig.period))
    t: Table = mr.table
    if m.agg == "avg":  # an average's rows are those whose value it averages
        mr.conditions.append(column(t, m.column or "").is_not(None))
    if fig.part == "gap":  # the denominator's rows the numerator does not count
        num = measure_of(kpi, "numerator")
        counted = measure_rows(num, fig.scope, _period_for(kpi, num, fig.period)).where()
        if counted is not None:  # unknown (NULL) is "not counted", as in the numerator
            mr.conditions.append(~sqlexpr.is_true(counted))
        m = m.model_copy(update={"filter": (*m.filter, *num.filter)})  # show its columns
    shown = columns_of(t.name)
    spec = list(shown.columns)
    cols: list[ColumnElement[Any]] = [t.c[c] for c, _, _ in spec]
    schema: dict[str, Any] = {c: polars_dtype(t.c[c]) for c, _, _ in spec}
    used = {f.column for f in m.filter} | {f.ref for f in m.filter if f.ref} | {m.column}
    table_spec = semantic.load().table(t.name)
    for d in (table_spec.derived.values() if table_spec else ()):
        if d.name in used:
            cols.append(column(t, d.name).label(d.name))
            spec.append((d.name, d.zh, d.en))
            schema[d.name] = {Boolean: pl.Boolean, Integer: pl.Int64}.get(d.type, pl.Float64)
    if fig.dim is not None:
        expr = mr.join_dimension(fig.dim)
        mr.conditions.append(expr.is_(None) if fig.key is None else expr == fig.key)
        dim = breakdown.spec(t.name, fig.dim)
        assert dim is not None  # join_dimension raised NotApplicable otherwise
        if dim.column not in schema:  # a joined table's column (a case's department)
            cols.append(expr.label(dim.column))
            spec.append((dim.column, dim.zh, dim.en))
            schema[dim.column] = pl.String
    order: list[ColumnElement[Any]] = [t.c[k.name] for k in t.primary_key.columns]
    if m.time and m.window in ("period", "to_end"):  # newest first, ties by key
        order.insert(0, t.c[m.time].desc())
    return _Plan(mr, cols, tuple(spec), order, schema, shown.masks)


def _base(plan: _Plan, cols: list[Any]) -> Select:
    stmt = select(*cols).select_from(plan.rows.source)
    where = plan.rows.where()
    return stmt if where is None else stmt.where(where)


def count(engine: Engine, kpi: Kpi, fig: Figure, *, viewer: Viewer | None = None) -> int:
    """How many rows are behind the figure."""
    if viewer is not None:
        viewer.check(fig.scope.level, fig.scope.code)
    plan = _plan(kpi, fig)
    with engine.connect() as conn:
        return int(conn.execute(_base(plan, [func.count()])).scalar_one())


def rows(engine: Engine, kpi: Kpi, fig: Figure, *, offset: int = 0, limit: int = PAGE_SIZE,
         viewer: Viewer | None = None) -> tuple[pl.DataFrame, tuple[tuple[str, str, str], ...]]:
    """Rows ``offset`` … ``offset + limit`` behind the figure, newest first then by key
    (canonical column names, stored UTC times), and the column spec ``(column, zh, en)``."""
    if viewer is not None:
        viewer.check(fig.scope.level, fig.scope.code)
    if offset < 0 or limit < 1:
        raise ValueError("offset must be ≥ 0 and limit ≥ 1")
    plan = _plan(kpi, fig)
    stmt = _base(plan, plan.columns).order_by(*plan.order).offset(offset).limit(
        min(limit, EXPORT_CAP))
    with engine.connect() as conn:
        data = [tuple(r) for r in conn.execute(stmt)]
    frame = pl.DataFrame(data, orient="row", schema=plan.schema)
    return masked(frame, plan.masks), plan.spec


def page(engine: Engine, kpi: Kpi, fig: Figure, number: int = 1, size: int = PAGE_SIZE, *,
         viewer: Viewer | None = None, total: int | None = None) -> Page:
    """Page ``number`` (from 1) of ``size`` rows; ``total`` when the caller knows it (else
    counted). A page past the end is empty, not an error."""
    if number < 1:
        raise ValueError("pages count from 1")
    size = max(1, min(size, MAX_PAGE_SIZE))
    frame, spec = rows(engine, kpi, fig, offset=(number - 1) * size, limit=size, viewer=viewer)
    n = total if total is not None else count(engine, kpi, fig, viewer=viewer)
    return Page(frame, number, size, n, spec)


def known_total(m: Any, kpi: Kpi, fig: Figure) -> int | None:
    """The number of rows behind a count's figure as the KPI service has it (from the
    rollups when they cover it: no scan of the facts), or None when only counting the rows
    can tell (a sum, an average, a distinct count, one group of a breakdown). ``m`` is a
    :class:`metrics.service.Metrics`; equal to :func:`count` by the tests."""
    measure = measure_of(kpi, fig.part)
    if fig.dim is not None or measure.agg != "count":
        return None
    _plan(kpi, fig)  # NotApplicable where the rows are not kept at this scope
    frame = m.compute([kpi.id], fig.scope, fig.period, compare=False)
    if frame.is_empty():
        return 0
    row = frame.row(0, named=True)
    if fig.part == "gap":
        value = (row["denominator"] or 0) - (row["numerator"] or 0)
    else:
        value = row["value"] if fig.part == "measure" else row[fig.part]
    if fig.part == "measure" and value is not None:
        value = value / kpi.scale
    return round(value or 0)


def export(engine: Engine, kpi: Kpi, fig: Figure, *, viewer: Viewer | None = None
           ) -> tuple[pl.DataFrame, tuple[tuple[str, str, str], ...]]:
    """Every row behind the figure, up to :data:`EXPORT_CAP`."""
    return rows(engine, kpi, fig, offset=0, limit=EXPORT_CAP, viewer=viewer)


def for_people(frame: pl.DataFrame, spec: tuple[tuple[str, str, str], ...], lang: str = "zh",
               names: dict[str, str] | None = None) -> pl.DataFrame:
    """Local times, area names and headers in ``lang`` (what the page and the exports show)."""
    return labelled_columns(frame, spec, lang, names)


def record(engine: Engine, viewer: Viewer, action: str, fig: Figure, row_count: int,
           **extra: Any) -> None:
    """The audit record of a view (``audit.VIEW_ROWS``) or export (``audit.EXPORT``)."""
    audit.record(engine, username=viewer.username, role=viewer.role, action=action,
                 target=f"drill:{fig.kpi}:{fig.part}", filters=fig.describe() | extra,
                 row_count=row_count)
