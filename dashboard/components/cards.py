"""KPI cards: value, target, status colour, change, sparkline and how fresh the data is.

A fragment reruns every few seconds on its own: it reads the warehouse's data version and,
when a run has landed, reruns the app so the cards (and the charts) are drawn from the new
data without reloading the page.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any

import polars as pl
import streamlit as st

from dashboard import data, i18n
from dashboard.components import outage
from dashboard.i18n import Markdown, md, t
from dashboard.state import View
from metrics import format as fmt
from warehouse.engine import utcnow

# How often the cards look for a new data version; small in tests. Runs land a few times a
# day, while every tick is a fragment run in each open browser (measured here: ~6 ms on the
# server but ~70 ms in the browser per tick; at 5 s, thirty tabs on one 2-core machine were
# swamped by their own ticks). 30 s keeps the cards live within half a minute of a run.
REFRESH_SECONDS = float(os.environ.get("GONGZHI_REFRESH_SECONDS", "30"))
# Redraws after a run are spread over this many seconds across open dashboards.
SPREAD_SECONDS = float(os.environ.get("GONGZHI_REFRESH_SPREAD_SECONDS", "60"))
BADGE = {"blue": "blue", "yellow": "yellow", "red": "red", None: "gray"}
MARK = {"blue": ":blue[●]", "yellow": ":orange[▲]", "red": ":red[■]", None: ":gray[·]"}
COLUMNS = 4

# (cards, sparklines) for a view at a data version: each page passes its own loader
Loader = Callable[[View, data.Key], tuple[pl.DataFrame, pl.DataFrame]]


def status_label(row: dict[str, Any]) -> Markdown:
    """Why a card has its colour, or why it has none."""
    if row["status"] in ("blue", "yellow", "red"):
        return t(f"status.{row['status']}")
    if row["value"] is None:
        return t("status.no_value")
    kpi = data.catalog().kpis.get(row["kpi"])
    if row["target"] is None:
        if kpi is not None and kpi.target is not None:  # set for other levels, not this one
            return t("status.target_elsewhere")
        return t("status.no_target")
    if kpi is not None and (row["sample"] or 0) < kpi.min_sample:
        return t("status.small_sample")
    return t("status.none")


def target_text(row: dict[str, Any], lang: str) -> Markdown:
    """The target that holds for the card's area, or why there is none (a district count
    target is not shown on a community's card)."""
    if row["target"] is None:
        kpi = data.catalog().kpis.get(row["kpi"])
        if kpi is not None and kpi.target_levels:
            zh = i18n.lang() == "zh"
            words = [t(f"level.{lv}") if zh else t(f"level.{lv}").lower()
                     for lv in kpi.target_levels]
            return t("card.target_elsewhere", levels=("、" if zh else ", ").join(words))
        return t("card.no_target")
    v = fmt.value(row["target"], row["unit"], lang)
    return t("card.target_higher" if row["direction"] == "higher" else "card.target_lower", v=v)


def updated_caption(lang: str, version: int | None = None) -> None:
    """When the data last changed, in Asia/Shanghai time and how long ago (the data version
    number, which means nothing to a leader, only in the tooltip); ``version``: the one this
    run's figures were read at (else it is read again)."""
    version = data.version() if version is None else version
    when = data.last_update(version)
    text = t("data.never_loaded") if when is None else t(
        "data.updated", when=fmt.fresh(when, lang), ago=fmt.ago(when, utcnow(), lang))
    st.caption(md(text), help=t("data.version", v=version))


def no_input_note(row: dict[str, Any], gaps: dict[str, list[str]]) -> Markdown:
    """' · ⚠ …' when a source feeding the KPI found no input in its latest run, else ''."""
    kpi = data.catalog().kpis.get(row["kpi"])
    tables = {m.table for m in kpi.measures().values()} if kpi is not None else set()
    sources = sorted({s for tb in tables for s in gaps.get(tb or "", [])})
    if not sources:
        return Markdown("")
    return Markdown(" · " + t("card.no_input", sources="、".join(sources)))


def card(row: dict[str, Any], spark: list[float], lang: str,
         gaps: dict[str, list[str]] | None = None,
         action: Callable[[dict[str, Any]], None] | None = None,
         view: View | None = None) -> None:
    """One KPI card (native components only: no HTML with data in it)."""
    kpi = data.catalog().kpis.get(row["kpi"])
    label = i18n.pick(row["label"], row["label_en"])
    delta = row["delta_prev"]
    flat = delta is None or delta == 0
    with st.container(border=True, key=f"card_{row['kpi'].replace('.', '_')}"):
        st.metric(
            label=f"{MARK[row['status']]} {md(label)}",
            value=fmt.value(row["value"], row["unit"], lang),
            delta=None if delta is None else fmt.delta(delta, row["unit"], lang),
            delta_color="off" if flat else ("normal" if row["direction"] == "higher"
                                            else "inverse"),
            delta_arrow="off" if flat else "auto",
            delta_description=None if delta is None else t("card.vs_prev"),
            chart_data=spark or None,
            chart_type="area",
            help=md(kpi.description) if kpi is not None else None,
        )
        st.badge(status_label(row), color=BADGE[row["status"]])  # type: ignore[arg-type]
        st.caption(f"{target_text(row, lang)} · "
                   f"{t('card.fresh', t=fmt.fresh(row['fresh_at'], lang))}"
                   f"{no_input_note(row, gaps or {})}")
        if view is not None and row["value"] is not None:
            from dashboard.components import drill  # the rows behind the figure

            drill.card_link(view, row["kpi"])
        if action is not None:  # e.g. 督办 on a red card
            action(row)


def cards(rows: list[dict[str, Any]], sparklines: pl.DataFrame, lang: str,
          action: Callable[[dict[str, Any]], None] | None = None,
          view: View | None = None) -> None:
    """A grid of cards (``rows``: one dict per KPI, in catalogue order), ``COLUMNS`` per
    row."""
    # plain Python on the few hundred points: a polars sort costs more than drawing a card
    points: dict[str, list[tuple[str, float]]] = {}
    for kid, month, value in zip(sparklines["kpi"], sparklines["month"], sparklines["value"],
                                 strict=True):
        if value is not None:
            points.setdefault(kid, []).append((month, float(value)))
    spark = {kid: [v for _, v in sorted(pts)] for kid, pts in points.items()}
    gaps = data.input_warnings()
    # one keyed container, so that phones can set the cards two to a row (screen_style.PHONE_CSS)
    with st.container(key="kpi_cards"):
        for start in range(0, len(rows), COLUMNS):
            cols = st.columns(COLUMNS)
            for col, row in zip(cols, rows[start:start + COLUMNS], strict=False):
                with col:
                    card(row, spark.get(row["kpi"], []), lang, gaps, action, view)


def live_cards(view: View, loader: Loader,
               action: Callable[[dict[str, Any]], None] | None = None) -> None:
    """The cards, plus a small fragment that watches for a new run and then redraws the page
    in place (a rerun, not a browser reload): each tick costs one tiny query, so dozens of
    open dashboards stay cheap."""
    frame, sparklines = loader(view, view.key)
    updated_caption(view.lang, view.key.version)
    cards(data.applicable_rows(frame, view.scope.level), sparklines, view.lang, action,
          view)
    _watch(view.key.version)


def watch(drawn_version: int) -> None:
    """Rerun the app (no reload) once a run has changed the data drawn at ``drawn_version``:
    the fragment the live cards use, for other live views (the big screen)."""
    _watch(drawn_version)


@st.fragment(run_every=REFRESH_SECONDS)
def _watch(drawn_version: int) -> None:
    try:
        now = data.version()
    except Exception as e:
        if not outage.unreachable(e):
            raise
        # the database (a standby, say) is down: the cards already drawn stay, each with its
        # own freshness, and a line says why they do not move; the next tick tries again
        st.warning(outage.cards_note())
        return
    if now == drawn_version:
        st.session_state.pop(_DUE, None)
        return
    # Every open dashboard sees the new run at once; spread their redraws over a short
    # window so that thirty of them do not recompute in the same second.
    due = st.session_state.setdefault(
        _DUE, time.monotonic() + random.uniform(0, SPREAD_SECONDS))
    if time.monotonic() >= due:
        st.session_state.pop(_DUE, None)
        st.rerun(scope="app")


_DUE = "gz_redraw_due"
