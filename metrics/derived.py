"""Derived columns as SQL (the compiler, rollup rebuilds) and as polars (rollup deltas) from
one declaration in the semantic layer.

A declaration is an operator over columns (``{hours_between: [registered_at, closed_at]}``),
compiled here for both engines, or a named builtin whose SQL and polars twins live side by side
below (the 按期 rule needs the item catalogue and the working-day calendar). The rollup tests
check that both sides agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Table
from sqlalchemy.sql.elements import ColumnElement

from core.timezone import UTC_OFFSET_HOURS
from metrics import sqlexpr
from metrics.semantic import Derived

LOCAL_OFFSET = pl.duration(hours=UTC_OFFSET_HOURS)  # core.timezone: Asia/Shanghai, UTC+8


def local_day(name: str) -> pl.Expr:
    return (pl.col(name) + LOCAL_OFFSET).dt.date()


def _service_on_time_frame(frame: pl.DataFrame, name: str,
                           lookups: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """polars twin of :func:`metrics.sqlexpr.on_time`."""
    cal = lookups["calendar"]
    f = frame.with_columns(local_day("submitted_at").alias("_sd"),
                           local_day("completed_at").alias("_cd"))
    f = f.join(lookups["items"], on="item_code", how="left")
    f = f.join(cal.select(pl.col("day").alias("_sd"), pl.col("workdays_to_date").alias("_ws")),
               on="_sd", how="left")
    f = f.join(cal.select(pl.col("day").alias("_cd"), pl.col("day_rank").alias("_rc")),
               on="_cd", how="left")
    return f.with_columns(
        pl.when(pl.col("completed_at").is_null()).then(pl.lit(False))
        .when(pl.col("promised_days").is_null()).then(pl.lit(None, dtype=pl.Boolean))
        .when(pl.col("promised_days") == 0).then(pl.col("_cd") <= pl.col("_sd"))
        .otherwise(pl.col("_rc") <= 2 * (pl.col("_ws") + pl.col("promised_days")))
        .alias(name)
    ).drop("_sd", "_cd", "_ws", "_rc", "promised_days")


@dataclass(frozen=True)
class Builtin:
    """A derived column too rich for an operator: its SQL and its polars twin."""

    sql: Callable[[Table], ColumnElement[Any]]
    frame: Callable[[pl.DataFrame, str, dict[str, pl.DataFrame]], pl.DataFrame]
    lookups: bool = False  # needs the item catalogue and calendar (see metrics.rollup)


BUILTINS: dict[str, Builtin] = {
    # completed within the item's promised working days (Chinese holiday calendar)
    "service_on_time": Builtin(sqlexpr.on_time, _service_on_time_frame, lookups=True),
}


def sql(t: Table, d: Derived) -> ColumnElement[Any]:
    """The SQL of derived column ``d`` of table ``t``."""
    if d.builtin is not None:
        return BUILTINS[d.builtin].sql(t)
    if d.op == "hours_between":
        a, b = d.args
        return sqlexpr.hours_between(t.c[a], t.c[b])
    raise KeyError(f"{t.name}.{d.name}")


def with_column(frame: pl.DataFrame, d: Derived, lookups: dict[str, pl.DataFrame]
                ) -> pl.DataFrame:
    """``frame`` with derived column ``d`` added (the polars twin of :func:`sql`)."""
    if d.builtin is not None:
        return BUILTINS[d.builtin].frame(frame, d.name, lookups)
    if d.op == "hours_between":
        a, b = d.args
        return frame.with_columns(((pl.col(b) - pl.col(a)).dt.total_microseconds()
                                   / 3_600_000_000).alias(d.name))
    raise KeyError(d.name)


def needs_lookups(d: Derived) -> bool:
    return d.builtin is not None and BUILTINS[d.builtin].lookups


__all__ = ["BUILTINS", "Builtin", "local_day", "needs_lookups", "sql", "with_column"]
