"""党建与队伍 Party and workforce: party KPIs with consultation and property fees (civic)."""

from dashboard.components.domain import render_page

render_page("party")  # domains, title and sections: config/semantic
