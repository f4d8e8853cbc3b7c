"""Rollup families: which measures a rollup keeps, per (table, time column), and its table."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table

from metrics import derived, semantic
from metrics.catalog import Catalog
from metrics.compiler import UNPLACED, grid_level
from metrics.model import Filter, Measure
from warehouse.schema import data_tables

ROLLUP_VERSION = 1  # bump when the rollup layout or semantics change (rebuilds every family)


@dataclass(frozen=True)
class RollupMeasure:
    """The additive parts of one measure: ``v_<key>`` (value) and ``n_<key>`` (rows)."""

    key: str
    agg: str
    column: str | None
    filters: tuple[Filter, ...]

    @property
    def value_col(self) -> str:
        return f"v_{self.key}"

    @property
    def rows_col(self) -> str:
        return f"n_{self.key}"


_TABLES: dict[tuple[str, str], Table] = {}  # Family.sa_table's, by name and fingerprint


@dataclass
class Family:
    """All rollup measures of one table and time column."""

    table: str
    time: str
    measures: dict[str, RollupMeasure] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"rollup_{self.table}__{self.time}"

    @property
    def gridded(self) -> bool:
        """Whether the family's ``area`` is a grid code (its table is filed per grid)."""
        return grid_level(data_tables()[self.table])

    @property
    def fingerprint(self) -> str:
        spec: list[Any] = [ROLLUP_VERSION, self.table, self.time, sorted(self.measures)]
        if self.gridded:
            # kept per grid since the map needed grid figures fast; families kept per
            # community keep their fingerprint, so only these are rebuilt on upgrade
            spec.append("area:grid")
        return hashlib.sha1(json.dumps(spec).encode()).hexdigest()[:16]

    def sa_table(self) -> Table:
        """The family's table. One object per name and measures (kept): a new Table for
        every query would be a new SQLAlchemy cache key, so every statement on it would be
        compiled again (≈ 0.1 s of each alert evaluation after a run)."""
        key = (self.name, self.fingerprint)
        table = _TABLES.get(key)
        if table is None:
            cols: list[Column[Any]] = [Column("area", String(32), primary_key=True,
                                              info={"unplaced": UNPLACED}),
                                       Column("month", String(7), primary_key=True)]
            for m in sorted(self.measures.values(), key=lambda x: x.key):
                cols += [Column(m.value_col, Float, nullable=False, default=0),
                         Column(m.rows_col, Integer, nullable=False, default=0)]
            table = _TABLES.setdefault(key, Table(self.name, MetaData(), *cols,
                                                  info={"gridded": self.gridded}))
        return table

    def uses(self, column_name: str) -> bool:
        return any(m.column == column_name or any(column_name in (f.column, f.ref)
                                                  for f in m.filters)
                   for m in self.measures.values())

    def derived_used(self) -> list[semantic.Derived]:
        """The derived columns (semantic layer) this family's measures use."""
        spec = semantic.load(check=False).table(self.table)
        return [d for d in (spec.derived.values() if spec else ()) if self.uses(d.name)]

    def depends_on(self, table: str) -> bool:
        """Whether a change to ``table`` changes this family's values (a derived column it
        uses depends on it, e.g. 按期 on the item catalogue and the holiday calendar)."""
        return any(table in d.depends_on for d in self.derived_used())

    def needs_lookups(self) -> bool:
        return any(derived.needs_lookups(d) for d in self.derived_used())


def measure_key(m: Measure) -> str:
    # params are resolved into values by then; leaving the key out keeps fingerprints stable
    spec = [m.agg, m.column, [f.model_dump(exclude={"param"}) for f in m.filter]]
    return hashlib.sha1(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:10]


def eligible(m: Measure) -> bool:
    """Whether a rollup can answer ``m`` (for month-aligned periods)."""
    return bool(m.time and m.window in ("period", "to_end") and not m.via
                and m.agg in ("count", "sum", "avg"))


def families(catalog: Catalog) -> dict[tuple[str, str], Family]:
    """Rollup families needed by the catalogue, keyed by (table, time column)."""
    out: dict[tuple[str, str], Family] = {}
    for kpi in catalog.kpis.values():
        for m in kpi.measures().values():
            if not eligible(m):
                continue
            assert m.table and m.time
            fam = out.setdefault((m.table, m.time), Family(m.table, m.time))
            key = measure_key(m)
            fam.measures[key] = RollupMeasure(key, m.agg, m.column, tuple(m.filter))
    return out

