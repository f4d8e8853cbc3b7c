"""Altair charts on small, already aggregated frames: ranking bars, trend with its target line,
area × month heatmap and the three-colour board.

Builders only shape and label what :mod:`metrics.views` computed (names for codes, formatted
values for tooltips); they never compute a KPI. Bars and board cells carry a point
selection named ``pick`` on the area code, which the pages turn into a drill-down.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

from dashboard.i18n import t
from metrics import format as fmt

# The seed's three colours, and light grey for "no colour" (no value, small sample, no target)
COLOURS = {"blue": "#1f6feb", "yellow": "#e0a800", "red": "#d1242f", None: "#d8dee4"}
STATUSES = ("blue", "yellow", "red", None)
PICK = "pick"
ROW_PX = 22
Layered = alt.LayerChart | alt.FacetChart
# Fit the container's width; the height is the plot's own (a row per area stays readable)
FIT_X = alt.AutoSizeParams(type="fit-x", contains="padding")


def status_names() -> dict[str | None, str]:
    return {"blue": t("status.blue"), "yellow": t("status.yellow"), "red": t("status.red"),
            None: t("status.none")}


def status_colour() -> alt.Scale:
    names = status_names()
    return alt.Scale(domain=[names[s] for s in STATUSES], range=[COLOURS[s] for s in STATUSES])


def labelled(frame: pl.DataFrame, unit: str, lang: str, names: dict[str, str] | None = None,
             key: str = "key") -> pl.DataFrame:
    """Add ``area`` (a name for the code in ``key``), ``shown`` (the formatted value) and
    ``status_label`` columns for tooltips and legends."""
    sn = status_names()
    out = frame.with_columns(
        pl.Series("shown", [fmt.value(v, unit, lang) for v in frame["value"]], dtype=pl.String),
        pl.Series("status_label", [sn[s] for s in frame["status"]], dtype=pl.String)
        if "status" in frame.columns else pl.lit(sn[None]).alias("status_label"),
    )
    if names is not None:
        out = out.with_columns(pl.Series("area", [names.get(k, k) for k in frame[key]],
                                         dtype=pl.String))
    return out


def _axis_format(unit: str) -> str:
    return ".0%" if unit == "ratio" else ",.4~g"


def ranking(frame: pl.DataFrame, meta: dict[str, Any], lang: str) -> Layered:
    """Horizontal bars of one KPI by area, best first, coloured by status; the target as a
    rule; a click on a bar selects its area (``pick`` on ``key``)."""
    best_first = frame.sort("value", descending=meta["direction"] == "higher",
                            nulls_last=True)
    order = best_first["area"].to_list()
    pick = alt.selection_point(name=PICK, fields=["key"], on="click", clear=False)
    bars = alt.Chart(best_first).mark_bar(cursor="pointer").encode(
        y=alt.Y("area:N", sort=order, title=None,
                axis=alt.Axis(labelLimit=220, labelOverlap=False)),
        x=alt.X("value:Q", title=meta["label"], axis=alt.Axis(format=_axis_format(meta["unit"]))),
        color=alt.Color("status_label:N", scale=status_colour(), title=t("col.status")),
        tooltip=[alt.Tooltip("area:N", title=t("col.area")),
                 alt.Tooltip("shown:N", title=t("col.value")),
                 alt.Tooltip("status_label:N", title=t("col.status")),
                 alt.Tooltip("sample:Q", title=t("col.sample"))],
    ).add_params(pick)
    layers: list[Any] = [bars]
    if meta.get("target") is not None:
        layers.append(alt.Chart(pl.DataFrame({"target": [meta["target"]]})).mark_rule(
            strokeDash=[4, 3], color="#57606a").encode(x="target:Q"))
    return alt.layer(*layers).properties(height=max(120, ROW_PX * len(order)), autosize=FIT_X)


def trend(frame: pl.DataFrame, meta: dict[str, Any], lang: str) -> Layered:
    """Monthly values of one KPI with the target as a dashed line."""
    base = alt.Chart(frame).encode(x=alt.X("month:O", title=t("col.month")))
    line = base.mark_line(point=False, color="#57606a").encode(
        y=alt.Y("value:Q", title=meta["label"], axis=alt.Axis(format=_axis_format(meta["unit"]))))
    points = base.mark_point(filled=True, size=70).encode(
        y="value:Q",
        color=alt.Color("status_label:N", scale=status_colour(), title=t("col.status")),
        tooltip=[alt.Tooltip("month:O", title=t("col.month")),
                 alt.Tooltip("shown:N", title=t("col.value")),
                 alt.Tooltip("status_label:N", title=t("col.status"))])
    layers: list[Any] = [line, points]
    if meta.get("target") is not None:
        layers.append(alt.Chart(pl.DataFrame({"target": [meta["target"]]})).mark_rule(
            strokeDash=[6, 4], color="#d1242f").encode(y="target:Q"))
    return alt.layer(*layers).properties(height=260, autosize=FIT_X)


def heatmap(frame: pl.DataFrame, meta: dict[str, Any], lang: str) -> alt.Chart:
    """Areas × months, the colour the KPI's value (darker = more)."""
    order = frame.sort("area_code")["area"].unique(maintain_order=True).to_list()
    return alt.Chart(frame).mark_rect().encode(
        x=alt.X("month:O", title=t("col.month")),
        y=alt.Y("area:N", sort=order, title=None,
                axis=alt.Axis(labelLimit=220, labelOverlap=False)),
        color=alt.Color("value:Q", title=meta["label"], scale=alt.Scale(scheme="blues"),
                        legend=alt.Legend(format=_axis_format(meta["unit"]))),
        tooltip=[alt.Tooltip("area:N", title=t("col.area")),
                 alt.Tooltip("month:O", title=t("col.month")),
                 alt.Tooltip("shown:N", title=t("col.value"))],
    ).properties(height=max(120, ROW_PX * len(order)), autosize=FIT_X)


def board(frame: pl.DataFrame, lang: str) -> alt.Chart:
    """The three-colour board: areas × KPIs, each cell its status colour (grey = none); a
    click on a cell selects its area."""
    order = frame.sort("key")["area"].unique(maintain_order=True).to_list()
    kpis = frame["kpi_label"].unique(maintain_order=True).to_list()
    pick = alt.selection_point(name=PICK, fields=["key"], on="click", clear=False)
    return alt.Chart(frame).mark_rect(stroke="white", strokeWidth=1, cursor="pointer").encode(
        x=alt.X("kpi_label:N", sort=kpis, title=None,
                axis=alt.Axis(orient="top", labelAngle=-35, labelLimit=160, labelOverlap=False)),
        y=alt.Y("area:N", sort=order, title=None,
                axis=alt.Axis(labelLimit=220, labelOverlap=False)),
        color=alt.Color("status_label:N", scale=status_colour(), title=t("col.status")),
        tooltip=[alt.Tooltip("area:N", title=t("col.area")),
                 alt.Tooltip("kpi_label:N", title=t("col.kpi")),
                 alt.Tooltip("shown:N", title=t("col.value")),
                 alt.Tooltip("status_label:N", title=t("col.status")),
                 alt.Tooltip("sample:Q", title=t("col.sample"))],
    ).add_params(pick).properties(height=max(120, ROW_PX * len(order)), autosize=FIT_X)
