"""SQL building blocks the compiler needs that differ by dialect, as SQLAlchemy constructs.

Stored timestamps are naive UTC; a local (Asia/Shanghai, UTC+8 without DST since 1991) day
is the UTC instant shifted by eight hours.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Float, String, and_, case, false, func, literal, not_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from core.timezone import UTC_OFFSET_HOURS
from warehouse.schema import service_items, work_calendar


class local_day(FunctionElement[Any]):
    """The Asia/Shanghai calendar date of a stored UTC timestamp."""

    type = Date()
    inherit_cache = True


@compiles(local_day, "sqlite")
def _local_day_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '+{UTC_OFFSET_HOURS} hours')"


@compiles(local_day, "postgresql")
def _local_day_pg(element: Any, compiler: Any, **kw: Any) -> str:
    shifted = f"{compiler.process(element.clauses, **kw)} + INTERVAL '{UTC_OFFSET_HOURS} hours'"
    return f"CAST(({shifted}) AS DATE)"


class hours_between(FunctionElement[Any]):
    """Hours from the first timestamp to the second (fractional)."""

    type = Float()
    inherit_cache = True


@compiles(hours_between, "sqlite")
def _hours_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    a, b = list(element.clauses)
    # julianday() is a double of ~2.46 million days: its difference is off by up to ~50 µs
    # (5.2 h came out as 5.19999999); rounded to the millisecond it is exact again.
    return (f"(round((julianday({compiler.process(b, **kw)}) - "
            f"julianday({compiler.process(a, **kw)})) * 86400.0, 3) / 3600.0)")


@compiles(hours_between, "postgresql")
def _hours_pg(element: Any, compiler: Any, **kw: Any) -> str:
    a, b = list(element.clauses)
    return (f"(EXTRACT(EPOCH FROM ({compiler.process(b, **kw)} - "
            f"{compiler.process(a, **kw)})) / 3600.0)")


class month_of(FunctionElement[Any]):
    """'YYYY-MM' of a date value."""

    type = String()
    inherit_cache = True


@compiles(month_of, "sqlite")
def _month_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 7)"


@compiles(month_of, "postgresql")
def _month_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


def street_of(area: ColumnElement[Any]) -> ColumnElement[Any]:
    """A community's (or grid's) street code: official codes nest by digits (9 + '000')."""
    return func.substr(area, 1, 9).concat(literal("000"))


def community_of(area: ColumnElement[Any]) -> ColumnElement[Any]:
    """A grid code is its community's 12 digits + 3 (glossary); a community code is itself."""
    return func.substr(area, 1, 12)


def on_time(t: Any) -> ColumnElement[Any]:
    """Completed on or before the end of the Nth working day after submission (N = promised
    days of the item; N = 0: the submission day itself). NULL when the item is unknown.

    With W(d) = working days up to d and rank(d) = 2·W(d) + (1 on a rest day), a completion
    day c meets the deadline D = the (W(s)+N)-th working day exactly when
    rank(c) ≤ 2·(W(s)+N): a rest day right after D ranks above it.
    """
    promised = (select(service_items.c.promised_days)
                .where(service_items.c.item_code == t.c.item_code).scalar_subquery())
    sub_day = local_day(t.c.submitted_at)
    done_day = local_day(t.c.completed_at)
    w_sub = (select(work_calendar.c.workdays_to_date)
             .where(work_calendar.c.day == sub_day).scalar_subquery())
    r_done = (select(work_calendar.c.day_rank)
              .where(work_calendar.c.day == done_day).scalar_subquery())
    return case(
        (t.c.completed_at.is_(None), false()),
        (promised.is_(None), None),
        (promised == 0, done_day <= sub_day),
        else_=r_done <= 2 * (w_sub + promised),
    )


def is_true(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    """A boolean expression as a condition that is false (not NULL) when unknown."""
    return case((expr, true()), else_=false())


__all__ = ["and_", "community_of", "hours_between", "is_true", "local_day",
           "month_of", "not_", "on_time", "street_of"]
