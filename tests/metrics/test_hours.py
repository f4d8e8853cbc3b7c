"""Durations in hours are exact to the millisecond on both engines (SQLite's julianday()
difference was off by tens of microseconds: 5 h 12 min came out as 5.19999999 h)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from metrics import periods
from metrics.service import Metrics
from tests.metrics.harness import materialize

PAIRS = [("2025-10-03 09:17:00", "2025-10-03 14:29:00"), ("2025-10-08 23:59:59",
                                                          "2025-10-11 00:00:01"),
         ("2025-10-20 08:00:00", "2025-10-20 13:12:00")]


def test_mean_hours_to_close_is_exact(tmp_path: Path, warehouse_url: str) -> None:
    events = [{"event_id": f"E{i}", "grid_code": "420606001001001", "reported_at": reg,
               "registered_at": reg, "closed_at": closed} for i, (reg, closed) in enumerate(PAIRS)]
    grids = [{"code": "420606001001001", "name": "网格", "level": "grid",
              "parent_code": "420606001001"}]
    m = materialize({"tables": {"divisions": grids, "grid_events": events}}, tmp_path,
                    warehouse_url)
    f = "%Y-%m-%d %H:%M:%S"
    hours = [(dt.datetime.strptime(b, f) - dt.datetime.strptime(a, f)).total_seconds() / 3600
             for a, b in PAIRS]
    for metrics in (m, Metrics(m.engine, m.catalog, use_rollups=False)):
        row = metrics.compute(["grid.mean_hours_to_close"], metrics.district(),
                              periods.parse("2025-10")).row(0, named=True)
        assert row["value"] == sum(hours) / 3  # exactly, not approximately
    m.engine.dispose()
