"""党建与队伍 Party and workforce: party KPIs with consultation and property fees (civic), then
each community's latest 两委三色研判 and 议事协商 by mechanism."""

from dashboard import data, state
from dashboard.components import committees
from dashboard.components.domain import render_page

render_page("party")  # domains, title and sections: config/semantic
_view = state.current()
committees.committee_section(_view, data.names(_view.key))
committees.mechanism_section(_view)
