"""网格治理 Grid management: a domain page."""

from dashboard.components.domain import render

render(("grid",), "grid")
