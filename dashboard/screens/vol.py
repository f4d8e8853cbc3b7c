"""志愿服务 Volunteer service: a domain page."""

from dashboard.components.domain import render

render(("vol",), "vol")
