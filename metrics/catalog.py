"""Loading and validating ``config/kpis/*.yaml``: every issue at once, with file and line.

Beyond the shape checks of :mod:`metrics.model`, the validator knows the warehouse: an
unknown table or column, a filter value outside a column's codes, a time column that is not a
time, a ``via`` join that does not exist: each is an issue with its place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Table

from core.errors import ConfigError, Problem
from core.yamltext import compose_and_load
from metrics import semantic
from metrics.model import Domain, Filter, Kpi, Label, Measure
from warehouse.schema import data_tables

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "config" / "kpis"
# Derived columns, month columns and the order of domains are declared in the semantic layer
# (config/semantic, metrics/semantic/), not here.


@dataclass
class Catalog:
    """All KPIs by id, in file order, with their domains' labels."""

    kpis: dict[str, Kpi]
    domains: dict[str, Domain]

    def get(self, kpi_id: str) -> Kpi:
        try:
            return self.kpis[kpi_id]
        except KeyError:
            raise ConfigError([Problem("", f"unknown KPI '{kpi_id}'")]) from None

    def by_domain(self, domain: str) -> list[Kpi]:
        return [k for k in self.kpis.values() if k.domain == domain]


def column_type(table: Table, name: str) -> type | None:
    """The SQLAlchemy type class of a stored or derived column, or None if unknown."""
    if name in table.c:
        return type(table.c[name].type)
    d = semantic.load(check=False).derived(table.name, name)
    return d.type if d is not None else None


def load_catalog(folder: str | os.PathLike[str] | None = None) -> Catalog:
    """Load every ``*.yaml`` in ``folder`` (default ``config/kpis``); raise listing all issues,
    the semantic layer's (config/semantic) among them."""
    folder = Path(folder) if folder else Path(os.environ.get("GONGZHI_KPIS", DEFAULT_DIR))
    layer = semantic.load(check=False)
    order = layer.domain_order()
    files = sorted(folder.glob("*.yaml"), key=lambda f: (
        order.index(f.stem) if f.stem in order else len(order), f.stem))
    problems: list[Problem] = semantic.problems()
    if not files:
        raise ConfigError([Problem(str(folder), "no KPI files (*.yaml) found")])
    kpis: dict[str, Kpi] = {}
    domains: dict[str, Domain] = {}
    for f in files:
        domain, errs = _load_file(f)
        problems.extend(errs)
        if domain is None:
            continue
        domains[domain.domain] = domain
        for k in domain.kpis:
            if k.id in kpis:
                problems.append(Problem(f"{f}:{k.source_line}",
                                        f"duplicate KPI id '{k.id}' (also in "
                                        f"{kpis[k.id].source_file}:{kpis[k.id].source_line})"))
            kpis[k.id] = k
    problems += semantic.check_catalog(layer, kpis.values())
    if problems:
        raise ConfigError(problems, header=f"KPI definitions in {folder} are invalid")
    return Catalog(kpis=kpis, domains=domains)


def _load_file(path: Path) -> tuple[Domain | None, list[Problem]]:
    text = path.read_text(encoding="utf-8")
    try:
        node, data = compose_and_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f":{mark.line + 1}" if mark else ""
        return None, [Problem(f"{path}{at}", f"not valid YAML: {e}")]
    if not isinstance(data, dict) or not isinstance(data.get("kpis"), list):
        return None, [Problem(str(path), "expected a mapping with 'domain', 'label' and 'kpis'")]
    lines = _kpi_lines(node)
    problems: list[Problem] = []
    kpis: list[Kpi] = []
    domain = str(data.get("domain", ""))
    for i, raw in enumerate(data["kpis"]):
        line, keys = lines[i] if i < len(lines) else (0, {})
        place: str = f"{path}:{line}"
        if not isinstance(raw, dict):
            problems.append(Problem(place, "a KPI must be a mapping"))
            continue
        kid = raw.get("id", f"#{i + 1}")
        if isinstance(raw.get("id"), str) and not kid.startswith(f"{domain}."):
            problems.append(Problem(f"{path}:{keys.get('id', line)}",
                                    f"{kid}: id must start with the file's domain '{domain}.'"))
        try:
            kpi = Kpi(**raw, domain=domain, source_file=str(path), source_line=line)
        except ValidationError as e:
            for err in e.errors():
                loc = [str(x) for x in err["loc"]]
                where = keys.get(loc[0], line) if loc else line
                problems.append(Problem(f"{path}:{where}",
                                        f"{kid}: {'.'.join(loc) or 'kpi'}: {err['msg']}"))
            continue
        problems.extend(Problem(f"{path}:{keys.get(k, line)}", f"{kpi.id}: {msg}")
                        for k, msg in check_kpi(kpi))
        kpis.append(kpi)
    try:
        label = Label(**(data.get("label") or {"zh": domain, "en": domain}))
        dom = Domain(domain=domain, label=label, kpis=tuple(kpis))
    except ValidationError as e:
        problems.append(Problem(str(path), f"domain header: {e.errors()[0]['msg']}"))
        return None, problems
    return dom, problems


def _kpi_lines(node: Any) -> list[tuple[int, dict[str, int]]]:
    """Line of each KPI mapping in the ``kpis`` list, and of each of its keys."""
    out: list[tuple[int, dict[str, int]]] = []
    if node is None or not hasattr(node, "value"):
        return out
    for key, value in node.value:
        if getattr(key, "value", None) == "kpis" and hasattr(value, "value"):
            for item in value.value:
                keys = {}
                if isinstance(item.value, list):
                    keys = {k.value: k.start_mark.line + 1 for k, _ in item.value
                            if hasattr(k, "value")}
                out.append((item.start_mark.line + 1, keys))
    return out


def check_kpi(kpi: Kpi) -> list[tuple[str, str]]:
    """Issues of one KPI against the warehouse schema, as (key, message) pairs."""
    tables = data_tables()
    issues: list[tuple[str, str]] = []
    if kpi.table not in tables:
        return [("table", f"unknown table '{kpi.table}'")]
    if kpi.time and not _is_time(tables[kpi.table], kpi.time):
        issues.append(("time", f"'{kpi.time}' is not a time column of {kpi.table}"))
    for role, m in kpi.measures().items():
        issues.extend((role, msg) for msg in _check_measure(m, tables))
    return issues


def _is_time(table: Table, name: str) -> bool:
    if semantic.load(check=False).is_month(table.name, name):
        return True
    t = column_type(table, name)
    return t is not None and issubclass(t, DateTime | Date)


def _check_measure(m: Measure, tables: dict[str, Table]) -> list[str]:
    assert m.table is not None
    if m.table not in tables:
        return [f"unknown table '{m.table}'"]
    t = tables[m.table]
    out: list[str] = []
    if m.column and column_type(t, m.column) is None:
        out.append(f"unknown column '{m.column}' in {m.table}")
    elif m.column and m.agg in ("sum", "avg") and not issubclass(
            column_type(t, m.column) or object, Integer | Float):
        out.append(f"'{m.agg}' needs a numeric column, '{m.column}' is not")
    if m.time and not _is_time(t, m.time):
        out.append(f"'{m.time}' is not a time column of {m.table}")
    if m.window in ("period", "to_end") and not m.time:
        out.append(f"window '{m.window}' needs a time column")
    if m.window == "latest_year" and "year" not in t.c:
        out.append(f"window 'latest_year' needs a 'year' column, {m.table} has none")
    if m.via:
        vt, _, vk = m.via.partition(".")
        if vt not in tables or vk not in tables[vt].c or vk not in t.c:
            out.append(f"via '{m.via}' must name table.column joined on the same column")
    for f in m.filter:
        out.extend(_check_filter(f, t))
    return out


def _check_filter(f: Filter, t: Table) -> list[str]:
    ctype = column_type(t, f.column)
    if ctype is None:
        return [f"filter: unknown column '{f.column}' in {t.name}"]
    if f.ref is not None and column_type(t, f.ref) is None:
        return [f"filter: unknown column '{f.ref}' in {t.name}"]
    allowed = t.c[f.column].info.get("enum") if f.column in t.c else None
    values = f.value if isinstance(f.value, list) else [f.value] if f.value is not None else []
    out = []
    for v in values:
        if allowed and v not in allowed:
            out.append(f"filter: '{v}' is not a value of {t.name}.{f.column} "
                       f"({', '.join(allowed)})")
        elif issubclass(ctype, Boolean) and not isinstance(v, bool):
            out.append(f"filter: {t.name}.{f.column} is yes/no, got {v!r}")
        elif issubclass(ctype, Integer | Float) and (isinstance(v, bool) or
                                                     not isinstance(v, int | float)):
            out.append(f"filter: {t.name}.{f.column} is a number, got {v!r}")
    return out
