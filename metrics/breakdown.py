"""Breakdown dimensions: the category, department, channel or item a fact row belongs to.

Declared per table in the semantic layer (``breakdowns:`` in config/semantic, checked by
:mod:`metrics.semantic`): ``gongzhi kpi --by category``, the domain pages' breakdown section
and the drill-through's "rows of this group" all read it, and the compiler turns a dimension
into a group key (``metrics.compiler.group_key``) or a condition on one value
(``metrics.drill``). A dimension is a column of the fact table, or a column of a table it
references by key (a service case's department is its item's).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, case, func, literal
from sqlalchemy.sql.elements import ColumnElement

from metrics import semantic
from warehouse.schema import data_tables

DIMENSIONS: tuple[str, ...] = semantic.DIMENSIONS


class NoDimension(Exception):
    """The table has no such dimension (e.g. a channel for volunteer records)."""


def spec(table: str, dim: str) -> semantic.Breakdown | None:
    """The semantic layer's declaration of ``table``'s ``dim`` (None: it has none)."""
    return semantic.load(check=False).breakdown(table, dim)


def has(table: str, dim: str) -> bool:
    return spec(table, dim) is not None


def dimensions_of(table: str) -> list[str]:
    """The dimensions rows of ``table`` can be broken down by, in the usual order."""
    return semantic.load(check=False).dimensions_of(table)


def expression(t: Table, dim: str) -> tuple[ColumnElement[Any], Any]:
    """The dimension's value for rows of ``t`` and the join it needs (``None`` or a
    ``(table alias, on-clause)`` pair to outer-join)."""
    b = spec(t.name, dim)
    if b is None:
        raise NoDimension(f"{t.name} has no {dim}")
    if b.via is None:
        return _folded(t.c[b.column], b), None
    other = data_tables()[b.via].alias(f"dim_{b.via}")
    assert b.key is not None
    return other.c[b.column], (other, other.c[b.key] == t.c[b.key])


def _folded(col: ColumnElement[Any], b: semantic.Breakdown) -> ColumnElement[Any]:
    """The column as the dimension shows it: through its vocabulary when it declares one
    (the words offices use for one mechanism become its name), else as stored."""
    if not b.vocabulary:
        return col
    word = func.lower(func.trim(col))
    whens = [(word.in_([w.lower() for w in (name, *words)]), literal(name))
             for name, words in b.vocabulary]
    rest = func.trim(col) if b.other is None else literal(b.other)
    return case(*whens, else_=case((col.is_(None), None), else_=rest))
