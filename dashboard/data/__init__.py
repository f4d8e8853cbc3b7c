"""Cached loaders: the only part of the dashboard that reads the warehouse.

KPIs come from :mod:`metrics` (``views`` for page frames, ``detail`` for rows) and run
information from :mod:`warehouse.runlog`; pages never hold SQL or KPI arithmetic. Every
cached function takes a :class:`Key` (config path, data version and the viewer) as its first
argument: ``st.cache_data`` is shared by every session, so the viewer's area must be part of
the key, and a new run (a new data version) must miss the cache. The viewer also goes into
every metrics call, which refuses an area outside the viewer's own (``AccessDenied``): the
data layer enforces access, not only the widgets. Exports, and views of person-level rows,
write an audit record.

The loaders live in one module per concern; pages call them through this package
(``data.overview(...)``), so they are re-exported here:

- :mod:`~dashboard.data.base`: the warehouse connection, the cache :class:`Key`, divisions;
- :mod:`~dashboard.data.kpis`: KPI frames (cards, domain pages, boards, ranking, map);
- :mod:`~dashboard.data.rows`: detail rows, exports and the drill-through;
- :mod:`~dashboard.data.status`: runs, quarantine, freshness and run-now;
- :mod:`~dashboard.data.office`: bulletins, 督办 tasks and the alert log.
"""

from __future__ import annotations

from dashboard.data.base import (
    Key,
    Units,
    allowed_scope,
    catalog,
    district,
    district_code,
    key,
    last_update,
    metrics,
    names,
    parents,
    reading_standby,
    settings,
    unit_index,
    unit_scope,
    units,
    version,
)
from dashboard.data.kpis import (
    _overview,
    applicable,
    applicable_rows,
    breakdown,
    committees_latest,
    domain_board,
    domain_page,
    heatmap,
    hex_bins,
    latest_events,
    map_areas,
    map_notes,
    map_shapes,
    opening_month,
    overview,
    overview_board,
    ranking,
    top_values,
    versus,
)
from dashboard.data.office import (
    alert_log,
    bulletin_archive,
    generate_bulletin,
    open_task,
    read_attachment,
    store_attachment,
    task,
    task_counts,
    task_move,
    tasks_for,
)
from dashboard.data.rows import (
    EXPORT_CAP,
    audit_drill,
    audit_view,
    detail_count,
    detail_page,
    drill_export,
    drill_page,
    drill_total,
    export_rows,
)
from dashboard.data.status import (
    audit_entries,
    calendar_status,
    input_warnings,
    pending_requests,
    quarantine,
    reprocess_requests,
    request_reprocess,
    request_run,
    runs,
    source_states,
)

__all__ = [
    "EXPORT_CAP",
    "Key",
    "Units",
    "_overview",
    "alert_log",
    "allowed_scope",
    "applicable",
    "applicable_rows",
    "audit_drill",
    "audit_entries",
    "audit_view",
    "breakdown",
    "bulletin_archive",
    "calendar_status",
    "catalog",
    "committees_latest",
    "detail_count",
    "detail_page",
    "district",
    "district_code",
    "domain_board",
    "domain_page",
    "drill_export",
    "drill_page",
    "drill_total",
    "export_rows",
    "generate_bulletin",
    "heatmap",
    "hex_bins",
    "input_warnings",
    "key",
    "last_update",
    "latest_events",
    "map_areas",
    "map_notes",
    "map_shapes",
    "metrics",
    "names",
    "open_task",
    "opening_month",
    "overview",
    "overview_board",
    "parents",
    "pending_requests",
    "quarantine",
    "ranking",
    "read_attachment",
    "reading_standby",
    "reprocess_requests",
    "request_reprocess",
    "request_run",
    "runs",
    "settings",
    "source_states",
    "store_attachment",
    "task",
    "task_counts",
    "task_move",
    "tasks_for",
    "top_values",
    "unit_index",
    "unit_scope",
    "units",
    "version",
    "versus",
]
