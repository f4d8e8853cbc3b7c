"""The semantic layer: one home for each table's facts (``config/semantic/*.yaml``).

Per warehouse table: its area column and level, its time columns (and ``YYYY-MM`` month
columns), its derived columns (type, expression, inputs, labels), its detail columns with zh/en
labels and masks (the columns its rows show on a page, in a drill-through and in exports), its
breakdown dimensions (category, department, channel, item) and its domain. Per domain: its
page and detail table. Per page: label, icon, order, domains and (optionally) its own script.
The compiler, rollups, detail rows, exports, pages, demo and docs read this; :func:`validate`
checks it against :mod:`warehouse.schema` and the KPI catalogue and reports every
inconsistency at once, with file and line.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, String, Table

from core.divisions import SCOPE_LEVELS
from core.errors import ConfigError, Problem
from warehouse.schema import data_tables

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "config" / "semantic"
TYPES: dict[str, type] = {"boolean": Boolean, "float": Float, "integer": Integer}
MASKS = ("none", "redact", "phone", "id", "name")
# derived-column operators every engine gets from one definition (metrics/derived.py)
OPERATORS = ("hours_between",)
# the breakdown dimensions a table may declare (``gongzhi kpi --by``, the pages' breakdowns)
DIMENSIONS = ("category", "department", "channel", "item", "mechanism")
# each dimension's generic name, where rows of several tables meet (a CLI column header); a
# table's own label (``zh``/``en`` of its breakdown, e.g. 诉求类别) names it on its own pages
DIMENSION_LABELS: dict[str, dict[str, str]] = {
    "category": {"zh": "类别", "en": "category"}, "department": {"zh": "部门", "en": "department"},
    "channel": {"zh": "渠道", "en": "channel"}, "item": {"zh": "事项", "en": "item"},
    "mechanism": {"zh": "议事形式", "en": "mechanism"}}


@dataclass(frozen=True)
class Area:
    column: str
    level: str


@dataclass(frozen=True)
class Derived:
    """A column computed from stored ones: ``expr`` (an operator over columns) or a named
    ``builtin`` (SQL and polars in metrics/derived.py); ``depends_on``: tables whose change
    changes its values (the rollups that use it are rebuilt)."""

    name: str
    type: type
    inputs: tuple[str, ...]
    op: str | None = None
    args: tuple[str, ...] = ()
    builtin: str | None = None
    depends_on: tuple[str, ...] = ()
    zh: str = ""  # the column's label beside the stored ones (a drill-through's rows)
    en: str = ""


@dataclass(frozen=True)
class DetailColumn:
    column: str
    zh: str
    en: str
    mask: str = "none"


@dataclass(frozen=True)
class Detail:
    """The columns a row of the table shows people; ``time`` orders a domain page's rows (a
    domain's detail table needs one; a table only drilled into from a KPI may go without)."""

    time: str | None
    columns: tuple[DetailColumn, ...]
    personal: bool = False  # rows about persons: every view and export is audited


@dataclass(frozen=True)
class Breakdown:
    """A breakdown dimension of a table's rows: ``column`` of the row, or of ``via`` (a table
    joined on ``key``, the same column in both: a service case's department is its item's)."""

    by: str  # one of DIMENSIONS
    column: str
    zh: str
    en: str
    via: str | None = None
    key: str | None = None
    # words sources use → the name shown (``vocabulary: {幸福夜话: [夜话, …]}``), compared
    # trimmed and lower-cased; a word not listed shows as ``other`` when it is set, else as
    # given (trimmed): other districts name their mechanisms differently, and none is lost
    vocabulary: tuple[tuple[str, tuple[str, ...]], ...] = ()
    other: str | None = None


@dataclass(frozen=True)
class TopValues:
    """A "top N values of a column in the period" section on a page (e.g. 12345 categories)."""

    table: str
    column: str
    time: str
    label_zh: str
    label_en: str
    n: int = 10


@dataclass(frozen=True)
class KpiSection:
    """A titled group of a page's KPIs, shown together with their values one level down
    (e.g. 五级网格 on the grid page: buildings, building heads, party-member workers)."""

    label_zh: str
    label_en: str
    kpis: tuple[str, ...]
    place: str = ""


@dataclass(frozen=True)
class TableSpec:
    name: str
    area: Area | None
    times: tuple[str, ...]
    months: tuple[str, ...] = ()
    derived: dict[str, Derived] = field(default_factory=dict)
    detail: Detail | None = None
    breakdowns: tuple[Breakdown, ...] = ()
    domain: str | None = None
    demo: str | None = None  # "module:function" writing its demo sources
    place: str = ""


@dataclass(frozen=True)
class DomainSpec:
    name: str
    page: str
    detail: str | None
    place: str = ""


@dataclass(frozen=True)
class PageSpec:
    name: str
    zh: str
    en: str
    icon: str
    order: int
    domains: tuple[str, ...]
    script: str = "screens/domain.py"
    top: TopValues | None = None
    sections: tuple[KpiSection, ...] = ()
    place: str = ""


@dataclass
class Layer:
    """The whole semantic layer, as loaded (not yet checked against the schema)."""

    tables: dict[str, TableSpec]
    domains: dict[str, DomainSpec]
    pages: dict[str, PageSpec]
    folder: Path

    def table(self, name: str) -> TableSpec | None:
        return self.tables.get(name)

    def derived(self, table: str, column: str) -> Derived | None:
        spec = self.tables.get(table)
        return spec.derived.get(column) if spec else None

    def is_month(self, table: str, column: str) -> bool:
        spec = self.tables.get(table)
        return bool(spec and column in spec.months)

    def detail_of(self, domain: str) -> tuple[str, Detail]:
        """The table and detail spec a domain's page shows; a clear error when it has none."""
        d = self.domains.get(domain)
        spec = self.tables.get(d.detail) if d and d.detail else None
        if spec is None or spec.detail is None or spec.detail.time is None:
            raise ConfigError([Problem(str(self.folder), f"domain '{domain}' has no detail "
                                                         "table in the semantic layer")])
        return spec.name, spec.detail

    def breakdown(self, table: str, by: str) -> Breakdown | None:
        spec = self.tables.get(table)
        return next((b for b in spec.breakdowns if b.by == by), None) if spec else None

    def dimensions(self) -> list[str]:
        """Every dimension some table declares, in :data:`DIMENSIONS` order: what ``gongzhi kpi
        --by`` and ``gongzhi rows --by`` accept, so a new table's breakdowns need no CLI edit."""
        have = {b.by for spec in self.tables.values() for b in spec.breakdowns}
        return [d for d in DIMENSIONS if d in have]

    def dimension_label(self, by: str, lang: str) -> str:
        """The generic name of a dimension in ``lang`` (zh/en): :data:`DIMENSION_LABELS`, else
        the label of the first table (by name) declaring it, else ``by`` itself."""
        generic = DIMENSION_LABELS.get(by, {}).get(lang)
        if generic:
            return generic
        for name in sorted(self.tables):
            b = self.breakdown(name, by)
            if b is not None:
                return b.zh if lang == "zh" else b.en
        return by

    def dimensions_of(self, table: str) -> list[str]:
        """The dimensions ``table``'s rows can be broken down by, in :data:`DIMENSIONS` order."""
        spec = self.tables.get(table)
        have = {b.by for b in spec.breakdowns} if spec else set()
        return [d for d in DIMENSIONS if d in have]

    def ordered_pages(self) -> list[PageSpec]:
        return sorted(self.pages.values(), key=lambda p: (p.order, p.name))

    def domain_order(self) -> list[str]:
        """Domains in the order pages show them (page order, then the page's own order)."""
        out = [d for p in self.ordered_pages() for d in p.domains]
        return out + sorted(d for d in self.domains if d not in out)


# -- loading -----------------------------------------------------------------------------------


def folder_of(folder: str | os.PathLike[str] | None = None) -> Path:
    return Path(folder) if folder else Path(os.environ.get("GONGZHI_SEMANTIC", DEFAULT_DIR))


@functools.cache
def _cached(folder: Path) -> tuple[Layer, tuple[Problem, ...]]:
    return _load(folder)


def load(folder: str | os.PathLike[str] | None = None, *, check: bool = True) -> Layer:
    """The semantic layer in ``folder`` (default ``config/semantic``); with ``check``, raise
    :class:`ConfigError` listing every problem of the layer against the warehouse schema."""
    layer, problems = _cached(folder_of(folder).resolve())
    if check and problems:
        raise ConfigError(list(problems), header=f"the semantic layer in {layer.folder} is "
                                                 "invalid")
    return layer


def problems(folder: str | os.PathLike[str] | None = None) -> list[Problem]:
    """Every problem of the layer on its own (not yet against the KPI catalogue)."""
    return list(_cached(folder_of(folder).resolve())[1])


class _Lines:
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


def _load(folder: Path) -> tuple[Layer, tuple[Problem, ...]]:
    layer = Layer({}, {}, {}, folder)
    out: list[Problem] = []
    files = sorted(folder.glob("*.yaml"))
    if not files:
        return layer, (Problem(str(folder), "no semantic layer files (*.yaml) found"),)
    for f in files:
        text = f.read_text(encoding="utf-8")
        try:
            node = yaml.compose(text)
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            out.append(Problem(f"{f}:{mark.line + 1 if mark else 1}", f"not valid YAML: {e}"))
            continue
        lines = _Lines(f, node)
        if not isinstance(data, dict) or set(data) - {"tables", "domains", "pages"}:
            out.append(Problem(lines.at(), "expected a mapping of 'tables', 'domains' and "
                                           "'pages'"))
            continue
        sections: tuple[tuple[str, Any, dict[str, Any]], ...] = (
            ("tables", _table, layer.tables), ("domains", _domain, layer.domains),
            ("pages", _page, layer.pages))
        for kind, parse, into in sections:
            section = data.get(kind) or {}
            if not isinstance(section, dict):
                out.append(Problem(lines.at(kind), f"'{kind}' must be a mapping by name"))
                continue
            for name, raw in section.items():
                if name in into:
                    out.append(Problem(lines.at(kind, name), f"{kind[:-1]} '{name}' is "
                                       f"declared twice (also at {into[name].place})"))
                    continue
                errs: list[Problem] = []
                spec = parse(str(name), raw, lines, errs) if isinstance(raw, dict) else None
                if spec is None and not errs:
                    errs.append(Problem(lines.at(kind, name), f"{kind[:-1]} '{name}' must be "
                                                              "a mapping"))
                out += errs
                if spec is not None:
                    into[name] = spec
    out += _check_schema(layer)
    return layer, tuple(out)


def _strs(raw: Any) -> tuple[str, ...] | None:
    if raw is None:
        return ()
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        return tuple(raw)
    return None


def _table(name: str, raw: dict[str, Any], lines: _Lines, out: list[Problem]) -> TableSpec:
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


def _derived(table: str, name: str, d: Any, lines: _Lines, out: list[Problem]
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


def _detail(table: str, raw: Any, lines: _Lines, out: list[Problem]) -> Detail | None:
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


def _breakdowns(table: str, raw: Any, lines: _Lines, out: list[Problem]
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


def _domain(name: str, raw: dict[str, Any], lines: _Lines, out: list[Problem]) -> DomainSpec:
    if not isinstance(raw.get("page"), str):
        out.append(Problem(lines.at("domains", name), f"domain '{name}' without a page"))
    return DomainSpec(name, str(raw.get("page") or ""), raw.get("detail"),
                      place=lines.at("domains", name))


def _page(name: str, raw: dict[str, Any], lines: _Lines, out: list[Problem]) -> PageSpec | None:
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


def _sections(page: str, raw: Any, lines: _Lines, out: list[Problem]
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


# -- checks against the warehouse schema -------------------------------------------------------


def _is_time_type(col: Any) -> bool:
    return isinstance(col.type, DateTime | Date)


def _check_schema(layer: Layer) -> list[Problem]:
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
        script = Path(__file__).resolve().parents[1] / "dashboard" / p.script
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


__all__ = ["DIMENSIONS", "DIMENSION_LABELS", "Area", "Breakdown", "Derived", "Detail",
           "DetailColumn", "DomainSpec", "KpiSection", "Layer", "PageSpec", "TableSpec",
           "TopValues", "check_catalog", "load",
           "problems"]


# -- the docs read it --------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
DOCS_BEGIN = "<!-- semantic-tables:begin (python -m metrics.semantic writes this) -->"
DOCS_END = "<!-- semantic-tables:end -->"


def markdown(layer: Layer) -> str:
    """The layer as the docs show it: pages, then one row per table (generated, never typed)."""
    lines = ["| page | title | domains |", "|---|---|---|"]
    lines += [f"| `{p.name}` | {p.zh} / {p.en} | {', '.join(p.domains) or '—'} |"
              for p in layer.ordered_pages()]
    lines += ["", "| table | domain | area (level) | time columns | derived | detail columns "
              "| breakdowns |", "|---|---|---|---|---|---|---|"]
    for name in sorted(layer.tables):
        t = layer.tables[name]
        area = f"`{t.area.column}` ({t.area.level})" if t.area else "—"
        times = ", ".join([f"`{c}`" for c in t.times] + [f"`{c}` (YYYY-MM)" for c in t.months])
        derived = ", ".join(f"`{d.name}` = {_expr(d)}" for d in t.derived.values())
        detail = (", ".join(f"{c.zh}" + (f" ({c.mask})" if c.mask != "none" else "")
                            for c in t.detail.columns) if t.detail else "—")
        breakdowns = ", ".join(f"{b.by}: `{b.via + '.' if b.via else ''}{b.column}`"
                               for b in t.breakdowns)
        lines.append(f"| `{name}` | {t.domain or '—'} | {area} | {times or '—'} | "
                     f"{derived or '—'} | {detail} | {breakdowns or '—'} |")
    return "\n".join(lines) + "\n"


def _expr(d: Derived) -> str:
    return d.builtin or f"{d.op}({', '.join(d.args)})"


def docs_section(text: str, layer: Layer) -> str:
    """``text`` (docs/architecture.md) with its generated tables replaced by the layer's."""
    head, _, rest = text.partition(DOCS_BEGIN)
    _, _, tail = rest.partition(DOCS_END)
    return f"{head}{DOCS_BEGIN}\n{markdown(layer)}{DOCS_END}{tail}"


if __name__ == "__main__":  # refresh the generated tables of docs/architecture.md
    DOCS.write_text(docs_section(DOCS.read_text(encoding="utf-8"), load()), encoding="utf-8")
