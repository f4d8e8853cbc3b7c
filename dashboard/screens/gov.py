"""政务服务 Government services: a domain page."""

from dashboard.components.domain import render

render(("gov",), "gov")
