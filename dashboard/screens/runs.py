"""数据与运行 Data and runs: freshness per source, the run log, the quarantine browser and
"run now" (a request the scheduler process picks up: nothing is ingested inside Streamlit).
Works on an empty warehouse too, so the first load can be started from here."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import streamlit as st

from core import reasons
from core.cronwords import describe
from core.roles import LEVEL_OF_ROLE
from dashboard import auth, data, i18n, state
from dashboard.components.cards import updated_caption
from dashboard.i18n import t
from metrics import format as fmt
from metrics.access import Viewer
from metrics.calendar import NOTICE_TITLE
from warehouse.engine import utcnow

ROWS = 50
REASONS = list(reasons.CODES)  # the filter offers every code ingestion can give


def _when(v: Any) -> str | None:
    return fmt.fresh(v, i18n.lang()) if v is not None else None


def freshness() -> None:
    """Per source: when it last answered (最近成功), when data last arrived from it (what the
    cards' 数据更新于 follows) and a warning when its latest run found no input."""
    st.subheader(t("data.freshness"))
    states = data.source_states()
    now = utcnow()
    rows, warned = [], []
    for s in data.settings().sources:
        state = states.get(s.id) or {}
        when, arrived = state.get("checked"), state.get("arrived")
        if state.get("warning"):
            warned.append((s.id, state["warning"]))
        rows.append({
            t("col.source"): s.id, t("col.plugin"): s.plugin, t("col.table"): s.table or "",
            t("col.schedule"): (describe(s.schedule, i18n.lang()) or s.schedule)
            if s.schedule else t("data.manual"),
            t("col.cron"): s.schedule or "",
            t("col.last_success"): _when(when) or t("data.never"),
            t("col.last_data"): _when(arrived) or t("data.no_data_yet"),
            t("col.age"): t("data.age_hours", h=(now - arrived).total_seconds() / 3600)
            if arrived else "—",
            t("col.warning"): "⚠ " + t("data.no_input_short") if state.get("warning") else "",
        })
    for source, message in warned:  # t() escapes both for Markdown
        st.warning(t("data.no_input", source=source, m=message), icon=":material/warning:")
    st.dataframe(pl.DataFrame(rows) if rows else pl.DataFrame(), hide_index=True)


def holiday_calendar() -> None:
    """Which holiday arrangements 按期 deadlines count on; a warning when this year's, or
    (from December, by default) next year's, is missing."""
    status = data.calendar_status()
    for year in status.missing:
        st.warning(t("calendar.missing", year=year, notice=NOTICE_TITLE.format(year=year)),
                   icon=":material/event_busy:")
    parts = [t(f"calendar.year_{y.origin or 'none'}", year=y.year, sources=", ".join(y.sources))
             for y in status.years]
    # the parts are escaped already: joined, they stay Markdown
    st.caption(t("calendar.years", years=i18n.Markdown(t("calendar.sep").join(parts))))


def run_now(user: Viewer) -> None:
    st.subheader(t("data.run_now"))
    st.caption(t("data.run_now_help"))
    ids = [s.id for s in data.settings().sources]
    with st.form("run_now", border=False):
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        source = left.selectbox(t("data.run_source"), ids, key="run_source")
        sent = right.form_submit_button(t("data.run_now"), type="primary",
                                        icon=":material/play_arrow:")
    if sent and source:
        rid = data.request_run(source, user)
        st.success(t("data.requested", id=rid, source=source))
    pending = data.pending_requests()
    if pending:
        st.markdown(f"**{t('data.pending')}**")
        st.dataframe(pl.DataFrame([{
            "#": r["id"], t("col.source"): r["source"],
            t("col.requested"): _when(r["requested_at"]),
            t("col.requested_by"): r["requested_by"], t("col.picked"): _when(r["picked_at"]),
            t("col.run_id"): r["run_id"]} for r in pending]), hide_index=True)


def _pager(key: str) -> int:
    page = st.number_input(t("data.page"), min_value=1, value=1, step=1, key=key)
    return (int(page) - 1) * ROWS


def _source_filter(key: str) -> str | None:
    ids = [s.id for s in data.settings().sources]
    picked = state.bound(st.selectbox, t("data.filter_source"), ["", *ids], key,
                         format_func=lambda s: s or t("data.all"))
    return picked or None


def run_log() -> None:
    st.subheader(t("data.runs"))
    left, right = st.columns(2)
    with left:
        source = _source_filter("runs_source")
    with right:
        offset = _pager("runs_page")
    runs = data.runs(source, ROWS, offset)
    if not runs:
        st.info(t("data.no_runs"))
        return
    st.dataframe(pl.DataFrame([{
        t("col.run_id"): r["run_id"], t("col.source"): r["source"],
        t("col.trigger"): r["trigger"], t("col.run_status"): r["status"],
        t("col.started"): _when(r["started_at"]), t("col.finished"): _when(r["finished_at"]),
        t("col.read"): r["read"], t("col.loaded"): r["loaded"],
        t("col.quarantined"): r["quarantined"], t("col.duplicates"): r["duplicates"],
        t("col.error"): r["error"]} for r in runs], infer_schema_length=None), hide_index=True)


def quarantine(user: Viewer) -> None:
    st.subheader(t("data.quarantine"))
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        source = _source_filter("q_source")
    with c2:
        reason = state.bound(st.selectbox, t("data.filter_reason"), ["", *REASONS], "q_reason",
                             format_func=lambda r: f"{r} · {t('reason.' + r)}" if r
                             else t("data.all"))
    run_id = c3.number_input(t("data.filter_run"), min_value=0, value=0, step=1, key="q_run")
    with c4:
        offset = _pager("q_page")
    rows = data.quarantine(user, source, int(run_id) or None, reason or None, ROWS, offset)
    if not rows:
        st.info(t("data.no_quarantine"))
        return
    st.dataframe(pl.DataFrame([{
        t("col.run_id"): r["run_id"], t("col.source"): r["source"],
        t("col.origin"): r["origin"], t("col.row"): r["row_number"],
        t("col.column"): r["column_name"], t("col.reason"): r["reason"],
        t("col.message"): r["message"], t("col.raw"): _raw(r["raw"])} for r in rows],
        infer_schema_length=None), hide_index=True)


def reprocess(user: Viewer) -> None:
    """Leaders ask the scheduler to run quarantined rows through validation again."""
    st.markdown(f"**{t('data.reprocess')}**")
    st.caption(t("data.reprocess_help"))
    ids = [s.id for s in data.settings().sources]
    choices = [r for r in REASONS if r not in reasons.NOT_REPROCESSABLE]
    with st.form("reprocess", border=False):
        c1, c2, c3, c4 = st.columns([2, 2, 1, 1], vertical_alignment="bottom")
        # labels change with the language: one widget per language (state.widget_key), its
        # labels formatted now, in this run's language
        sources = {s: s or t("data.all") for s in ["", *ids]}
        why = {r: f"{r} · {t('reason.' + r)}" if r else t("data.reprocess_default")
               for r in ["", *choices]}
        source = c1.selectbox(t("data.filter_source"), list(sources),
                              key=state.widget_key("rp_source"), format_func=sources.__getitem__)
        reason = c2.selectbox(t("data.filter_reason"), list(why),
                              key=state.widget_key("rp_reason"), format_func=why.__getitem__)
        run_id = c3.number_input(t("data.reprocess_run"), min_value=0, value=0, step=1,
                                 key="rp_run")
        sent = c4.form_submit_button(t("data.reprocess"), icon=":material/replay:")
    if sent:
        rid = data.request_reprocess(user, source or None, reason or None, int(run_id) or None)
        st.success(t("data.reprocess_requested", id=rid))
    recent = data.reprocess_requests()
    if recent:
        st.dataframe(pl.DataFrame([{
            "#": r["id"], t("col.source"): r["source"] or t("data.all"),
            t("col.reason"): r["reason"] or t("data.reprocess_default"),
            t("col.run_id"): r["run_id"], t("col.requested"): _when(r["requested_at"]),
            t("col.requested_by"): r["requested_by"], t("col.finished"): _when(r["finished_at"]),
            t("col.outcome"): r["outcome"]} for r in recent], infer_schema_length=None),
            hide_index=True)


def _raw(text: str) -> str:
    """The quarantined row as 'column: value' pairs (it is stored as JSON)."""
    try:
        row = json.loads(text)
    except (TypeError, ValueError):
        return text
    if isinstance(row, dict):
        return "; ".join(f"{k}: {v}" for k, v in row.items())
    return text


def audit_log(user: Viewer) -> None:
    st.subheader(t("data.audit"))
    st.caption(t("data.audit_help"))
    offset = _pager("audit_page")
    rows = data.audit_entries(user, ROWS, offset)
    if not rows:
        st.info(t("data.no_audit"))
        return
    st.dataframe(pl.DataFrame([{
        "#": r["id"], t("col.when"): _when(r["at"]), t("col.user"): r["username"],
        t("col.role"): t(f"role.{r['role']}") if r["role"] in LEVEL_OF_ROLE else r["role"],
        t("col.action"): r["action"], t("col.target"): r["target"],
        t("col.filters"): r["filters"], t("col.rows"): r["row_count"]} for r in rows],
        infer_schema_length=None), hide_index=True)


def main() -> None:
    st.title(t("data.title"))
    user = auth.current_user()
    if user is None:  # the app shows the sign-in form first; never reached signed out
        st.stop()
        return
    updated_caption(i18n.lang())
    freshness()
    holiday_calendar()
    if user.role == "leader":  # runs and raw source rows are the data office's business
        run_now(user)
    run_log()
    if user.role == "leader":
        quarantine(user)
        reprocess(user)
        audit_log(user)


main()
