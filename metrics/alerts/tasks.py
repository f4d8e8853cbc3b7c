"""Opening a 督办 task about a figure: the KPI's value for the area and period, its target,
colour and definition of record are attached as they are when the task is opened."""

from __future__ import annotations

import datetime as dt
from typing import Any

from metrics import format as fmt
from metrics.access import Viewer
from metrics.alerts.workdays import due_date
from metrics.periods import Period
from metrics.service import Metrics
from warehouse import cycle
from warehouse.engine import utcnow


def figure_of(m: Metrics, kpi_id: str, level: str, code: str, period: Period
              ) -> tuple[cycle.Figure, str]:
    """The figure of ``kpi_id`` for an area and period, and the area's name."""
    scope = m.scope(level, code)
    kpi = m.catalog.get(kpi_id)
    row = m.compute([kpi_id], scope, period, compare=False).row(0, named=True)
    fig = cycle.Figure(kpi=kpi.id, kpi_label=kpi.label.zh,
                       definition=" ".join(kpi.description.split()), period=period.label,
                       value=row["value"], target=row["target"], unit=kpi.unit,
                       status=row["status"])
    return fig, scope.name


def default_title(fig: cycle.Figure, area_name: str) -> str:
    """关于汉江街道 网办率（2026-11：72.3%）的督办."""
    if fig.kpi is None:
        return f"关于{area_name}的督办事项"
    return (f"关于{area_name}{fig.kpi_label}（{fig.period}："
            f"{fmt.value(fig.value, fig.unit or '')}）的督办")


def open_for_figure(m: Metrics, viewer: Viewer, *, level: str, code: str, period: Period,
                    kpi_id: str | None, due_days: int, note: str = "", title: str = "",
                    origin: str = "card", now: dt.datetime | None = None) -> int:
    """Open a task for a street or community about one of its figures (leaders only; the
    area must lie in the viewer's own)."""
    viewer.check(level, code)
    if kpi_id:
        fig, name = figure_of(m, kpi_id, level, code, period)
    else:
        fig, name = cycle.Figure(period=period.label), m.scope(level, code).name
    due = due_date(m.engine, now or utcnow(), due_days)
    return cycle.open_task(m.engine, viewer, area_code=code, area_level=level, area_name=name,
                           title=title or default_title(fig, name), due_date=due, figure=fig,
                           note=note, origin=origin)


def task_json(row: dict[str, Any]) -> dict[str, Any]:
    """A task as ``gongzhi tasks list --format json`` prints it."""
    keys = ("id", "area_code", "area_name", "area_level", "title", "kpi", "kpi_label",
            "period", "value", "target", "unit", "figure_status", "status", "overdue",
            "due_date", "created_by", "created_at", "acknowledged_by", "acknowledged_at",
            "answered_by", "answered_at", "answer", "attachment_name", "closed_by",
            "closed_at", "returned_reason", "origin", "alert_id")
    out: dict[str, Any] = {}
    for k in keys:
        v = row.get(k)
        if isinstance(v, dt.datetime):
            v = v.isoformat() + "Z"
        elif isinstance(v, dt.date):
            v = v.isoformat()
        out[k] = v
    return out
