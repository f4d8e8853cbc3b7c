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


def copy_demo(office_demo: Path, folder: Path) -> Path:
    """A private copy of the session's demo warehouse (its config, key file and SQLite
    files; the config's paths are relative) in ``folder``: copying is cheap, building is not.
    Returns the copy's config."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for f in office_demo.parent.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    return folder / office_demo.name


@pytest.fixture(scope="session")
def demo_config(office_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's demo warehouse for :func:`demo_server` (the server writes its
    audit log and sessions there, and browser tests may set targets or archive bulletins)."""
    return copy_demo(office_demo, tmp_path_factory.mktemp("demo_served"))


@pytest.fixture(scope="session")
def demo_server(demo_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``gongzhi serve`` on :func:`demo_config` (sign-in open), shared by the browser tests
    of the demo data: its base URL."""
    from tests.dashboard import browser

    browser.require_browser()
    log = tmp_path_factory.mktemp("demo_served_log") / "serve.log"
    with browser.serve(demo_config, log=log) as (base, _):
        yield base
