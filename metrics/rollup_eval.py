"""The polars twin of the rollup aggregate: contributions of a frame of fact rows to a family.

It must agree with :func:`metrics.rollup.rebuild` (SQL) exactly; the tests check that a rollup
kept by deltas equals one rebuilt from the facts after inserts, updates and re-runs.
SQL NULL semantics are kept: a condition on NULL is false.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import Date, DateTime, Table

from metrics import derived, semantic
from metrics.model import Filter

if TYPE_CHECKING:
    from metrics.rollup import Family

LOCAL_OFFSET = derived.LOCAL_OFFSET


def _with_derived(frame: pl.DataFrame, table: Table, fam: Family,
                  lookups: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """``frame`` with the derived columns the family uses (semantic layer), as polars."""
    spec = semantic.load(check=False).table(table.name)
    for d in (spec.derived.values() if spec else ()):
        if fam.uses(d.name):
            frame = derived.with_column(frame, d, lookups)
    return frame


def _condition(f: Filter) -> pl.Expr:
    col = pl.col(f.column)
    if f.op == "is_null":
        return col.is_null()
    if f.op == "not_null":
        return col.is_not_null()
    other: Any = pl.col(f.ref) if f.ref else pl.lit(f.value)
    if f.op == "in":
        return col.is_in(list(f.value))
    if f.op == "not_in":
        return ~col.is_in(list(f.value)) & col.is_not_null()
    return {"eq": col == other, "ne": col != other, "gt": col > other, "gte": col >= other,
            "lt": col < other, "lte": col <= other}[f.op]


def _month(table: Table, time: str) -> pl.Expr:
    """The month of each row, as a value that groups fast (formatted after grouping)."""
    if semantic.load(check=False).is_month(table.name, time):
        return pl.col(time)
    if isinstance(table.c[time].type, DateTime):
        return (pl.col(time) + LOCAL_OFFSET).dt.truncate("1mo")
    assert isinstance(table.c[time].type, Date)
    return pl.col(time).dt.truncate("1mo")


def contributions(frame: pl.DataFrame, table: Table, fam: Family,
                  lookups: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """``area, month, v_*, n_*`` sums of ``frame``'s rows for the family ``fam``."""
    spec = semantic.load(check=False).table(table.name)
    assert spec is not None and spec.area is not None, f"{table.name} has no area to roll up by"
    area_name = spec.area.column
    # lazy: only the columns the family reads are filtered and grouped, in one plan
    f = _with_derived(frame, table, fam, lookups).lazy().filter(pl.col(fam.time).is_not_null())
    aggs: list[pl.Expr] = []
    counted: list[pl.Expr] = []  # a count's value column: its row count as a float
    order = ["area", "month"]
    for m in sorted(fam.measures.values(), key=lambda x: x.key):
        cond = pl.col(fam.time).is_not_null()  # all true here; a column, so it is per row
        for flt in m.filters:
            cond = cond & _condition(flt).fill_null(False)
        order += [m.value_col, m.rows_col]
        if m.agg == "count":
            # one sum, not two: a sum of 1.0s is its integer count, exactly (below 2**53)
            aggs.append(cond.cast(pl.Int64).sum().alias(m.rows_col))
            counted.append(pl.col(m.rows_col).cast(pl.Float64).alias(m.value_col))
            continue
        col = pl.col(m.column or "").cast(pl.Float64)
        ok = cond & col.is_not_null() if m.agg == "avg" else cond
        v = pl.when(ok).then(col.fill_null(0.0)).otherwise(0.0)
        aggs += [v.sum().alias(m.value_col), ok.cast(pl.Int64).sum().alias(m.rows_col)]
    # rows without an area (an optional area column) are filed under "" (compiler.UNPLACED);
    # the finest area, as the SQL side: a grid-level table's grid code, else the community
    area = pl.col(area_name) if fam.gridded else pl.col(area_name).str.slice(0, 12)
    return (f.group_by(area.fill_null("").alias("area"), _month(table, fam.time).alias("month"))
            .agg(aggs)
            .with_columns(*counted, pl.col("month") if fam.time in spec.months
                          else pl.col("month").dt.strftime("%Y-%m"))
            .select(order).collect())
