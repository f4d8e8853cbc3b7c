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
    # Tabs: the board (a large chart) is drawn when opened, so the cards appear sooner.
    tabs = iter(st.tabs(titles))
    if view.child_level is not None:
        with next(tabs):
            ranked = ov.ranking.filter(pl.col("key").is_not_null())["kpi"].unique(
                maintain_order=True).to_list()
            if ranked:
                kpi = sections.kpi_picker(ranked, "overview")
                sections.ranking_chart(view, ov.ranking, kpi, names, "overview")
            else:
                st.info(t("domain.no_data"))
    if board:
        with next(tabs):
            sections.board_chart(view, ov.board, names)


main()
