"""总览 Overview, for leaders: headline KPI cards (live), the ranking one level down and the
three-colour board of communities × KPIs."""

from __future__ import annotations

import functools

import polars as pl
import streamlit as st

from dashboard import data, state
from dashboard.components import cards, composite, filters, sections, tables, tasks
from dashboard.i18n import md, t
from dashboard.state import View
from metrics import views


def main() -> None:
    view = state.current()
    names = data.names(view.key)
    st.title(t("overview.title"))
    st.caption(t("overview.caption", area=view.scope.name, period=view.period))
    filters.period_note()
    filters.breadcrumb(view, names)
    tasks.counts(view)
    st.subheader(t("overview.cards"))
    # read once for the cards and the sections below (each cache hit is a copy); the board
    # is read only when its tab is open
    ov = data.overview(view.key, view.scope, view.period, with_board=False)
    cards.live_cards(view, lambda _view, _key: (ov.cards, ov.sparklines),
                     functools.partial(tasks.card_button, view))
    lower_sections(view, ov, names)


def lower_sections(view: View, ov: views.Overview, names: dict[str, str]) -> None:
    """The ranking one level down (a table, then a bar chart) and the three-colour board, as
    lazy tabs: only the open tab's content is built and sent. Measured in Chromium here, a
    Vega chart costs a first visit ~0.5 CPU-s more than the native table and the board
    (~2,000 cells, ~270 KB) more still; leaders open the overview many times a day, so the
    default tab is the table (a row click drills down) and the charts come on request."""
    level = view.child_level
    board = view.scope.level in ("district", "street", "community")
    sections_: list[tuple[str, str]] = []
    if level is not None:
        lv = t(f"level.{level}")
        sections_ += [("table", t("overview.ranking", level=lv)),
                      ("chart", t("overview.ranking_chart", level=lv))]
        if level in ("street", "community"):
            sections_.append(("composite", t("overview.composite", level=lv)))
    if board:
        unit = "community" if view.scope.level in ("district", "street") else "grid"
        sections_.append(("board", t("overview.board", level=t(f"level.{unit}"))))
    if not sections_:
        return
    tabs = st.tabs([md(title) for _, title in sections_], on_change="rerun",
                   key=f"overview_tab_{view.scope.level}_{view.lang}")
    ranked = ov.ranking  # rows of areas (a polars filter costs more than a look for nulls)
    if ranked["key"].null_count():
        ranked = ranked.filter(pl.col("key").is_not_null())
    for (what, _), tab in zip(sections_, tabs, strict=True):
        if not tab.open:
            continue
        with tab:
            if what == "board":
                cells = data.overview_board(view.key, view.scope, view.period)
                sections.board_chart(view, cells, names)
                unit = "community" if view.scope.level in ("district", "street") else "grid"
                tasks.red_cells(view, cells.filter(pl.col("key").is_not_null()), names,
                                unit, "cell")
            elif what == "composite":
                composite.composite_table(view)
            elif ranked.is_empty():
                st.info(t("domain.no_data"))
            elif what == "table":
                tables.ranking_table(view, ranked, names, "overview_rank")
                tasks.red_cells(view, ranked, names, level or "", "ranking")
            else:
                kpi = sections.kpi_picker(ranked["kpi"].unique(maintain_order=True).to_list(),
                                          "overview")
                sections.ranking_chart(view, ranked, kpi, names, "overview")

main()
