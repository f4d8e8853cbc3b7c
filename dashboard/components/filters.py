"""The sidebar filters (language, street → community → grid, period) and the breadcrumb."""

from __future__ import annotations

import streamlit as st

from core.divisions import depth
from dashboard import data, i18n, state
from dashboard.i18n import md, t
from dashboard.state import GRAIN_KEY, GRAINS, KEYS, NONE, View, bound
from metrics.periods import Grain


def _choices(units: data.Units, level: str, parent: str | None,
             viewer_level: str = "district") -> list[str]:
    codes = list(units.children.get((level, parent), []))  # the shared list stays as it is
    # staff are pinned to their street (and community): no "all", only their own
    return codes if depth(level) <= depth(viewer_level) else [NONE, *codes]


def language() -> None:
    st.segmented_control(
        t("lang.label"), options=list(i18n.LANGS), key=i18n.LANG_KEY, required=True,
        format_func=lambda code: i18n.STRINGS[f"lang.{code}"][code])


def sidebar(units: data.Units, names: dict[str, str], viewer_level: str = "district") -> None:
    """Draw the filters; their values live in session state under ``state.KEYS``."""
    ss = st.session_state
    street = ss.get(KEYS["street"]) or NONE
    community = ss.get(KEYS["community"]) or NONE
    st.subheader(t("filter.header"))
    bound(st.selectbox, t("filter.street"), _choices(units, "street", None, viewer_level),
          KEYS["street"],
          format_func=lambda c: names.get(c, c) if c else t("filter.all_streets"),
          on_change=state.on_street_change)
    bound(st.selectbox, t("filter.community"),
          _choices(units, "community", street or "-", viewer_level),
          KEYS["community"], disabled=not street,
          format_func=lambda c: names.get(c, c) if c else (
              t("filter.all_communities") if street else t("filter.pick_street_first")),
          on_change=state.on_community_change)
    if community:
        bound(st.selectbox, t("filter.grid"), _choices(units, "grid", community), KEYS["grid"],
              format_func=lambda c: names.get(c, c) if c else t("filter.all_grids"))
    bound(st.segmented_control, t("filter.grain"), list(GRAINS), GRAIN_KEY, required=True,
          format_func=lambda g: t(f"grain.{g}"), on_change=state.on_grain_change)
    grain: Grain = ss.get(GRAIN_KEY) or "month"
    current = ss.get(KEYS["period"]) or state.default_period()
    bound(st.selectbox, t("filter.period"), state.period_options(grain, current), KEYS["period"])
    st.caption(t("filter.share"))


def period_note() -> None:
    """Say so when the page opened on the latest month with data, not the calendar's."""
    note = state.opened_note()
    if note:
        st.caption(md(note))


def breadcrumb(view: View, names: dict[str, str]) -> None:
    """District › street › community › grid, each a button back up to that level."""
    ss = st.session_state
    path = [("district", view.allowed.code, view.allowed.name)]
    for lv in state.LEVELS:
        code = ss.get(KEYS[lv]) or NONE
        if code:
            path.append((lv, code, names.get(code, code)))
    if len(path) == 1:
        st.caption(t("drill.hint"))
        return
    cols = st.columns(len(path) + 2)
    for col, (lv, _code, name) in zip(cols, path[:-1], strict=False):
        col.button(t("drill.up", name=name), key=f"up_{lv}", on_click=state.drill_up,
                   args=(lv,), icon=":material/arrow_upward:", type="tertiary")
    cols[len(path) - 1].markdown(f"**{md(path[-1][2])}**")

