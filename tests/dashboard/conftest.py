"""Fixtures for the dashboard tests: a warehouse loaded from the metrics cases (hand-computed
values, so the numbers a page shows can be checked), and an ``AppTest`` on the real app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.metrics.harness import CASES, load_case, materialize

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
CASE_FILES = ("gov", "grid", "vol", "party_civic", "committees")
PERIOD = "2024-05"  # the month the cases are about
HANJIANG = "420606001000"  # 汉江街道
WANGZHAI = "420606002000"  # 王寨街道
GAOZHUANG = "420606001001"  # 高庄社区, in 汉江街道
LIUGENG = "420606001002"  # 刘埂社区, in 汉江街道
SHIYING = "420606002001"  # 施营社区, in 王寨街道


def shown(markdown: str) -> str:
    """What a Markdown text shows: data in it is backslash-escaped (dashboard.i18n.md)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def merged_case() -> dict[str, Any]:
    """The gov, grid, vol and party/civic cases as one warehouse (shared tables such as
    population hold the same rows in each case, so duplicates are dropped)."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for name in CASE_FILES:
        for table, rows in (load_case(CASES / f"{name}.yaml").get("tables") or {}).items():
            have = tables.setdefault(table, [])
            have.extend(r for r in rows if r not in have)
    return {"tables": tables}


def build_case_warehouse(folder: Path) -> Path:
    """Load the merged cases into a fresh SQLite warehouse in ``folder``; return its config."""
    m = materialize(merged_case(), folder, f"sqlite:///{folder / 'warehouse.db'}")
    m.engine.dispose()
    cfg = folder / "gongzhi.toml"
    with cfg.open("a", encoding="utf-8") as f:  # the page tests look as the district leader
        f.write('\n[dashboard]\nsign_in = "open"\n')
    return cfg


@pytest.fixture(scope="session")
def case_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_case_warehouse(tmp_path_factory.mktemp("dashboard_cases"))


@pytest.fixture
def app(case_config: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    """The dashboard on the case warehouse, showing May 2024 unless a test says otherwise."""
    monkeypatch.setenv("GONGZHI_CONFIG", str(case_config))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["period"] = PERIOD
    yield at
