"""Breakdown dimensions: the category, department, channel or item a fact row belongs to.

Declared once per table, beside the catalogue: ``gongzhi kpi --by category``, the domain
pages' breakdown section and the drill-through's "rows of this group" all read this table,
and the compiler turns a dimension into a group key (``metrics.compiler.group_key``) or a
condition on one value (``metrics.drill``). A dimension is a column of the fact table, or a
column of a table it references by key (a service case's department is its item's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Table
from sqlalchemy.sql.elements import ColumnElement

from warehouse.schema import data_tables

Dimension = Literal["category", "department", "channel", "item"]
DIMENSIONS: tuple[Dimension, ...] = ("category", "department", "channel", "item")


@dataclass(frozen=True)
class Dim:
    """Where a dimension's value sits: ``column`` of the row, or of ``via`` (a table joined on
    ``key``, the same column in both)."""

    column: str
    via: str | None = None
    key: str | None = None


BREAKDOWNS: dict[str, dict[str, Dim]] = {
    "service_cases": {"channel": Dim("channel"), "item": Dim("item_code"),
                      "department": Dim("department", via="service_items", key="item_code")},
    "service_items": {"item": Dim("item_code"), "department": Dim("department")},
    "grid_events": {"category": Dim("category"), "channel": Dim("source")},
    "volunteer_services": {"category": Dim("activity")},
    "timebank_redemptions": {"category": Dim("service")},
    "party_deeds": {"category": Dim("kind")},
    "consultations": {"category": Dim("mechanism")},
    "stations": {"category": Dim("tier")},
}

LABELS: dict[str, tuple[str, str]] = {"category": ("类别", "category"),
                                      "department": ("部门", "department"),
                                      "channel": ("渠道", "channel"), "item": ("事项", "item")}


class NoDimension(Exception):
    """The table has no such dimension (e.g. a channel for volunteer records)."""


def has(table: str, dim: str) -> bool:
    return dim in BREAKDOWNS.get(table, {})


def dimensions_of(table: str) -> list[str]:
    """The dimensions rows of ``table`` can be broken down by, in the usual order."""
    return [d for d in DIMENSIONS if has(table, d)]


def expression(t: Table, dim: str) -> tuple[ColumnElement[Any], Any]:
    """The dimension's value for rows of ``t`` and the join it needs (``None`` or a
    ``(table alias, on-clause)`` pair to outer-join)."""
    spec = BREAKDOWNS.get(t.name, {}).get(dim)
    if spec is None:
        raise NoDimension(f"{t.name} has no {dim}")
    if spec.via is None:
        return t.c[spec.column], None
    other = data_tables()[spec.via].alias(f"dim_{spec.via}")
    assert spec.key is not None
    return other.c[spec.column], (other, other.c[spec.key] == t.c[spec.key])
