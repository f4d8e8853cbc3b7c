"""The polars twin of the rollup aggregate: contributions of a frame of fact rows to a family.

It must agree with :func:`metrics.rollup.rebuild` (SQL) exactly; the tests check that a rollup
kept by deltas equals one rebuilt from the facts after inserts, updates and re-runs.
SQL NULL semantics are kept: a condition on NULL is false.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import Date, DateTime, Table

from core.timezone import UTC_OFFSET_HOURS
from metrics.catalog import MONTH_COLUMNS
from metrics.model import Filter

if TYPE_CHECKING:
    from metrics.rollup import Family

LOCAL_OFFSET = pl.duration(hours=UTC_OFFSET_HOURS)


def _local_day(name: str) -> pl.Expr:
    return (pl.col(name) + LOCAL_OFFSET).dt.date()


def _with_derived(frame: pl.DataFrame, table: Table, fam: Family,
                  lookups: dict[str, pl.DataFrame]) -> pl.DataFrame:
    if table.name == "grid_events" and fam.uses("hours_to_close"):
        frame = frame.with_columns(
            ((pl.col("closed_at") - pl.col("registered_at")).dt.total_microseconds()
             / 3_600_000_000).alias("hours_to_close"))
    if table.name == "service_cases" and fam.uses("on_time"):
        cal = lookups["calendar"]
        f = frame.with_columns(_local_day("submitted_at").alias("_sd"),
                               _local_day("completed_at").alias("_cd"))
        f = f.join(lookups["items"], on="item_code", how="left")
        f = f.join(cal.select(pl.col("day").alias("_sd"), pl.col("workdays_to_date").alias("_ws")),
                   on="_sd", how="left")
        f = f.join(cal.select(pl.col("day").alias("_cd"), pl.col("day_rank").alias("_rc")),
                   on="_cd", how="left")
        frame = f.with_columns(
            pl.when(pl.col("completed_at").is_null()).then(pl.lit(False))
            .when(pl.col("promised_days").is_null()).then(pl.lit(None, dtype=pl.Boolean))
            .when(pl.col("promised_days") == 0).then(pl.col("_cd") <= pl.col("_sd"))
            .otherwise(pl.col("_rc") <= 2 * (pl.col("_ws") + pl.col("promised_days")))
            .alias("on_time")
        ).drop("_sd", "_cd", "_ws", "_rc", "promised_days")
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
    if (table.name, time) in MONTH_COLUMNS:
        return pl.col(time)
    if isinstance(table.c[time].type, DateTime):
        return (pl.col(time) + LOCAL_OFFSET).dt.truncate("1mo")
    assert isinstance(table.c[time].type, Date)
    return pl.col(time).dt.truncate("1mo")


def contributions(frame: pl.DataFrame, table: Table, fam: Family,
                  lookups: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """``area, month, v_*, n_*`` sums of ``frame``'s rows for the family ``fam``."""
    area_name = table.info.get("area", "community_code")
    f = _with_derived(frame, table, fam, lookups).filter(pl.col(fam.time).is_not_null())
    aggs: list[pl.Expr] = []
    for m in sorted(fam.measures.values(), key=lambda x: x.key):
        cond = pl.col(fam.time).is_not_null()  # all true here; a column, so it is per row
        for flt in m.filters:
            cond = cond & _condition(flt).fill_null(False)
        if m.agg == "count":
            v = cond.cast(pl.Float64)
            n = cond.cast(pl.Int64)
        else:
            col = pl.col(m.column or "").cast(pl.Float64)
            ok = cond & col.is_not_null() if m.agg == "avg" else cond
            v = pl.when(ok).then(col.fill_null(0.0)).otherwise(0.0)
            n = ok.cast(pl.Int64)
        aggs += [v.sum().alias(m.value_col), n.sum().alias(m.rows_col)]
    return (f.with_columns(pl.col(area_name).str.slice(0, 12).alias("area"),
                           _month(table, fam.time).alias("month"))
            .group_by("area", "month").agg(aggs)
            .with_columns(pl.col("month") if (table.name, fam.time) in MONTH_COLUMNS
                          else pl.col("month").dt.strftime("%Y-%m")))
