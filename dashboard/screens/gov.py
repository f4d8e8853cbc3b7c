"""政务服务 Government services: a domain page."""

from dashboard.components.domain import render_page

render_page("gov")  # domains, title and sections: config/semantic
