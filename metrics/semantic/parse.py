"""Parsing one YAML entry (a table, domain or page) into the model, with the file and line of
every problem (:class:`Lines` maps a key path to its place)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from core.divisions import SCOPE_LEVELS
from core.errors import Problem
from metrics.semantic.model import (
    DIMENSIONS,
    MASKS,
    OPERATORS,
    TYPES,
    Area,
    Breakdown,
    Derived,
    Detail,
    DetailColumn,
    DomainSpec,
    KpiSection,
    PageSpec,
    TableSpec,
    TopValues,
)


class Lines:
    """Line numbers of YAML nodes, by key path."""

    def __init__(self, path: Path, node: Any):
        self.path = path
        self.lines: dict[tuple[Any, ...], int] = {}
        self._walk(node, ())

    def _walk(self, node: Any, at: tuple[Any, ...]) -> None:
        if node is None:
            return
        self.lines[at] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                self.lines[(*at, k.value)] = k.start_mark.line + 1
                self._walk(v, (*at, k.value))
                self.lines[(*at, k.value)] = k.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self._walk(v, (*at, i))

    def at(self, *key: Any) -> str:
        while key and key not in self.lines:
            key = key[:-1]
        return f"{self.path}:{self.lines.get(key, 1)}"


def _strs(raw: Any) -> tuple[str, ...] | None:
    if raw is None:
        return ()
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        return tuple(raw)
    return None


def parse_table(name: str, raw: dict[str, Any], lines: Lines,
                out: list[Problem]) -> TableSpec:
    """A ``tables`` entry; its problems (file and line) are appended to ``out``."""
    at = ("tables", name)
    known = {"area", "times", "months", "derived", "detail", "breakdowns", "domain", "demo"}
    for k in set(raw) - known:
        out.append(Problem(lines.at(*at, k), f"{name}: unknown key '{k}' (known: "
                                             f"{', '.join(sorted(known))})"))
    area = None
    if raw.get("area") is not None:
        a = raw["area"]
        if not isinstance(a, dict) or not isinstance(a.get("column"), str) \
                or a.get("level") not in SCOPE_LEVELS:
            out.append(Problem(lines.at(*at, "area"), f"{name}: area needs column and level "
                                                      f"({', '.join(SCOPE_LEVELS)})"))
        else:
            area = Area(a["column"], a["level"])
    times = _strs(raw.get("times"))
    months = _strs(raw.get("months"))
    for key, val in (("times", times), ("months", months)):
        if val is None:
            out.append(Problem(lines.at(*at, key), f"{name}: '{key}' must be a list of "
                                                   "column names"))
    derived: dict[str, Derived] = {}
    for dname, d in (raw.get("derived") or {}).items():
        spec = _derived(name, str(dname), d, lines, out)
        if spec is not None:
            derived[spec.name] = spec
    detail = _detail(name, raw["detail"], lines, out) if raw.get("detail") is not None else None
    breakdowns = _breakdowns(name, raw.get("breakdowns"), lines, out)
    return TableSpec(name=name, area=area, times=times or (), months=months or (),
                     derived=derived, detail=detail, breakdowns=breakdowns,
                     domain=raw.get("domain"),
                     demo=raw.get("demo"), place=lines.at(*at))


def _derived(table: str, name: str, d: Any, lines: Lines, out: list[Problem]
             ) -> Derived | None:
    at = ("tables", table, "derived", name)
    where = lines.at(*at)
    if not isinstance(d, dict):
        out.append(Problem(where, f"{table}.{name}: a derived column must be a mapping"))
        return None
    typ = TYPES.get(str(d.get("type")))
    if typ is None:
        out.append(Problem(lines.at(*at, "type"), f"{table}.{name}: type must be one of "
                                                  f"{', '.join(TYPES)}"))
    expr, builtin = d.get("expr"), d.get("builtin")
    op: str | None = None
    args: tuple[str, ...] = ()
    if (expr is None) == (builtin is None):
        out.append(Problem(where, f"{table}.{name}: give either 'expr' or 'builtin'"))
    elif expr is not None:
        if not (isinstance(expr, dict) and len(expr) == 1 and next(iter(expr)) in OPERATORS
                and _strs(next(iter(expr.values())))):
            out.append(Problem(lines.at(*at, "expr"), f"{table}.{name}: expr must be "
                               f"{{operator: [columns]}} with an operator of "
                               f"{', '.join(OPERATORS)}"))
        else:
            op = next(iter(expr))
            args = _strs(expr[op]) or ()
    inputs = _strs(d.get("inputs"))
    if inputs is None:
        out.append(Problem(lines.at(*at, "inputs"), f"{table}.{name}: inputs must list "
                                                    "columns"))
        inputs = ()
    if op and inputs and set(inputs) != set(args):
        out.append(Problem(lines.at(*at, "inputs"), f"{table}.{name}: inputs {list(inputs)} "
                                                    f"differ from the expression's {list(args)}"))
    depends = _strs(d.get("depends_on")) or ()
    label = d.get("label")
    if label is not None and not (isinstance(label, dict) and label.get("zh") and label.get("en")):
        out.append(Problem(lines.at(*at, "label"), f"{table}.{name}: label needs zh and en"))
        label = None
    if typ is None:
        return None
    return Derived(name=name, type=typ, inputs=inputs or args, op=op, args=args,
                   builtin=builtin if isinstance(builtin, str) else None, depends_on=depends,
                   zh=str(label["zh"]) if label else name, en=str(label["en"]) if label else name)


def _detail(table: str, raw: Any, lines: Lines, out: list[Problem]) -> Detail | None:
    at = ("tables", table, "detail")
    if not isinstance(raw, dict) or not isinstance(raw.get("time", ""), str) \
            or not isinstance(raw.get("columns"), list):
        out.append(Problem(lines.at(*at), f"{table}: detail needs a list of 'columns' (and "
                                          "'time', a time column, for a domain's page)"))
        return None
    cols: list[DetailColumn] = []
    for i, c in enumerate(raw["columns"]):
        where = lines.at(*at, "columns", i)
        if not isinstance(c, dict) or not isinstance(c.get("column"), str):
            out.append(Problem(where, f"{table}: a detail column needs 'column'"))
            continue
        col = c["column"]
        missing = [lang for lang in ("zh", "en") if not str(c.get(lang) or "").strip()]
        if missing:
            out.append(Problem(where, f"{table}.{col}: detail column without a "
                                      f"{' and '.join(missing)} label"))
        mask = str(c.get("mask", "none"))
        if mask not in MASKS:
            out.append(Problem(where, f"{table}.{col}: mask must be one of {', '.join(MASKS)}"))
            mask = "none"
        cols.append(DetailColumn(col, str(c.get("zh") or col), str(c.get("en") or col), mask))
    return Detail(raw.get("time"), tuple(cols), bool(raw.get("personal", False)))


def _breakdowns(table: str, raw: Any, lines: Lines, out: list[Problem]
                ) -> tuple[Breakdown, ...]:
    at = ("tables", table, "breakdowns")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        out.append(Problem(lines.at(*at), f"{table}: 'breakdowns' must be a list of "
                                          "{by, column, zh, en}"))
        return ()
    found: list[Breakdown] = []
    for i, b in enumerate(raw):
        where = lines.at(*at, i)
        if not isinstance(b, dict) or not isinstance(b.get("column"), str):
            out.append(Problem(where, f"{table}: a breakdown needs 'by' and 'column'"))
            continue
        by = b.get("by")
        if by not in DIMENSIONS:
            out.append(Problem(where, f"{table}.{b['column']}: breakdown 'by' must be one of "
                                      f"{', '.join(DIMENSIONS)}"))
            continue
        if any(f.by == by for f in found):
            out.append(Problem(where, f"{table}: breakdown by {by} is declared twice"))
            continue
        missing = [lang for lang in ("zh", "en") if not str(b.get(lang) or "").strip()]
        if missing:
            out.append(Problem(where, f"{table}.{b['column']}: breakdown without a "
                                      f"{' and '.join(missing)} label"))
        via, key = b.get("via"), b.get("key")
        if (via is None) != (key is None) or not isinstance(via or "", str) \
                or not isinstance(key or "", str):
            out.append(Problem(where, f"{table}.{b['column']}: 'via' (a table) and 'key' (the "
                                      "column joining it) go together"))
            via = key = None
        vocabulary = _vocabulary(table, b, where, out)
        other = b.get("other")
        if other is not None and (not isinstance(other, str) or not other.strip()):
            out.append(Problem(where, f"{table}.{b['column']}: 'other' must be a name"))
            other = None
        found.append(Breakdown(by, b["column"], str(b.get("zh") or b["column"]),
                               str(b.get("en") or b["column"]), via, key, vocabulary, other))
    return tuple(found)


def _vocabulary(table: str, b: dict[str, Any], where: str, out: list[Problem]
                ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A breakdown's ``vocabulary``: name shown → the words that mean it (each word once)."""
    raw = b.get("vocabulary")
    if raw is None:
        return ()
    what = f"{table}.{b['column']}: 'vocabulary'"
    if not isinstance(raw, dict) or not all(
            isinstance(k, str) and k.strip() and isinstance(v, list | None)
            and all(isinstance(w, str) and w.strip() for w in v or []) for k, v in raw.items()):
        out.append(Problem(where, f"{what} must map each name to a list of words"))
        return ()
    seen: dict[str, str] = {}
    found = []
    for name, words in raw.items():
        for w in [name, *(words or [])]:
            folded = w.strip().lower()
            if seen.setdefault(folded, name) != name:
                out.append(Problem(where, f"{what}: '{w}' means both '{seen[folded]}' and "
                                          f"'{name}'"))
        found.append((name.strip(), tuple(w.strip() for w in words or [])))
    return tuple(found)


def parse_domain(name: str, raw: dict[str, Any], lines: Lines,
                 out: list[Problem]) -> DomainSpec:
    """A ``domains`` entry; its problems (file and line) are appended to ``out``."""
    if not isinstance(raw.get("page"), str):
        out.append(Problem(lines.at("domains", name), f"domain '{name}' without a page"))
    return DomainSpec(name, str(raw.get("page") or ""), raw.get("detail"),
                      place=lines.at("domains", name))


def parse_page(name: str, raw: dict[str, Any], lines: Lines,
               out: list[Problem]) -> PageSpec | None:
    """A ``pages`` entry (None when unusable); its problems are appended to ``out``."""
    at = ("pages", name)
    label = raw.get("label") or {}
    if not (isinstance(label, dict) and label.get("zh") and label.get("en")):
        out.append(Problem(lines.at(*at, "label"), f"page '{name}' needs label zh and en"))
        return None
    # a page of its own script may show no domain's KPIs by domain (the map: every KPI);
    # screens/domain.py draws the page's domains, so it needs at least one
    own_script = raw.get("script") is not None
    domains = _strs(raw.get("domains"))
    # a page of the office's work across domains (targets, the bulletin, the map) names its
    # own script and may list no domain; a data page lists the domains it draws
    if domains is None or not (domains or own_script):
        out.append(Problem(lines.at(*at, "domains"), f"page '{name}' must list its domains "
                                                     "(or name its own script)"))
        return None
    top = None
    if raw.get("top") is not None:
        t = raw["top"]
        if not (isinstance(t, dict) and all(isinstance(t.get(k), str) for k in
                                            ("table", "column", "time"))
                and isinstance(t.get("label"), dict)):
            out.append(Problem(lines.at(*at, "top"), f"page '{name}': top needs table, column, "
                                                     "time and label {zh, en}"))
        else:
            top = TopValues(t["table"], t["column"], t["time"], str(t["label"].get("zh")),
                            str(t["label"].get("en")), int(t.get("n", 10)))
    return PageSpec(name=name, zh=str(label["zh"]), en=str(label["en"]),
                    icon=str(raw.get("icon", ":material/insights:")),
                    order=int(raw.get("order", 100)), domains=domains,
                    script=str(raw.get("script", "screens/domain.py")), top=top,
                    sections=_sections(name, raw.get("sections"), lines, out),
                    place=lines.at(*at))


def _sections(page: str, raw: Any, lines: Lines, out: list[Problem]
              ) -> tuple[KpiSection, ...]:
    """A page's KPI sections: ``[{label: {zh, en}, kpis: [id, …]}, …]``."""
    if raw is None:
        return ()
    at = ("pages", page, "sections")
    if not isinstance(raw, list):
        out.append(Problem(lines.at(*at), f"page '{page}': sections must be a list"))
        return ()
    found: list[KpiSection] = []
    for s in raw:
        label = s.get("label") if isinstance(s, dict) else None
        kpis = _strs(s.get("kpis")) if isinstance(s, dict) else None
        if not (isinstance(label, dict) and label.get("zh") and label.get("en") and kpis):
            out.append(Problem(lines.at(*at), f"page '{page}': a section needs label {{zh, "
                                              "en} and a list of kpis"))
            continue
        found.append(KpiSection(str(label["zh"]), str(label["en"]), kpis, lines.at(*at)))
    return tuple(found)
