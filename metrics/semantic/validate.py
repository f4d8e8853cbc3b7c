"""Checks of the layer against the warehouse schema (:mod:`warehouse.schema`) and against the
KPI catalogue: every inconsistency is a :class:`~core.errors.Problem` with its file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, String, Table

from core.errors import Problem
from metrics.semantic.model import Layer, TableSpec
from warehouse.schema import data_tables


def _is_time_type(col: Any) -> bool:
    return isinstance(col.type, DateTime | Date)


def check_schema(layer: Layer) -> list[Problem]:
    """Problems between the layer and :mod:`warehouse.schema` (columns, types, derived inputs,
    breakdowns), each at the declaring entry's file and line."""
    tables = data_tables()
    out: list[Problem] = []
    for name in sorted(set(tables) - set(layer.tables)):
        out.append(Problem(str(layer.folder), f"warehouse table '{name}' has no entry in the "
                                              "semantic layer"))
    for spec in layer.tables.values():
        t = tables.get(spec.name)
        if t is None:
            out.append(Problem(spec.place, f"'{spec.name}' is not a warehouse table "
                                           "(warehouse/schema.py)"))
            continue
        out += _check_table(spec, t, layer)
    for d in layer.domains.values():
        if d.page and d.page not in layer.pages:
            out.append(Problem(d.place, f"domain '{d.name}': page '{d.page}' is not declared"))
        if d.detail is not None:
            ts = layer.tables.get(d.detail)
            if ts is None or ts.detail is None:
                out.append(Problem(d.place, f"domain '{d.name}': detail table '{d.detail}' has "
                                            "no detail columns in the semantic layer"))
            elif ts.detail.time is None:
                out.append(Problem(d.place, f"domain '{d.name}': detail table '{d.detail}' "
                                            "names no detail time (the page's rows need one)"))
    for p in layer.pages.values():
        for dn in p.domains:
            if dn not in layer.domains:
                out.append(Problem(p.place, f"page '{p.name}': domain '{dn}' is not declared"))
            elif layer.domains[dn].page != p.name:
                out.append(Problem(p.place, f"page '{p.name}' lists domain '{dn}', whose page "
                                            f"is '{layer.domains[dn].page}'"))
        script = Path(__file__).resolve().parents[2] / "dashboard" / p.script
        if not script.is_file():
            out.append(Problem(p.place, f"page '{p.name}': script {p.script} does not exist"))
        if p.top is not None:
            t = tables.get(p.top.table)
            if t is None or p.top.column not in t.c or p.top.time not in t.c:
                out.append(Problem(p.place, f"page '{p.name}': top names "
                                            f"{p.top.table}.{p.top.column} by {p.top.time}, "
                                            "which the warehouse lacks"))
    for spec in layer.tables.values():
        if spec.domain is not None and spec.domain not in layer.domains:
            out.append(Problem(spec.place, f"{spec.name}: domain '{spec.domain}' is not "
                                           "declared"))
    return out


def _check_table(spec: TableSpec, t: Table, layer: Layer) -> list[Problem]:
    out: list[Problem] = []
    n = spec.name
    schema_area = t.info.get("area")
    if spec.area is not None:
        col = t.c.get(spec.area.column)
        if col is None:
            out.append(Problem(spec.place, f"{n}: area column '{spec.area.column}' is not a "
                                           "column of the table"))
        else:
            if schema_area is not None and schema_area != spec.area.column:
                out.append(Problem(spec.place, f"{n}: area column '{spec.area.column}' "
                                               f"contradicts warehouse/schema.py "
                                               f"(area='{schema_area}')"))
            ref = col.info.get("ref")
            # "@level": a code at the level its row names (geometries), so any level fits
            if ref is not None and not ref.startswith("@") and ref != spec.area.level:
                out.append(Problem(spec.place, f"{n}: area level '{spec.area.level}' "
                                               f"contradicts the column's ref '{ref}'"))
    elif schema_area is not None:
        out.append(Problem(spec.place, f"{n}: no area, but warehouse/schema.py files its rows "
                                       f"by '{schema_area}'"))
    for c in spec.times:
        if c not in t.c:
            out.append(Problem(spec.place, f"{n}: time column '{c}' is not a column of the "
                                           "table"))
        elif not _is_time_type(t.c[c]):
            out.append(Problem(spec.place, f"{n}: '{c}' is listed as a time column but is "
                                           f"{type(t.c[c].type).__name__} in "
                                           "warehouse/schema.py"))
    for stored in t.columns:
        if _is_time_type(stored) and not stored.name.startswith("_") \
                and stored.name not in spec.times:
            out.append(Problem(spec.place, f"{n}: time column '{stored.name}' of "
                                           "warehouse/schema.py is not listed under times"))
    for c in spec.months:
        if c not in t.c or not isinstance(t.c[c].type, String) or "pattern" not in t.c[c].info:
            out.append(Problem(spec.place, f"{n}: month column '{c}' must be a 'YYYY-MM' text "
                                           "column with a pattern in warehouse/schema.py"))
    from metrics import derived as derived_impl  # the implementations of builtins

    for d in spec.derived.values():
        if d.name in t.c:
            out.append(Problem(spec.place, f"{n}.{d.name}: derived column hides a stored "
                                           "column of the same name"))
        for c in d.inputs:
            if c not in t.c:
                out.append(Problem(spec.place, f"{n}.{d.name}: input '{c}' is not a column of "
                                               "the table"))
        if d.builtin is not None and d.builtin not in derived_impl.BUILTINS:
            out.append(Problem(spec.place, f"{n}.{d.name}: unknown builtin '{d.builtin}' "
                                           f"(known: {', '.join(derived_impl.BUILTINS)})"))
        for dep in d.depends_on:
            if dep not in data_tables():
                out.append(Problem(spec.place, f"{n}.{d.name}: depends_on '{dep}' is not a "
                                               "warehouse table"))
    if spec.detail is not None:
        if spec.detail.time is not None and spec.detail.time not in spec.times:
            out.append(Problem(spec.place, f"{n}: detail time '{spec.detail.time}' is not one "
                                           "of the table's time columns"))
        for dc in spec.detail.columns:
            if dc.column not in t.c:
                out.append(Problem(spec.place, f"{n}: detail column '{dc.column}' is not a "
                                               "column of the table"))
    out += _check_breakdowns(spec, t)
    return out


def _check_breakdowns(spec: TableSpec, t: Table) -> list[Problem]:
    out: list[Problem] = []
    tables = data_tables()
    for b in spec.breakdowns:
        what = f"{spec.name}: breakdown by {b.by}"
        if b.via is None:
            if b.column not in t.c:
                out.append(Problem(spec.place, f"{what}: '{b.column}' is not a column of the "
                                               "table"))
            continue
        other = tables.get(b.via)
        if other is None:
            out.append(Problem(spec.place, f"{what}: via '{b.via}' is not a warehouse table"))
        elif b.column not in other.c or (b.key or "") not in other.c or (b.key or "") not in t.c:
            out.append(Problem(spec.place, f"{what}: '{b.via}.{b.column}' joined on "
                                           f"'{b.key}' needs both columns in {b.via} and "
                                           f"'{b.key}' in {spec.name}"))
    return out


def check_catalog(layer: Layer, kpis: Any) -> list[Problem]:
    """Problems between the layer and a KPI catalogue: a KPI domain without a domain entry or
    a page, a KPI table without an entry, a page section naming a KPI of another page."""
    kpis = list(kpis)
    out: list[Problem] = []
    for k in kpis:
        place = f"{k.source_file}:{k.source_line}"
        if k.domain not in layer.domains:
            out.append(Problem(place, f"{k.id}: domain '{k.domain}' has no entry (and so no "
                                      f"page) in the semantic layer ({layer.folder})"))
        elif layer.domains[k.domain].page not in layer.pages:
            out.append(Problem(place, f"{k.id}: domain '{k.domain}' has no page"))
        for m in k.measures().values():
            if m.table not in layer.tables and m.table in data_tables():
                out.append(Problem(place, f"{k.id}: table '{m.table}' has no entry in the "
                                          "semantic layer"))
    # a section's KPI missing from the catalogue (an office's own KPI folder) is not shown;
    # one of another page's domain would never be: that is an error
    by_id = {k.id: k for k in kpis}
    for p in layer.pages.values():
        for s in p.sections:
            for kid in s.kpis:
                k = by_id.get(kid)
                if k is not None and k.domain not in p.domains:
                    out.append(Problem(s.place, f"page '{p.name}': section '{s.label_zh}' "
                                                f"names {kid} of domain '{k.domain}', not "
                                                "one of the page's"))
    return out
