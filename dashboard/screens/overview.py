"""总览 Overview, for leaders: headline KPI cards (live), the ranking one level down and the
three-colour board of communities × KPIs."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import data, state
from dashboard.components import cards, filters, sections
from dashboard.i18n import t
from dashboard.state import View


def load_cards(view: View, key: data.Key) -> tuple[pl.DataFrame, pl.DataFrame]:
    ov = data.overview(key, view.scope, view.period)
    return ov.cards, ov.sparklines


def main() -> None:
    view = state.current()
    names = data.names(view.key)
    st.title(t("overview.title"))
    st.caption(t("overview.caption", area=view.scope.name, period=view.period))
    filters.breadcrumb(view, names)
    st.subheader(t("overview.cards"))
    cards.live_cards(view, load_cards)

    ov = data.overview(view.key, view.scope, view.period)
    board = view.scope.level in ("district", "street", "community")
    titles = []
    if view.child_level is not None:
        titles.append(t("overview.ranking", level=t(f"level.{view.child_level}")))
    if board:
        unit = "community" if view.scope.level in ("district", "street") else "grid"
        titles.append(t("overview.board", level=t(f"level.{unit}")))
    if not titles:
        return
    # Lazy tabs: only the open tab's content runs and is sent. The board is ~2,000 coloured
    # cells (~270 KB); sending it with every first visit kept the browser busy while the
    # cards were being drawn, so it is built only when someone opens its tab.
    tabs = st.tabs(titles, key=f"overview_tab_{view.scope.level}_{view.lang}", on_change="rerun")
    opened = iter(tabs)
    if view.child_level is not None:
        tab = next(opened)
        if tab.open:
            with tab:
                ranked = ov.ranking.filter(pl.col("key").is_not_null())["kpi"].unique(
                    maintain_order=True).to_list()
                if ranked:
                    kpi = sections.kpi_picker(ranked, "overview")
                    sections.ranking_chart(view, ov.ranking, kpi, names, "overview")
                else:
                    st.info(t("domain.no_data"))
    if board:
        tab = next(opened)
        if tab.open:
            with tab:
                sections.board_chart(view, ov.board, names)


main()
