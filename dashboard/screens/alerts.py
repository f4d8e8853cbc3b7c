"""预警记录 Alert log: every alert the rules raised (after runs and on schedule), its level,
where it was sent (destinations masked: no token is ever shown) and the task it opened.
Staff see the alerts about their own area."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from dashboard import data, state
from dashboard.i18n import t
from metrics import format as fmt


def main() -> None:
    view = state.current()
    st.title(t("alerts.title"))
    st.caption(t("alerts.caption"))
    rows = data.alert_log(view.user)
    if not rows:
        st.info(t("alerts.none"))
        return
    cols = {k: str(t(f"alerts.col.{k}")) for k in ("when", "level", "rule", "title", "status",
                                                     "to", "task")}
    frame = pl.DataFrame([{
        cols["when"]: fmt.fresh(r["created_at"], view.lang),
        cols["level"]: ("■ " if r["severity"] == "red" else "▲ ")
        + str(t(f"alerts.level.{r['severity']}")),
        cols["rule"]: r["rule_id"],
        cols["title"]: r["title"],
        cols["status"]: str(t(f"alerts.status.{r['status']}")),
        cols["to"]: "；".join(_dest(d) for d in r["deliveries"]),
        cols["task"]: f"#{r['task_id']}" if r["task_id"] else "",
    } for r in rows], schema={c: pl.String for c in cols.values()})
    st.table(frame)  # HTML: readable by screen readers, copyable, searchable with Ctrl-F


def _dest(d: dict[str, Any]) -> str:
    word = t("alerts.status." + str(d["status"]))
    return f"{d['dest']}（{word}）"


main()
