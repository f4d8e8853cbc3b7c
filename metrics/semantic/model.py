"""The semantic layer as data: what a table, domain and page declare (frozen dataclasses) and
the vocabularies a declaration may use (types, masks, operators, breakdown dimensions).

Parsed by :mod:`metrics.semantic.parse`, checked by :mod:`metrics.semantic.validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Boolean, Float, Integer

from core.errors import ConfigError, Problem

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
