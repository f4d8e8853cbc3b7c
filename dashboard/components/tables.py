"""Tables: the ranking of areas one level down (a row click drills down) and the paged
detail rows with their exports."""

from __future__ import annotations

import functools
import math
from typing import Any

import polars as pl
import streamlit as st

from dashboard import data, i18n, state
from dashboard.components import exports
from dashboard.i18n import t
from dashboard.state import View
from metrics import detail
from metrics import format as fmt

DOT = {"blue": "🔵", "yellow": "🟡", "red": "🔴", None: "⚪"}
PAGE_ROWS = 50


def ranking_table(view: View, ranking: pl.DataFrame, names: dict[str, str], key: str,
                  kpi: str | None = None) -> None:
    """Areas × KPIs with coloured dots; selecting a row narrows the view to that area; with
    ``kpi``, each row links to the rows behind that KPI in its area."""
    level = view.child_level
    if level is None or ranking.is_empty():
        return
    codes = sorted(set(ranking["key"].drop_nulls()))
    labels: dict[str, str] = {}
    cells: dict[str, dict[str, str]] = {c: {} for c in codes}
    for r in ranking.iter_rows(named=True):
        if r["key"] is None:
            continue
        label = i18n.pick(r["label"], r["label_en"])
        labels[r["kpi"]] = label
        cells[r["key"]][label] = f"{DOT[r['status']]} {fmt.value(r['value'], r['unit'], view.lang)}"
    area = t("col.area")
    rows = [{area: names.get(c, c), **{v: cells[c].get(v, "—") for v in labels.values()}}
            for c in codes]
    frame = pl.DataFrame(rows, schema={area: pl.String, **{v: pl.String for v in labels.values()}})
    config: dict[str, Any] = {}
    if kpi is not None:
        from dashboard.components import drill

        link = t("col.rows_link")
        frame = frame.with_columns(pl.Series(link, [drill.url(view, kpi, area=(level, c))
                                                    for c in codes], dtype=pl.String))
        config[link] = st.column_config.LinkColumn(display_text=t("drill.open"))
    widget = f"{key}_{view.scope.code}_{view.period}"
    st.dataframe(frame, hide_index=True, key=widget, on_select=functools.partial(
        state.on_table_select, widget, codes, level), selection_mode="single-row",
        column_config=config)


def detail_table(view: View, domain: str) -> None:
    """One page of the filtered detail rows, and XLSX/CSV exports of all of them."""
    count = data.detail_count(view.key, domain, view.scope, view.period)
    if count is None:
        st.info(t("detail.not_applicable"))
        return
    st.caption(t("detail.count", n=f"{count:,}"))
    if count == 0:
        st.info(t("export.empty"))
        return
    pages = max(1, math.ceil(count / PAGE_ROWS))
    page = st.number_input(t("detail.page", pages=pages), min_value=1, max_value=pages, value=1,
                           step=1, key=f"page_{domain}_{view.scope.code}_{view.period}")
    offset = (int(page) - 1) * PAGE_ROWS
    rows = data.detail_page(view.key, domain, view.scope, view.period, offset, PAGE_ROWS,
                            view.lang)
    _audit_once(view, domain, offset, rows.height)
    st.dataframe(rows, hide_index=True)
    if count > detail.EXPORT_CAP:
        st.warning(t("export.capped", n=f"{count:,}", cap=f"{detail.EXPORT_CAP:,}"))
    exports.buttons(
        functools.partial(data.export_rows, view.key, domain, view.scope, view.period, view.lang),
        stem=f"gongzhi_{domain}_{view.scope.code}_{view.period}", key=f"export_{domain}")


def _audit_once(view: View, domain: str, offset: int, rows: int) -> None:
    """Person-level rows shown: one audit record per session and page of rows (a rerun of
    the same page is not a new view)."""
    seen: set[tuple[str, ...]] = st.session_state.setdefault("_audited_views", set())
    mark = (domain, view.scope.key(), view.period, str(offset), str(view.key.version))
    if mark not in seen:
        data.audit_view(view.key, domain, view.scope, view.period, offset, rows)
        seen.add(mark)
