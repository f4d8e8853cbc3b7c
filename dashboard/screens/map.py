"""地图 Map: one KPI by street, community or grid in the three status colours, event counts in
hexagonal bins, a click on an area drilling down into it (dashboard/components/geomap.py)."""

from __future__ import annotations

import streamlit as st

from dashboard import data, i18n, state
from dashboard.components import filters, geomap, sections
from dashboard.i18n import md, t
from metrics import geo, semantic

view = state.current()
names = data.names(view.key)
page = semantic.load(check=False).pages.get("map")  # its label: config/semantic/geo.yaml
st.title(md(i18n.pick(page.zh, page.en)) if page else t("nav.map"))
st.caption(t("overview.caption", area=view.scope.name, period=view.period))
filters.period_note()
filters.breadcrumb(view, names)
levels = geo.map_levels(view.scope.level)
if not levels:
    st.info(t("drill.finest"))
else:
    if "map_level" not in st.session_state and state.url_param("level") in levels:
        st.session_state["map_level"] = state.url_param("level")  # a shared link's level
    level = state.bound(st.segmented_control, t("map.level"), levels, "map_level",
                        required=True, format_func=lambda lv: t(f"level.{lv}"))
    kpis = geomap.page_kpis(level)
    if not kpis:
        st.info(t("domain.no_data"))
    else:
        kpi = sections.kpi_picker(kpis, "map")
        state.set_param("level", str(level))
        events = st.toggle(t("map.show_events"), value=True, key="map_events")
        geomap.draw(view, kpi, level,
                    f"map_page_{view.scope.code}_{view.period}_{kpi}_{level}", events=events)
