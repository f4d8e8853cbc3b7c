"""Shared fixtures: a fresh warehouse on each engine, configs written to temporary folders.

PostgreSQL tests run against the real server at 127.0.0.1:5432. Locally they skip when it is
down; with GONGZHI_REQUIRE_PG=1 (set by .ci/run) an unreachable server fails them instead.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

PG_ADMIN_URL = os.environ.get("GONGZHI_TEST_PG",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("GONGZHI_REQUIRE_PG") == "1"


def _pg_available() -> str | None:
    try:
        eng = create_engine(PG_ADMIN_URL)
        with eng.connect() as c:
            c.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as e:  # pragma: no cover - depends on the machine
        return str(e).splitlines()[0]


_PG_ERROR = _pg_available()


def need_pg() -> None:
    """Skip (locally) or fail (in CI) when PostgreSQL is unreachable."""
    if _PG_ERROR is None:
        return
    if REQUIRE_PG:
        pytest.fail(f"PostgreSQL is required (GONGZHI_REQUIRE_PG=1) but unreachable: {_PG_ERROR}")
    pytest.skip(f"PostgreSQL unreachable: {_PG_ERROR}")


@contextmanager
def private_pg_schema() -> Iterator[str]:
    """A URL on the test database whose search_path is a fresh schema, dropped afterwards."""
    need_pg()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    # pre-ping: a test may restart the server while this engine holds a connection
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def fresh_warehouse_url(engine_name: str, folder: Path) -> Iterator[str]:
    """A URL of an empty warehouse on ``engine_name`` (``sqlite``: a file in ``folder``;
    ``postgresql``: a private schema, dropped afterwards)."""
    if engine_name == "sqlite":
        yield f"sqlite:///{folder / 'warehouse.db'}"
    else:
        with private_pg_schema() as url:
            yield url


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL on the test database whose search_path is a fresh, private schema."""
    with private_pg_schema() as url:
        yield url


def pytest_configure(config: pytest.Config) -> None:
    from tests.dashboard import browser

    browser.SHARE = True  # one Chromium for consecutive modules that use it (see below)
    # The dashboard servers the tests start (gongzhi serve, up) do not warm the leader's map
    # in the background (dashboard/warm.py): each would compute a map nobody looks at on the
    # cores the tests share. tests/dashboard/test_warm.py turns it on for its own tests.
    # (dashboard.warm.ENV: not imported here, it would load Streamlit before its runtime.)
    os.environ.setdefault("GONGZHI_WARM_MAP", "0")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """At the end of a module, close the pages it left in the shared Chromium; close the
    browser too unless the next module asks for ``chromium`` (launching costs seconds; a live
    one keeps an asyncio loop marked running, which tests without a browser must not see)."""
    yield
    from tests.dashboard import browser

    if not browser.shared_is_open():
        return
    if nextitem is not None and getattr(nextitem, "module", None) is getattr(item, "module",
                                                                              None):
        return
    browser.close_shared_contexts()
    if nextitem is None or "chromium" not in getattr(nextitem, "fixturenames", ()):
        browser.close_shared()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Chromium (tests/dashboard/browser.py): the shared one; give each test its own
    context (``chromium.new_context(...)``) and close it."""
    from tests.dashboard import browser

    browser.require_browser()
    with browser.chromium() as b:
        yield b


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty warehouse URL on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'warehouse.db'}"


@pytest.fixture
def engine(warehouse_url: str) -> Iterator[Engine]:
    from warehouse.engine import open_warehouse

    eng = open_warehouse(warehouse_url)
    yield eng
    eng.dispose()


DIVISIONS_CSV = Path(__file__).resolve().parents[1] / "config" / "divisions" / \
    "fancheng_divisions_2023.csv"


def toml_value(v: Any) -> str:
    import json

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, dict):
        items = ", ".join(f"{json.dumps(str(k))} = {toml_value(x)}" for k, x in v.items())
        return "{ " + items + " }"
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)


def write_config(folder: Path, url: str, sources: list[dict[str, Any]], extra: str = "") -> Path:
    """Write a gongzhi.toml with the given sources into ``folder``; returns its path."""
    lines = ["[warehouse]", f"url = {toml_value(url)}", ""]
    for s in sources:
        lines.append("[[sources]]")
        nested = {k: v for k, v in s.items() if k in ("columns", "defaults", "formats")}
        for k, v in s.items():
            if k not in nested:
                lines.append(f"{k} = {toml_value(v)}")
        for k, v in nested.items():
            lines.append(f"[sources.{k}]")
            for hk, hv in v.items():
                lines.append(f"{toml_value(hk)} = {toml_value(hv)}")
        lines.append("")
    path = folder / "gongzhi.toml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def divisions_source() -> dict[str, Any]:
    return {"id": "divs", "plugin": "divisions", "path": str(DIVISIONS_CSV)}


@pytest.fixture
def run_sources(tmp_path: Path):
    """Run sources end to end: ``run_sources(url, [source dicts], ids=None)`` → results."""
    from ingest.registry import load_validated
    from ingest.runner import Runner
    from warehouse.engine import open_warehouse

    engines: list[Engine] = []

    def _run(url: str, sources: list[dict[str, Any]], ids: list[str] | None = None,
             folder: Path | None = None, trigger: str = "manual"):
        cfg = write_config(folder or tmp_path, url, sources)
        settings = load_validated(cfg)
        eng = open_warehouse(settings.warehouse_url)
        engines.append(eng)
        return Runner(settings, eng).run(ids, trigger=trigger)

    yield _run
    for e in engines:
        e.dispose()


# The session's demo: every street and community, sparse activity up to 2025-06
DEMO_SCALE, DEMO_SEED, DEMO_END = 0.02, 11, dt.date(2025, 6, 30)


@pytest.fixture(scope="session")
def office_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small 樊城区 demo warehouse (DEMO_SCALE, DEMO_SEED, DEMO_END), written and loaded as
    ``gongzhi demo`` does (rollups kept by the run), built once per session and shared by the
    ranking, targets, bulletin, demo and dashboard tests; returns its config. Read it only:
    a test that changes it works on a copy (tests/dashboard/conftest.py ``copy_demo``)."""
    from gongzhi.demo import write_demo
    from ingest.registry import load_validated
    from ingest.runner import Runner
    from metrics.rollup import observers_for
    from warehouse.engine import open_warehouse

    root = tmp_path_factory.mktemp("office_demo")
    config = write_demo(root, scale=DEMO_SCALE, seed=DEMO_SEED, end=DEMO_END)
    settings = load_validated(config)
    engine = open_warehouse(settings.warehouse_url)
    results = Runner(settings, engine, observers=observers_for(settings)).run(trigger="demo")
    assert all(r.ok for r in results), [(r.source, r.error) for r in results if not r.ok]
    engine.dispose()
    return Path(config)
