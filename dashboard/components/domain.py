"""A domain page: live KPI cards, trend with the target line, area × month heatmap, ranking
one level down (bars and table; a click drills down) and the detail rows with exports."""

from __future__ import annotations

import functools

import polars as pl
import streamlit as st

from dashboard import data, i18n, state
from dashboard.components import breakdowns, cards, filters, geomap, sections, tables
from dashboard.i18n import Markdown, md, t
from dashboard.state import View
from metrics import format as fmt
from metrics import semantic

PAGE_KEY = "_gongzhi_page"  # the url_path of the page being run (set by dashboard/app.py)


def _pages(view: View, key: data.Key, domains: tuple[str, ...]) -> tuple[pl.DataFrame, ...]:
    parts = [data.domain_page(key, d, view.scope, view.period) for d in domains]
    return tuple(pl.concat([getattr(p, f) for p in parts], how="diagonal_relaxed")
                 for f in ("kpis", "trend", "ranking"))


def load_cards(domains: tuple[str, ...], view: View, key: data.Key
               ) -> tuple[pl.DataFrame, pl.DataFrame]:
    kpis, trend, _ = _pages(view, key, domains)
    return kpis, trend


def render_page(page: str | None = None) -> None:
    """The domain page ``page`` as the semantic layer declares it (its domains, title and
    sections); without a name, the page being run (a generic ``screens/domain.py``)."""
    name = page or str(st.session_state.get(PAGE_KEY, ""))
    spec = semantic.load().pages[name]
    render(spec.domains, name)


def render(domains: tuple[str, ...], page: str) -> None:
    """Lay out the page for ``domains`` (the party page shows party and civic KPIs)."""
    view = state.current()
    names = data.names(view.key)
    cat = data.catalog()
    spec = semantic.load().pages.get(page)
    st.title(md(i18n.pick(spec.zh, spec.en)) if spec else t(f"nav.{page}"))
    st.caption(t("overview.caption", area=view.scope.name, period=view.period))
    filters.period_note()
    filters.breadcrumb(view, names)
    st.subheader(t("domain.kpis"))
    cards.live_cards(view, functools.partial(load_cards, domains))

    kpis, trend, ranking = _pages(view, view.key, domains)
    charted = [k for k in data.applicable(kpis, view.scope.level)["kpi"].to_list()
               if cat.get(k).periodic]
    if spec is not None and spec.top is not None:
        _top_values(view, spec)
    for i, section in enumerate(spec.sections if spec is not None else ()):
        _kpi_section(view, section, kpis, ranking, names, f"{page}_section{i}")
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
    geomap.map_section(view, kpi, page)
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


def _top_values(view: View, spec: semantic.PageSpec) -> None:
    """The page's "top values" of the period (e.g. the 12345 categories), as a table."""
    top = spec.top
    assert top is not None
    frame = data.top_values(view.key, spec.name, view.scope, view.period)
    st.subheader(md(i18n.pick(top.label_zh, top.label_en)))
    if frame.is_empty():
        st.caption(t("top.none"))
        return
    st.dataframe(frame.rename({"value": str(t("top.value")), "rows": str(t("top.rows"))}),
                 hide_index=True)


def _kpi_section(view: View, section: semantic.KpiSection, kpis: pl.DataFrame,
                 ranking: pl.DataFrame, names: dict[str, str], key: str) -> None:
    """A titled group of KPIs (semantic layer ``sections``): the area's values in one line,
    then the areas one level down × those KPIs (a row click drills down, as in the ranking
    table). States such as building-head coverage have no trend, so this is where they are
    compared."""
    ids = [k for k in section.kpis if k in set(data.applicable(kpis, view.scope.level)["kpi"])]
    if not ids:
        return
    st.subheader(md(i18n.pick(section.label_zh, section.label_en)))
    st.markdown(_values_line(view, kpis.filter(pl.col("kpi").is_in(ids)), ids))
    if view.child_level is not None and not ranking.is_empty():
        st.markdown(f"**{t('domain.section_by', level=t(f'level.{view.child_level}'))}**")
        tables.ranking_table(view, ranking.filter(pl.col("kpi").is_in(ids)), names, key)


def _values_line(view: View, own: pl.DataFrame, ids: list[str]) -> Markdown:
    """``高庄社区：楼栋长覆盖率 **92.0%** · …``: names and values are data (escaped), only the
    bold marks are markup."""
    order = {k: i for i, k in enumerate(ids)}
    parts = [f"{md(i18n.pick(r['label'], r['label_en']))} "
             f"**{md(fmt.value(r['value'], r['unit'], view.lang))}**"
             for r in sorted(own.iter_rows(named=True), key=lambda r: order[r["kpi"]])]
    return Markdown(f"{md(view.scope.name)}：" + " · ".join(parts))
