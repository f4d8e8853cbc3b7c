"""``hotline.response_rate`` takes its window from the KPI parameter ``response_hours``: a
deployment that counts 30 hours gets other figures, and the rollups follow (the resolved value
is part of the family's fingerprint)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from metrics import periods
from metrics.catalog import load_catalog
from metrics.rollup import ensure_rollups
from metrics.service import Metrics
from tests.metrics.harness import CASES, load_case, materialize

KPIS = Path(__file__).resolve().parents[2] / "config" / "kpis"


def _in_time(hours: float) -> tuple[int, int]:
    """May requests responded within ``hours``, counted from the case's rows."""
    rows = [r for r in load_case(CASES / "hotline.yaml")["tables"]["hotline_requests"]
            if r["received_at"].startswith("2024-05")]

    def t(s: str) -> dt.datetime:
        return dt.datetime.strptime(s, "%Y-%m-%d %H:%M")

    ok = sum(1 for r in rows if r.get("responded_at")
             and t(r["responded_at"]) - t(r["received_at"]) <= dt.timedelta(hours=hours))
    return ok, len(rows)


def test_response_hours_is_a_kpi_parameter(tmp_path: Path, sqlite_url: str) -> None:
    m = materialize(load_case(CASES / "hotline.yaml"), tmp_path / "w", sqlite_url)
    may = periods.parse("2024-05")
    row = m.compute(["hotline.response_rate"], m.district(), may).row(0, named=True)
    assert (row["numerator"], row["denominator"]) == _in_time(24)
    folder = tmp_path / "kpis"
    shutil.copytree(KPIS, folder)
    f = folder / "hotline.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("response_hours: 24",
                                                       "response_hours: 30"), encoding="utf-8")
    catalog = load_catalog(folder)
    assert "rollup_hotline_requests__received_at" in ensure_rollups(m.engine, catalog)
    assert _in_time(30) != _in_time(24)
    for use_rollups in (True, False):
        again = Metrics(m.engine, catalog, use_rollups=use_rollups)
        row = again.compute(["hotline.response_rate"], again.district(), may).row(0, named=True)
        assert (row["numerator"], row["denominator"]) == _in_time(30)
