"""A domain page: live KPI cards, trend with the target line, area × month heatmap, ranking
one level down (bars and table; a click drills down) and the detail rows with exports."""

from __future__ import annotations

import functools

import polars as pl
import streamlit as st

from dashboard import data, i18n, state
from dashboard.components import breakdowns, cards, filters, sections, tables
from dashboard.i18n import md, t
from dashboard.state import View


def _pages(view: View, key: data.Key, domains: tuple[str, ...]) -> tuple[pl.DataFrame, ...]:
    parts = [data.domain_page(key, d, view.scope, view.period) for d in domains]
    return tuple(pl.concat([getattr(p, f) for p in parts], how="diagonal_relaxed")
                 for f in ("kpis", "trend", "ranking"))


def load_cards(domains: tuple[str, ...], view: View, key: data.Key
               ) -> tuple[pl.DataFrame, pl.DataFrame]:
    kpis, trend, _ = _pages(view, key, domains)
    return kpis, trend


def render(domains: tuple[str, ...], page: str) -> None:
    """Lay out the page for ``domains`` (the party page shows party and civic KPIs)."""
    view = state.current()
    names = data.names(view.key)
    cat = data.catalog()
    st.title(t(f"nav.{page}"))
    st.caption(t("overview.caption", area=view.scope.name, period=view.period))
    filters.period_note()
    filters.breadcrumb(view, names)
    st.subheader(t("domain.kpis"))
    cards.live_cards(view, functools.partial(load_cards, domains))

    kpis, trend, ranking = _pages(view, view.key, domains)
    charted = [k for k in data.applicable(kpis, view.scope.level)["kpi"].to_list()
               if cat.get(k).periodic]
    if not charted:
        return
    kpi = sections.kpi_picker(charted, page)
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{t('domain.trend')}**")
        sections.trend_chart(view, trend, kpi)
    with right:
        if view.child_level is not None:
            st.markdown(f"**{t('domain.ranking', level=t(f'level.{view.child_level}'))}**")
        sections.ranking_chart(view, ranking, kpi, names, page)
    if view.child_level is not None:
        st.subheader(t("domain.heatmap", level=t(f"level.{view.child_level}")))
        sections.heatmap_chart(view, kpi, names)
        st.subheader(t("domain.table", level=t(f"level.{view.child_level}")))
        tables.ranking_table(view, ranking, names, f"{page}_table", kpi)
    breakdowns.breakdown_section(view, kpi, page)
    breakdowns.versus_section(view, charted, page)

    st.subheader(t("domain.section"))
    shown = domains[0]
    if len(domains) > 1:
        shown = state.bound(
            st.segmented_control, t("domain.detail_of"), list(domains), f"detail_{page}",
            required=True,
            format_func=lambda d: md(i18n.pick(cat.domains[d].label.zh,
                                             cat.domains[d].label.en)))
    tables.detail_table(view, shown)
