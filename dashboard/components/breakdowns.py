"""Domain page sections: one KPI broken down by category, department, channel or item (each
row links to its rows), and every KPI of the page in two periods side by side."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import data, i18n, state
from dashboard.components import drill
from dashboard.i18n import t
from dashboard.state import View
from metrics import format as fmt
from metrics.breakdown import dimensions_of
from metrics.periods import parse

DOT = {"blue": "🔵", "yellow": "🟡", "red": "🔴", None: "⚪"}


def breakdown_section(view: View, kpi_id: str, page: str) -> None:
    """The chosen KPI by one dimension of its table; each row links to its rows."""
    kpi = data.catalog().get(kpi_id)
    tables = {m.table for m in kpi.measures().values()}
    dims = dimensions_of(next(iter(tables)) or "") if len(tables) == 1 and kpi.periodic else []
    st.subheader(t("breakdown.section"))
    if not dims:
        st.caption(t("breakdown.none"))
        return
    dim = state.bound(st.segmented_control, t("breakdown.by"), dims, f"dim_{page}",
                      required=True, format_func=lambda d: t(f"dim.{d}"))
    frame = data.breakdown(view.key, kpi_id, dim, view.scope, view.period)
    if frame.is_empty():
        st.info(t("domain.no_data"))
        return
    part = "numerator" if kpi.is_ratio else "measure"
    blank = t("drill.blank")
    rows = [{t(f"dim.{dim}"): r["key"] if r["key"] is not None else blank,
             t("col.value"): f"{DOT[r['status']]} {fmt.value(r['value'], r['unit'], view.lang)}",
             t("col.numerator"): r["numerator"], t("col.denominator"): r["denominator"],
             t("col.rows_link"): drill.url(view, kpi_id, part=part, dim=dim, key=r["key"])}
            for r in frame.sort("sample", descending=True).iter_rows(named=True)]
    shown = pl.DataFrame(rows, schema={t(f"dim.{dim}"): pl.String, t("col.value"): pl.String,
                                       t("col.numerator"): pl.Float64,
                                       t("col.denominator"): pl.Float64,
                                       t("col.rows_link"): pl.String})
    if not kpi.is_ratio:
        shown = shown.drop(t("col.denominator"))
    st.dataframe(shown, hide_index=True, key=f"breakdown_{page}", column_config={
        t("col.rows_link"): st.column_config.LinkColumn(display_text=t("drill.open"))})


def versus_section(view: View, kpi_ids: list[str], page: str) -> None:
    """The page's KPIs in the view's period and another one (default: a year before)."""
    st.subheader(t("versus.section"))
    a = parse(view.period)
    options = [p for p in state.period_options(a.grain, view.period) if p != view.period]
    if not options:
        return
    default = a.last_year().label
    skey = f"versus_{page}_{view.period}"
    if skey not in st.session_state:
        st.session_state[skey] = default if default in options else options[0]
    b = state.bound(st.selectbox, t("versus.b"), options, skey)
    frame = data.versus(view.key, kpi_ids, view.scope, view.period, b)
    frame = data.applicable(frame, view.scope.level) if frame.height else frame
    if frame.is_empty():
        st.info(t("domain.no_data"))
        return
    rows = [{t("drill.kpi"): i18n.pick(r["label"], r["label_en"]),
             view.period: f"{DOT[r['status_a']]} {fmt.value(r['value_a'], r['unit'], view.lang)}",
             str(b): f"{DOT[r['status_b']]} {fmt.value(r['value_b'], r['unit'], view.lang)}",
             t("col.change"): fmt.delta(r["change"], r["unit"], view.lang)}
            for r in frame.iter_rows(named=True)]
    st.dataframe(pl.DataFrame(rows), hide_index=True, key=f"versus_table_{page}")
