"""Every KPI against hand-computed values, on both engines, through rollups and facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics.catalog import load_catalog
from metrics.service import Metrics
from tests.metrics.harness import case_files, check, load_case, materialize


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_case(path: Path, tmp_path: Path, warehouse_url: str) -> None:
    case = load_case(path)
    m = materialize(case, tmp_path, warehouse_url)
    raw = Metrics(m.engine, m.catalog, use_rollups=False)
    for exp in case["expect"]:
        check(m, raw, exp)


def test_every_kpi_has_an_expected_value_case() -> None:
    covered: set[str] = set()
    expected: set[str] = set()
    for path in case_files():
        case = load_case(path)
        covered |= set(case.get("covers", []))
        expected |= {e["kpi"] for e in case["expect"]}
    missing = set(load_catalog().kpis) - (covered & expected)
    assert not missing, f"KPIs without an expected-value case: {sorted(missing)}"
