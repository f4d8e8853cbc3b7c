"""The party page's 两委班子三色研判 table (each community's latest assessment) and 议事协商
by mechanism (topics, resolved and resolution rate per 议事形式, with a bar chart)."""

from __future__ import annotations

import altair as alt
import polars as pl
import streamlit as st

from dashboard import data, i18n
from dashboard.components.breakdowns import DOT
from dashboard.i18n import t
from dashboard.state import View
from metrics import format as fmt

COLOUR_WORD = {"red": "committees.red", "yellow": "committees.yellow", "blue": "committees.blue"}
TOPICS, RESOLUTION = "civic.consultation_topics", "civic.consultation_resolution_rate"


def committee_section(view: View, names: dict[str, str]) -> None:
    """Each community's latest 三色研判 up to the period's end, red first."""
    if view.scope.level == "grid":
        return
    st.subheader(t("committees.section"))
    frame = data.committees_latest(view.key, view.scope, view.period)
    if frame.is_empty():
        st.caption(t("committees.none"))
        return
    counts = {c: int((frame["colour"] == c).sum()) for c in COLOUR_WORD}
    st.caption(t("committees.counts", red=counts["red"], yellow=counts["yellow"],
                 blue=counts["blue"], escalated=int(frame["escalated"].sum())))
    order = {"red": 0, "yellow": 1, "blue": 2}
    frame = frame.sort(pl.col("colour").replace_strict(order, default=3),
                       "score", "community_code", nulls_last=True)
    rows = [{t("col.community"): names.get(r["community_code"], r["community_code"]),
             t("committees.period"): r["period"],
             t("committees.colour"): f"{DOT.get(r['colour'], DOT[None])} "
                                     f"{t(COLOUR_WORD.get(r['colour'], 'status.no_value'))}",
             t("committees.score"): r["score"],
             t("committees.escalated"): t("word.yes") if r["escalated"] else t("word.no"),
             t("committees.rectification"): t(f"rectification.{r['rectification']}")
             if r["rectification"] else "",
             t("committees.reasons"): r["reasons"] or ""}
            for r in frame.iter_rows(named=True)]
    st.dataframe(pl.DataFrame(rows), hide_index=True, key="committees_table")


def mechanism_section(view: View) -> None:
    """议事协商 split by mechanism (the semantic layer's vocabulary folds the words sources use;
    words it does not know keep their own name, so no topic drops out of the split)."""
    st.subheader(t("mechanism.section"))
    topics = data.breakdown(view.key, TOPICS, "mechanism", view.scope, view.period)
    rate = data.breakdown(view.key, RESOLUTION, "mechanism", view.scope, view.period)
    if topics.is_empty():
        st.caption(t("domain.no_data"))
        return
    blank = str(t("drill.blank"))
    by_key = {r["key"]: r for r in rate.iter_rows(named=True)}
    rows = []
    for r in topics.sort("value", descending=True).iter_rows(named=True):
        q = by_key.get(r["key"], {})
        rows.append({t("dim.mechanism"): r["key"] if r["key"] is not None else blank,
                     t("mechanism.topics"): int(r["value"] or 0),
                     t("mechanism.resolved"): int(q.get("numerator") or 0),
                     t("mechanism.rate"): f"{DOT[q.get('status')]} "
                                          f"{fmt.value(q.get('value'), 'ratio', view.lang)}"})
    shown = pl.DataFrame(rows)
    left, right = st.columns(2)
    with left:
        st.dataframe(shown, hide_index=True, key="mechanism_table")
    with right:
        chart = alt.Chart(shown.select(
            pl.col(str(t("dim.mechanism"))).alias("mechanism"),
            pl.col(str(t("mechanism.topics"))).alias("topics"))).mark_bar().encode(
            x=alt.X("topics:Q", title=str(t("mechanism.topics"))),
            y=alt.Y("mechanism:N", sort="-x", title=str(t("dim.mechanism"))),
            tooltip=[alt.Tooltip("mechanism:N", title=str(t("dim.mechanism"))),
                     alt.Tooltip("topics:Q", title=str(t("mechanism.topics")))])
        st.altair_chart(chart, width="stretch", key="mechanism_chart")
    st.caption(i18n.t("mechanism.note"))
