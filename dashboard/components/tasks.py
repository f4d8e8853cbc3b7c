"""督办 on the pages: the button on a red card, the red-cell picker under the ranking, the
open-task counts on the overview, the dialog that opens a task, and one task with the moves
its reader may make. Access is the data layer's (warehouse.cycle): a refused move shows the
reason and changes nothing."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from core.errors import GongzhiError
from dashboard import data, i18n
from dashboard.i18n import Markdown, md, t
from dashboard.state import View
from metrics import format as fmt
from metrics.access import AccessDenied

TASK_LEVELS = ("street", "community")


def can_open(view: View) -> bool:
    return view.user.role == "leader"


def counts(view: View) -> None:
    """督办中 / 已逾期 / 待审核 for the viewer's area, in one line (a red word when overdue)."""
    n = data.task_counts(view.user)
    with st.container(key="task_counts"):
        st.markdown(t("tasks.counts", open=n["open"], answered=n["answered"])
                    + (f" · :red[{t('tasks.counts_overdue', n=n['overdue'])}]"
                       if n["overdue"] else ""))


def card_button(view: View, row: dict[str, Any]) -> None:
    """The 督办 button on a red card of a street or community (leaders)."""
    if row["status"] != "red" or not can_open(view) or view.scope.level not in TASK_LEVELS:
        return
    if st.button(t("tasks.button"), key=f"task_card_{row['kpi'].replace('.', '_')}",
                 icon=":material/assignment_late:", type="primary"):
        open_dialog(view, view.scope.level, view.scope.code, view.scope.name, row, "card")


def red_cells(view: View, ranking: pl.DataFrame, names: dict[str, str], level: str,
              origin: str) -> None:
    """Under the ranking / board: pick a red area × KPI and open a task on it (leaders)."""
    if not can_open(view) or level not in TASK_LEVELS or ranking.is_empty():
        return
    red = [r for r in ranking.to_dicts() if r["status"] == "red"]
    with st.expander(t("tasks.pick_cell")):
        if not red:
            st.caption(t("tasks.pick_none"))
            return
        labels = [f"■ {names.get(r['key'], r['key'])} · {i18n.pick(r['label'], r['label_en'])}"
                  f" · {fmt.value(r['value'], r['unit'], view.lang)}" for r in red]
        i = st.selectbox(t("tasks.pick_cell"), range(len(red)), format_func=lambda j: labels[j],
                         key=f"task_pick_{origin}_{view.scope.code}", label_visibility="collapsed")
        if st.button(t("tasks.button"), key=f"task_pick_btn_{origin}_{view.scope.code}"):
            r = red[int(i or 0)]
            open_dialog(view, level, r["key"], names.get(r["key"], r["key"]), r, origin)


@st.dialog(" ")
def open_dialog(view: View, level: str, code: str, name: str, row: dict[str, Any],
                origin: str) -> None:
    """Confirm the task: unit, figure, definition, due days and what is asked."""
    st.subheader(t("tasks.dialog"))
    kpi = data.catalog().kpis.get(row["kpi"])
    st.write(t("tasks.unit", area=name))
    st.write(t("tasks.figure", kpi=i18n.pick(row["label"], row["label_en"]), period=view.period,
               value=fmt.value(row["value"], row["unit"], view.lang),
               target=fmt.value(row["target"], row["unit"], view.lang)))
    if kpi is not None:
        st.caption(t("tasks.definition", text=" ".join(kpi.description.split())))
    days = st.number_input(t("tasks.due_days"), min_value=0, max_value=250, step=1,
                           value=data.settings().tasks.due_days, key="task_due_days")
    note = st.text_area(t("tasks.note"), key="task_note")
    if st.button(t("tasks.submit_open"), type="primary", key="task_submit_open"):
        try:
            task_id = data.open_task(view.user, level, code, row["kpi"], view.period, note,
                                     int(days), origin)
        except (GongzhiError, AccessDenied) as e:
            st.error(t("tasks.failed", why=str(e)))
            return
        got = data.task(view.user, task_id)
        st.success(t("tasks.opened", id=task_id, due=got["due_date"].isoformat()))


def status_word(row: dict[str, Any]) -> str:
    word = str(t(f"tasks.status.{row['status']}"))
    return f"{word} · :red[{t('tasks.overdue')}]" if row["overdue"] else word


def _mark(row: dict[str, Any]) -> Markdown:
    """Our own markup for a task's state: red square overdue, tick closed, dot open."""
    return Markdown(":red[■]" if row["overdue"] else ("✓" if row["status"] == "closed" else "●"))


def show(view: View, row: dict[str, Any], *, expanded: bool = False) -> None:
    """One task: what, for whom, the figure and definition, the answer; and the moves."""
    with st.expander(f"{_mark(row)} {md(row['title'])}", expanded=expanded), \
            st.container(key=f"task_{row['id']}"):
        st.caption(t("tasks.meta", id=row["id"], area=row["area_name"], status=status_word(row),
                     due=row["due_date"].isoformat(), by=row["created_by"]))
        if row["kpi"]:
            st.write(t("tasks.figure", kpi=row["kpi_label"] or row["kpi"], period=row["period"],
                       value=fmt.value(row["value"], row["unit"] or "", view.lang),
                       target=fmt.value(row["target"], row["unit"] or "", view.lang)))
        if row["definition"]:
            st.caption(t("tasks.definition", text=" ".join(str(row["definition"]).split())))
        if row["note"]:
            st.write(t("tasks.request", text=row["note"]))
        if row["answer"]:
            st.info(t("tasks.answer_shown", by=row["answered_by"], text=row["answer"]))
        if row["returned_reason"] and row["status"] == "returned":
            st.warning(t("tasks.returned_shown", text=row["returned_reason"]))
        if row["attachment_file"]:
            _attachment(view, row)
        _moves(view, row)


def _attachment(view: View, row: dict[str, Any]) -> None:
    key = f"task_att_{row['id']}"
    if st.button(t("tasks.prepare_attachment"), key=f"{key}_prep"):
        st.session_state[key] = data.read_attachment(view.user, row["id"])  # audited
    got = st.session_state.get(key)
    if got:
        st.download_button(t("tasks.get_attachment", name=got[0]), got[1], file_name=got[0],
                           key=f"{key}_dl")


def _do(view: View, move: str, row: dict[str, Any], *args: Any) -> None:
    try:
        data.task_move(view.user, move, row["id"], *args)
    except (GongzhiError, AccessDenied) as e:
        st.error(t("tasks.failed", why=str(e)))
        return
    word = {"acknowledge": "tasks.ack", "answer": "tasks.submit_answer", "close": "tasks.close",
            "send_back": "tasks.send_back"}[move]
    st.session_state["task_flash"] = t("tasks.done", what=t(word))  # Markdown, escaped by t()
    st.rerun()


def _moves(view: View, row: dict[str, Any]) -> None:
    tid, status = row["id"], row["status"]
    is_leader = view.user.role == "leader"
    if status in ("open", "returned") and not is_leader and st.button(
            t("tasks.ack"), key=f"task_ack_{tid}"):
        _do(view, "acknowledge", row)
    if status in ("open", "acknowledged", "returned") and not is_leader:
        with st.form(key=f"task_answer_{tid}", clear_on_submit=True):
            note = st.text_area(t("tasks.answer"), key=f"task_answer_note_{tid}")
            upload = st.file_uploader(t("tasks.attach"), key=f"task_answer_file_{tid}",
                                      type=list(data.settings().tasks.attachment_types))
            if st.form_submit_button(t("tasks.submit_answer")):
                stored = None
                try:
                    if upload is not None:
                        stored = data.store_attachment(upload.name, upload.getvalue())
                except GongzhiError as e:
                    st.error(t("tasks.failed", why=str(e)))
                    return
                _do(view, "answer", row, note, stored)
    if status == "answered" and is_leader:
        left, right = st.columns(2)
        with left:
            if st.button(t("tasks.close"), key=f"task_close_{tid}", type="primary"):
                _do(view, "close", row)
        with right, st.form(key=f"task_return_{tid}", clear_on_submit=True):
            reason = st.text_input(t("tasks.reason"), key=f"task_reason_{tid}")
            if st.form_submit_button(t("tasks.send_back")):
                _do(view, "send_back", row, reason)
