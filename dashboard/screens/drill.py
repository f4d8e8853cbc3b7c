"""明细核查 Drill-through: the rows behind a KPI figure."""

from dashboard.components.drill import render

render()
