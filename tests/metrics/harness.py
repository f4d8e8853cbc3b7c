"""Expected-value KPI cases (``tests/metrics/cases/*.yaml``), run through the real pipeline.

Each case lists rows per warehouse table (canonical columns, local times as a source would
give them), optional grids and retired codes, and expectations: a KPI, a scope, a period and
the value, numerator, denominator, status, sample or deltas it must give. The rows are written
as CSV files and loaded by the runner (so rollups are kept by deltas exactly as in
production); each expectation is then computed through the rollups and straight from the
fact tables, and both must match it.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest.registry import load_validated
from ingest.runner import Runner
from metrics import periods
from metrics.catalog import load_catalog
from metrics.compiler import Scope
from metrics.rollup import RollupObserver, ensure_rollups
from metrics.service import Metrics
from tests.conftest import DIVISIONS_CSV, write_config
from warehouse.engine import open_warehouse

CASES = Path(__file__).parent / "cases"
COMPARED = ("value", "numerator", "denominator", "status", "sample", "delta_prev",
            "delta_yoy", "prev_value", "ly_value")


def case_files() -> list[Path]:
    return sorted(CASES.glob("*.yaml"))


def load_case(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def materialize(case: dict[str, Any], folder: Path, url: str) -> Metrics:
    """Load a case's rows into the warehouse at ``url`` with the real runner."""
    lists = folder / "divisions"
    lists.mkdir(parents=True)
    official = DIVISIONS_CSV.read_text(encoding="utf-8").splitlines()
    (lists / "fancheng_2023.csv").write_text("\n".join(official) + "\n", encoding="utf-8")
    if case.get("retire"):
        newer = [ln for ln in official if ln.split(",")[0] not in set(case["retire"])]
        (lists / "fancheng_2024.csv").write_text("\n".join(newer) + "\n", encoding="utf-8")
    sources: list[dict[str, Any]] = [{"id": "divs", "plugin": "divisions",
                                      "path": "divisions/*.csv"}]
    for table, rows in (case.get("tables") or {}).items():
        header: list[str] = []
        for r in rows:
            header += [k for k in r if k not in header]
        path = folder / "data" / f"{table}.csv"
        path.parent.mkdir(exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            for r in rows:
                w.writerow([_cell(r.get(h)) for h in header])
        sources.append({"id": f"t_{table}", "plugin": "files", "table": table,
                        "path": f"data/{table}.csv"})
    cfg = write_config(folder, url, sources)
    settings = load_validated(cfg)
    engine = open_warehouse(settings.warehouse_url)
    catalog = load_catalog()
    ensure_rollups(engine, catalog)
    results = Runner(settings, engine, observers=[RollupObserver(catalog)]).run()
    bad = [r for r in results if not r.ok or r.quarantined]
    assert not bad, [(r.source, r.error, r.quarantined) for r in bad]
    return Metrics(engine, catalog)


def parse_scope(m: Metrics, text: str) -> Scope:
    if text == "district":
        return m.district()
    level, _, ref = text.partition(":")
    return m.scope(level, ref)


def check(m: Metrics, raw: Metrics, exp: dict[str, Any]) -> None:
    """Compare one expectation through rollups and through the fact tables."""
    scope = parse_scope(m, exp.get("scope", "district"))
    period = periods.parse(str(exp["period"])) if exp.get("period") else None
    for metrics, how in ((m, "rollups"), (raw, "facts")):
        frame = metrics.compute([exp["kpi"]], scope, period)
        row = frame.row(0, named=True)
        for k in COMPARED:
            if k not in exp:
                continue
            want, got = exp[k], row[k]
            where = f"{exp['kpi']} {exp.get('scope', 'district')} {exp.get('period')} [{how}]"
            if isinstance(want, float) and got is not None:
                assert got == pytest.approx(want, rel=1e-6, abs=1e-9), f"{where} {k}"
            else:
                assert got == want, f"{where} {k}: expected {want!r}, got {got!r}"
