"""The 综合考评 table on the overview: score, rank, colour, rank change, 红榜 / 黑榜."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import data
from dashboard.i18n import t
from dashboard.state import View

DOT = {"blue": "🔵", "yellow": "🟡", "red": "🔴", None: "⚪"}


def change_text(change: int | None, prev: int | None) -> str:
    if prev is None:
        return t("rank.new")
    if change is None:
        return ""
    return "—" if change == 0 else f"↑{change}" if change > 0 else f"↓{-change}"


def _colour(status: str | None) -> str:
    return f"{DOT[status]} {t('rank.colour.' + status)}" if status else "—"


def composite_table(view: View) -> None:
    """The ranking one level down (streets of the district, communities of a street)."""
    level = view.child_level
    if level not in ("street", "community"):
        return
    within = view.scope.code if view.scope.level == "street" else ""
    frame = data.ranking(view.key, level, view.period, within)
    if frame.is_empty() or frame["score"].is_null().all():
        st.info(t("domain.no_data"))
        return
    st.caption(t("rank.caption"))
    rows = [{
        t("rank.rank"): "—" if r["rank"] is None else str(r["rank"]),
        t("col.area"): r["name"],
        t("rank.score"): "—" if r["score"] is None else f"{r['score']:.2f}",
        t("rank.status"): _colour(r["status"]),
        t("rank.change"): change_text(r["rank_change"], r["prev_rank"]) if r["rank"] else "",
        t("rank.board"): t(f"rank.board.{r['board']}") if r["board"] else "",
        t("rank.note"): t("rank.redistributed") if r["redistributed"] else "",
    } for r in frame.iter_rows(named=True)]
    # a plain table (a few dozen rows): printable, copyable, readable by screen readers
    st.table(pl.DataFrame(rows))
