"""志愿服务 Volunteer service: a domain page."""

from dashboard.components.domain import render_page

render_page("vol")  # domains, title and sections: config/semantic
