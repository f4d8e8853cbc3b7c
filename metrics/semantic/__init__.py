"""The semantic layer: one home for each table's facts (``config/semantic/*.yaml``).

Per warehouse table: its area column and level, its time columns (and ``YYYY-MM`` month
columns), its derived columns (type, expression, inputs, labels), its detail columns with zh/en
labels and masks (the columns its rows show on a page, in a drill-through and in exports), its
breakdown dimensions (category, department, channel, item) and its domain. Per domain: its
page and detail table. Per page: label, icon, order, domains and (optionally) its own script.
The compiler, rollups, detail rows, exports, pages, demo and docs read this;
:mod:`~metrics.semantic.validate` checks it against :mod:`warehouse.schema` and the KPI
catalogue, and :func:`load` reports every inconsistency at once, with file and line.

One module per step, re-exported here (callers use ``semantic.load()``, ``semantic.Layer``):
:mod:`~metrics.semantic.model` (the dataclasses), :mod:`~metrics.semantic.parse` (YAML entries
with file and line), :mod:`~metrics.semantic.validate` (problems against the schema and the KPI
catalogue), :mod:`~metrics.semantic.load` (the folder, cached) and
:mod:`~metrics.semantic.docs` (the generated tables; ``python -m metrics.semantic``).
"""

from __future__ import annotations

from metrics.semantic.docs import DOCS, DOCS_BEGIN, DOCS_END, docs_section
from metrics.semantic.load import folder_of, load, problems
from metrics.semantic.model import (
    DIMENSION_LABELS,
    DIMENSIONS,
    Area,
    Breakdown,
    Derived,
    Detail,
    DetailColumn,
    DomainSpec,
    KpiSection,
    Layer,
    PageSpec,
    TableSpec,
    TopValues,
)
from metrics.semantic.validate import check_catalog

__all__ = ["DIMENSIONS", "DIMENSION_LABELS", "DOCS", "DOCS_BEGIN", "DOCS_END",
           "Area", "Breakdown", "Derived", "Detail", "DetailColumn", "DomainSpec", "KpiSection",
           "Layer", "PageSpec", "TableSpec", "TopValues", "check_catalog", "docs_section",
           "folder_of", "load", "problems"]
