"""督办 Tasks: 我的任务 (the tasks of the viewer's area) for staff, 我发起的 and 全部任务 for
leaders. ``?task=N`` opens one task (refused outside the viewer's area); the street and
community filters narrow the list, never widen it: the data layer keeps staff to their
own area whatever the URL says."""

from __future__ import annotations

import streamlit as st

from core import divisions
from dashboard import data, state
from dashboard.components import tasks
from dashboard.i18n import md, t
from warehouse.cycle import TaskDenied


def main() -> None:
    view = state.current()
    user = view.user
    st.title(t("tasks.title"))
    flash = st.session_state.pop("task_flash", None)
    if flash:
        st.success(md(flash))
    wanted = state.url_param("task")
    if wanted:
        try:
            tasks.show(view, data.task(user, int(wanted)), expanded=True)
        except (TaskDenied, ValueError):
            st.error(t("tasks.denied"))
    prefix = None if view.scope.level == "district" else _prefix(view.scope.code,
                                                                 view.scope.level)
    if user.role == "leader":
        tabs = [("issued", t("tasks.issued")), ("all", t("tasks.all"))]
    else:
        tabs = [("assigned", t("tasks.mine"))]
    for (mine, _), tab in zip(tabs, st.tabs([md(label) for _, label in tabs]), strict=True):
        with tab:
            rows = data.tasks_for(user, mine, prefix)
            if not rows:
                st.info(t("tasks.none"))
            for row in rows:
                if wanted and str(row["id"]) == wanted:
                    continue
                tasks.show(view, row)


def _prefix(code: str, level: str) -> str:
    """The code prefix of the tasks a street, community or grid view lists: a grid's are its
    community's (tasks go to streets and communities only)."""
    return divisions.prefix(code, "community" if level == "grid" else level)


main()
