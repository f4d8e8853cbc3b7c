"""网格治理 Grid management: a domain page."""

from dashboard.components.domain import render_page

render_page("grid")  # domains, title and sections: config/semantic
