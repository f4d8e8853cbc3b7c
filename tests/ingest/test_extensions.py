"""Extension points (ingest/extensions.py): every runner gets the observers of every
installed extension, the KPI rollups registered through the same entry-point group a third
party uses; each declared extension point has a test that goes through an entry point."""

from __future__ import annotations

import ast
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.errors import ConfigError
from ingest import extensions
from ingest.extensions import (
    AFTER_RUN,
    EXTENSION_POINTS,
    HOOKS,
    OBSERVERS,
    SOURCES,
    load_observers,
)
from ingest.progress import Progress
from ingest.registry import load_validated
from ingest.runner import Runner, build_runner
from metrics.rollup import RollupObserver
from tests.conftest import write_config
from tests.ingest.thirdparty import merge_counter, run_follower
from warehouse.engine import open_warehouse
from warehouse.schema import certificates

REPO = Path(__file__).resolve().parents[2]


def _dist(folder: Path, observers: str) -> Path:
    """An installed distribution in ``folder`` with a source plugin and run observers."""
    dist = folder / "gongzhi_observed-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gongzhi-observed\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[{SOURCES.group}]\n"
        "certlist = tests.ingest.thirdparty.certificates_plugin:CertificatesSource\n"
        f"[{OBSERVERS.group}]\n{observers}\n")
    return folder


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[Path]:
    """Puts a third-party distribution on the path for the test; ``installed.observers``."""
    paths: list[str] = []

    def install(observers: str) -> None:
        site = _dist(tmp_path / f"site{len(paths)}", observers)
        sys.path.insert(0, str(site))
        paths.append(str(site))
        from ingest.registry import registry
        registry(refresh=True)

    yield install  # type: ignore[misc]
    for p in paths:
        sys.path.remove(p)
    from ingest import registry as reg_mod
    reg_mod._REGISTRY = None


@pytest.mark.extension_point("gongzhi.observers")
def test_the_rollup_observer_is_registered_as_an_extension(tmp_path: Path) -> None:
    [ep] = [e for e in extensions.registered(OBSERVERS) if e.name == "rollups"]
    assert ep.value == "metrics.rollup:observers_for"
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", [])
    settings = load_validated(cfg)
    observers = load_observers(settings)
    assert [type(o) for o in observers] == [RollupObserver]
    runner = build_runner(settings, open_warehouse(settings.warehouse_url))
    assert type(runner) is Runner and [type(o) for o in runner.observers] == [RollupObserver]


@pytest.mark.extension_point("gongzhi.observers")
@pytest.mark.extension_point("gongzhi.sources")
def test_a_third_party_observer_follows_every_merge_beside_the_rollups(
        tmp_path: Path, installed) -> None:
    installed("counter = tests.ingest.thirdparty.merge_counter:observers_for")
    merge_counter.SEEN.clear()
    url = f"sqlite:///{tmp_path / 'w.db'}"
    settings = load_validated(write_config(tmp_path, url, [
        {"id": "certs", "plugin": "certlist", "total": 40, "retained": 5}]))
    engine = open_warehouse(url)
    runner = build_runner(settings, engine)
    assert {type(o).__name__ for o in runner.observers} == {"RollupObserver", "MergeCounter"}
    [first] = runner.run()
    assert first.ok, first.error
    settings2 = load_validated(write_config(tmp_path, url, [
        {"id": "certs", "plugin": "certlist", "total": 45, "retained": 45}]))
    [second] = build_runner(settings2, engine).run()
    assert second.ok, second.error
    with engine.connect() as c:
        stored = c.execute(select(func.count()).select_from(certificates)).scalar_one()
    # 40 new; then 5 more new and 35 changed from abolished to retained (5 were retained)
    assert merge_counter.SEEN == [("certificates", 40, 0), ("certificates", 5, 35)]
    assert stored == 45


@pytest.mark.extension_point("gongzhi.observers.after_run")
def test_after_run_follows_a_batch_once_and_a_lone_source_run_and_never_fails_it(
        tmp_path: Path, installed) -> None:
    installed("follower = tests.ingest.thirdparty.run_follower:observers_for")
    run_follower.CALLS.clear()
    run_follower.FAIL.clear()
    url = f"sqlite:///{tmp_path / 'w.db'}"
    settings = load_validated(write_config(tmp_path, url, [
        {"id": "certs", "plugin": "certlist", "total": 4, "retained": 1},
        {"id": "lost", "plugin": "files", "table": "certificates", "required": True,
         "path": "nothing-here/*.csv"}]))
    engine = open_warehouse(url)
    runner = build_runner(settings, engine)
    results = runner.run()
    assert [(r.source, r.ok) for r in results] == [("certs", True), ("lost", False)]
    # once, after both runs (never between them), the failed run included
    assert [[("certs", results[0].status), ("lost", results[1].status)]] == run_follower.CALLS
    run_follower.CALLS.clear()
    out = io.StringIO()
    runner = build_runner(settings, engine, progress=Progress(out))
    run_follower.FAIL.append("the notifier is down")
    lone = runner.run_source(settings.source("certs"))
    assert lone.ok and [[("certs", lone.status)]] == run_follower.CALLS
    assert "RunFollower failed after the run" in out.getvalue()
    assert "the notifier is down" in out.getvalue()
    run_follower.FAIL.clear()


def test_a_broken_observer_extension_stops_the_run_naming_it(tmp_path: Path, installed) -> None:
    # the module imports a package that is not installed
    installed("indexer = tests.ingest.thirdparty.broken_plugin:observers_for")
    settings = load_validated(write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", []))
    with pytest.raises(ConfigError) as e:
        build_runner(settings, open_warehouse(settings.warehouse_url))
    msg = str(e.value)
    assert "gongzhi.observers indexer (tests.ingest.thirdparty.broken_plugin:observers_for)" in msg
    assert "gongzhi_no_such_dependency" in msg and "stale" in msg


def test_product_code_builds_runners_only_through_the_factory() -> None:
    """A runner built by hand could miss the observers (stale rollups, no error)."""
    bad = []
    for pkg in ("gongzhi", "ingest", "metrics", "dashboard", "warehouse", "core"):
        for p in (REPO / pkg).rglob("*.py"):
            tree = ast.parse(p.read_text(encoding="utf-8"))
            factory = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                       and f.name == "build_runner" for n in ast.walk(f)}
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and id(node) not in factory:
                    name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                    if name in ("Runner", "Reprocessor"):
                        bad.append(f"{p.relative_to(REPO)}:{node.lineno}")
    assert not bad, "runners built by hand (use ingest.runner.build_runner):\n" + "\n".join(bad)


def test_every_declared_extension_point_has_a_test() -> None:
    """A group or hook declared in ingest/extensions.py is tested through an entry point:
    some test carries ``@pytest.mark.extension_point("<group>")`` (``"<group>.<hook>"``)."""
    marked: set[str] = set()
    for p in (REPO / "tests").rglob("test_*.py"):
        marked |= set(re.findall(r"mark\.extension_point\(\s*[\"']([\w.]+)[\"']",
                                 p.read_text(encoding="utf-8")))
    declared = {point.group for point in EXTENSION_POINTS} | {hook.id for hook in HOOKS}
    assert declared == {"gongzhi.sources", "gongzhi.observers",
                        "gongzhi.observers.after_run", "gongzhi.observers.on_schedule"}
    assert AFTER_RUN.point is OBSERVERS
    assert not declared - marked, f"extension points without a test: {declared - marked}"
    assert not marked - declared, f"tests of undeclared extension points: {marked - declared}"
