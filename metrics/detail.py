"""Detail rows behind a domain page: the fact rows of one area and period, a page at a time.

These are for reading and exporting, never for computing KPIs. Times are shown in
Asia/Shanghai, codes get their names, and every query is bounded (a page, or the export cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Engine, and_, func, select

from core import privacy
from core.divisions import AREA_LEVELS
from core.errors import ConfigError, Problem
from core.timezone import UTC_OFFSET_HOURS
from metrics import semantic
from metrics.access import Viewer
from metrics.compiler import Scope, area_column, grid_level, scope_condition, time_bounds
from metrics.periods import Period
from warehouse.schema import data_tables, polars_dtype

EXPORT_CAP = 200_000  # rows; an export beyond this asks the user to narrow the filter


@dataclass(frozen=True)
class DetailSpec:
    """Which table and columns a domain's detail table shows, with Chinese and English names
    (read from the semantic layer, config/semantic)."""

    table: str
    time: str
    columns: tuple[tuple[str, str, str], ...]  # (column, zh, en)
    personal: bool = False  # rows about persons: every view and export is audited
    masks: tuple[tuple[str, str], ...] = ()  # (column, mask) for columns shown masked


def spec_of(domain: str) -> DetailSpec:
    """The detail spec of ``domain``'s page; a clear ConfigError when the layer has none."""
    table, d = semantic.load().detail_of(domain)
    return DetailSpec(table, d.time or "", tuple((c.column, c.zh, c.en) for c in d.columns),
                      d.personal, tuple((c.column, c.mask) for c in d.columns
                                        if c.mask != "none"))


def personal_domains() -> set[str]:
    """Domains whose detail rows are about persons (views and exports are audited)."""
    layer = semantic.load()
    return {d for d in layer.domains if layer.domains[d].detail and spec_of(d).personal}


_MASKS = {"redact": privacy.redact, "phone": privacy.mask_phone, "id": privacy.mask_id,
          "name": privacy.mask_name}


def columns_of(table: str) -> DetailSpec:
    """The columns a row of ``table`` shows people (drill-through, exports), from its detail
    columns in the semantic layer: personal columns only in their masked forms (DESIGN §6),
    never the pseudonym (id_hash) or the lineage. A clear ConfigError when it declares none."""
    spec = semantic.load().table(table)
    d = spec.detail if spec else None
    if d is None:
        raise ConfigError([Problem(str(semantic.folder_of()), f"table '{table}' has no detail "
                                                              "columns in the semantic layer")])
    return DetailSpec(table, d.time or "", tuple((c.column, c.zh, c.en) for c in d.columns),
                      d.personal, tuple((c.column, c.mask) for c in d.columns
                                        if c.mask != "none"))


def masked(frame: pl.DataFrame, masks: tuple[tuple[str, str], ...]) -> pl.DataFrame:
    """``frame`` with each ``(column, mask)`` masked: before rows reach a page or an export,
    so a row stored before a rule existed is never shown in clear."""
    for c, mask in masks:
        if c in frame.columns:
            frame = frame.with_columns(pl.col(c).cast(pl.String).map_elements(
                _MASKS[mask], return_dtype=pl.String))
    return frame


def _query(spec: DetailSpec, scope: Scope, period: Period | None) -> Any:
    t = data_tables()[spec.table]
    conds = []
    if period is not None:
        low, high, incl = time_bounds(t, spec.time, period)
        col = t.c[spec.time]
        conds += [col >= low, col <= high if incl else col < high]
    sc = scope_condition(area_column(t), scope, grid_level(t))
    if sc is not None:
        conds.append(sc)
    return t, (and_(*conds) if conds else None)


def count(engine: Engine, domain: str, scope: Scope, period: Period | None, *,
          viewer: Viewer | None = None) -> int:
    if viewer is not None:
        viewer.check(scope.level, scope.code)
    spec = spec_of(domain)
    t, where = _query(spec, scope, period)
    stmt = select(func.count()).select_from(t)
    if where is not None:
        stmt = stmt.where(where)
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def rows(engine: Engine, domain: str, scope: Scope, period: Period | None, *, offset: int = 0,
         limit: int = 100, viewer: Viewer | None = None) -> pl.DataFrame:
    """One page of detail rows (canonical column names, stored UTC times), newest first."""
    if viewer is not None:
        viewer.check(scope.level, scope.code)
    spec = spec_of(domain)
    t, where = _query(spec, scope, period)
    cols = [c for c, _, _ in spec.columns]
    stmt = select(*[t.c[c] for c in cols]).order_by(t.c[spec.time].desc(), *[
        t.c[k.name] for k in t.primary_key.columns]).offset(offset).limit(min(limit, EXPORT_CAP))
    if where is not None:
        stmt = stmt.where(where)
    with engine.connect() as conn:
        data = [tuple(r) for r in conn.execute(stmt)]
    out = pl.DataFrame(data, orient="row", schema={c: polars_dtype(t.c[c]) for c in cols})
    return masked(out, spec.masks)


def labelled(frame: pl.DataFrame, domain: str, lang: str = "zh",
             names: dict[str, str] | None = None) -> pl.DataFrame:
    """Rows for people: local times, area names beside codes, column headers in ``lang``."""
    return labelled_columns(frame, spec_of(domain).columns, lang, names)


def labelled_columns(frame: pl.DataFrame, columns: tuple[tuple[str, str, str], ...],
                     lang: str = "zh", names: dict[str, str] | None = None) -> pl.DataFrame:
    """:func:`labelled` for any column spec ``(column, zh, en)``."""
    out = frame
    for c in frame.columns:
        if frame[c].dtype == pl.Datetime("us"):
            out = out.with_columns((pl.col(c) + pl.duration(hours=UTC_OFFSET_HOURS)).dt.strftime(
                "%Y-%m-%d %H:%M").alias(c))
    if names:
        # every area column (street_code, community_code, grid_code) shows its division's name
        for c in (f"{level}_code" for level in AREA_LEVELS):
            if c in out.columns:
                out = out.with_columns(pl.col(c).replace_strict(
                    names, default=pl.col(c), return_dtype=pl.String).alias(c))
    header = {c: (zh if lang == "zh" else en) for c, zh, en in columns}
    return out.rename({c: header[c] for c in out.columns if c in header})


def top_values(engine: Engine, table: str, column: str, time: str, scope: Scope,
               period: Period | None, n: int = 10, *,
               viewer: Viewer | None = None) -> pl.DataFrame:
    """The ``n`` most frequent values of ``table.column`` among the rows of ``scope`` whose
    ``time`` falls in ``period`` (``value``, ``rows``), most frequent first: one grouped
    count in the database (a page's "top categories", declared in the semantic layer)."""
    if viewer is not None:
        viewer.check(scope.level, scope.code)
    t = data_tables()[table]
    conds: list[Any] = [t.c[column].is_not(None)]
    if period is not None:
        low, high, incl = time_bounds(t, time, period)
        conds += [t.c[time] >= low, t.c[time] <= high if incl else t.c[time] < high]
    sc = scope_condition(area_column(t), scope, grid_level(t))
    if sc is not None:
        conds.append(sc)
    rows = func.count().label("rows")
    stmt = (select(t.c[column].label("value"), rows).where(and_(*conds))
            .group_by(t.c[column]).order_by(rows.desc(), t.c[column]).limit(n))
    with engine.connect() as conn:
        data = [tuple(r) for r in conn.execute(stmt)]
    return pl.DataFrame(data, orient="row", schema={"value": pl.String, "rows": pl.Int64})
