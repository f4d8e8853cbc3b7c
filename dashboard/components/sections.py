"""Page sections around the charts: the KPI picker, ranking (click to drill down), trend,
heatmap and the three-colour board. Each takes frames from :mod:`dashboard.data`."""

from __future__ import annotations

import functools
from typing import Any

import polars as pl
import streamlit as st

from dashboard import data, i18n, state
from dashboard.components import charts
from dashboard.i18n import t
from dashboard.state import View
from metrics.status import target_for


def kpi_meta(kpi_id: str, level: str) -> dict[str, Any]:
    """Label, unit, direction and the target that holds for areas of ``level`` (None where
    the KPI's target does not apply: no target line is drawn)."""
    k = data.catalog().get(kpi_id)
    return {"label": i18n.pick(k.label.zh, k.label.en), "unit": k.unit,
            "direction": k.direction, "target": target_for(k, level)[0]}


def kpi_picker(kpi_ids: list[str], page: str) -> str:
    """A KPI select kept in the URL as ``kpi``; returns the chosen id."""
    if not kpi_ids:
        raise ValueError("no KPI to pick from")
    skey = f"kpi_{page}"
    if skey not in st.session_state:
        wanted = state.url_param("kpi")
        st.session_state[skey] = wanted if wanted in kpi_ids else kpi_ids[0]
    cat = data.catalog()
    chosen = state.bound(st.selectbox, t("domain.kpi_pick"), kpi_ids, skey,
                         format_func=lambda i: i18n.pick(cat.get(i).label.zh,
                                                         cat.get(i).label.en))
    state.set_param("kpi", chosen)
    st.session_state[state.KPI_USED] = True
    return str(chosen)


def ranking_chart(view: View, ranking: pl.DataFrame, kpi_id: str, names: dict[str, str],
                  page: str) -> None:
    """Bars of one KPI by the areas one level down; clicking a bar drills into that area."""
    level = view.child_level
    if level is None:
        st.info(t("drill.finest"))
        return
    rows = ranking.filter((pl.col("kpi") == kpi_id) & pl.col("key").is_not_null())
    if rows.is_empty():
        st.info(t("domain.no_data"))
        return
    meta = kpi_meta(kpi_id, level)
    frame = charts.labelled(rows.select("key", "value", "status", "sample"), meta["unit"],
                            view.lang, names)
    widget = f"rank_{page}_{view.scope.code}_{view.period}_{kpi_id}"
    st.altair_chart(charts.ranking(frame, meta, view.lang), key=widget, width="stretch",
                    on_select=functools.partial(state.on_chart_select, widget, level),
                    selection_mode=charts.PICK)


def trend_chart(view: View, trend: pl.DataFrame, kpi_id: str) -> None:
    rows = trend.filter((pl.col("kpi") == kpi_id) & pl.col("value").is_not_null())
    if rows.is_empty():
        st.info(t("domain.no_trend"))
        return
    meta = kpi_meta(kpi_id, view.scope.level)
    if "target" in rows.columns and view.scope.level in ("street", "community"):
        # the line of the area's own target (a leader's, for the latest month's year) when
        # there is one, as its colours use: metrics gives each month the target that holds
        own = rows["target"].drop_nulls()
        if len(own):
            meta["target"] = float(own[-1])
    frame = charts.labelled(rows.select("month", "value", "status"), meta["unit"], view.lang)
    st.altair_chart(charts.trend(frame, meta, view.lang), width="stretch")


def heatmap_chart(view: View, kpi_id: str, names: dict[str, str]) -> None:
    if view.child_level is None:
        return
    heat = data.heatmap(view.key, kpi_id, view.scope, view.period)
    if heat.is_empty() or heat["value"].drop_nulls().is_empty():
        st.info(t("domain.no_data"))
        return
    meta = kpi_meta(kpi_id, view.child_level)
    frame = charts.labelled(heat.rename({"area": "area_code"}), meta["unit"], view.lang, names,
                            key="area_code")
    st.altair_chart(charts.heatmap(frame, meta, view.lang), width="stretch")


def committee_column(view: View, names: dict[str, str]) -> pl.DataFrame:
    """The board's 两委三色研判 column: each community's latest assessment up to the period's
    end, coloured red / yellow / blue like the KPI cells (the score in the tooltip)."""
    latest = data.committees_latest(view.key, view.scope, view.period)
    words = {"red": t("committees.red"), "yellow": t("committees.yellow"),
             "blue": t("committees.blue")}
    frame = latest.select(pl.col("community_code").alias("key"),
                          pl.col("score").alias("value"), pl.col("colour").alias("status"),
                          pl.lit(1).alias("sample"))
    return charts.labelled(frame, "points", view.lang, names).with_columns(
        pl.Series("shown", [f"{words.get(c, '')} {p} · {v if v is not None else '—'}"
                            for c, p, v in zip(latest["colour"], latest["period"],
                                               latest["score"], strict=True)],
                  dtype=pl.String),
        pl.lit(str(t("committees.board"))).alias("kpi_label"))


def board_chart(view: View, board: pl.DataFrame, names: dict[str, str]) -> None:
    """Communities × rate KPIs in their status colours; a click drills into the community."""
    rows = board.filter(pl.col("key").is_not_null())
    if rows.is_empty():
        st.info(t("overview.board_empty"))
        return
    cat = data.catalog()
    labels = {i: i18n.pick(cat.get(i).label.zh, cat.get(i).label.en)
              for i in rows["kpi"].unique(maintain_order=True)}
    shown = [charts.labelled(g.select("key", "value", "status", "sample"), g["unit"][0],
                             view.lang, names).with_columns(pl.lit(labels[g["kpi"][0]])
                                                            .alias("kpi_label"))
             for g in rows.partition_by("kpi", maintain_order=True)]
    level = "community" if view.scope.level in ("district", "street") else "grid"
    if level == "community":  # each committee's latest 三色研判, beside the KPI colours
        shown.insert(0, committee_column(view, names))
    frame = pl.concat(shown, how="vertical_relaxed")
    if view.scope.level == "district":
        # a community's name alone is ambiguous across streets: prefix the street
        parent = data.parents(view.key)
        frame = frame.with_columns(pl.Series("area", [
            f"{names.get(parent.get(k, ''), '')} · {a}"
            for k, a in zip(frame["key"], frame["area"], strict=True)]))
    widget = f"board_{view.scope.code}_{view.period}"
    with st.container(height=min(640, 80 + charts.ROW_PX * frame["key"].n_unique())):
        st.altair_chart(charts.board(frame, view.lang), key=widget, width="stretch",
                        on_select=functools.partial(state.on_chart_select, widget, level),
                        selection_mode=charts.PICK)
    st.caption(t("overview.board_none"))
