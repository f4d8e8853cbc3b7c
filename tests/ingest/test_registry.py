"""The plugin registry: one loading path for built-in and third-party plugins; broken ones are
reported, never fatal."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ingest import registry as reg_mod
from ingest.registry import GROUP, load_registry, registry
from warehouse.engine import open_warehouse
from warehouse.schema import certificates

REPO = Path(__file__).resolve().parents[2]
BUILTINS = {"files", "rest", "sql", "open311", "divisions"}


def write_dist(folder: Path) -> Path:
    """An installed distribution in ``folder`` declaring two gongzhi.sources entry points."""
    dist = folder / "gongzhi_thirdparty-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gongzhi-thirdparty\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[{GROUP}]\n"
        "certlist = tests.ingest.thirdparty.certificates_plugin:CertificatesSource\n"
        "brokenone = tests.ingest.thirdparty.broken_plugin:BrokenSource\n")
    return folder


@pytest.fixture
def thirdparty(tmp_path: Path) -> Iterator[Path]:
    site = write_dist(tmp_path / "site")
    sys.path.insert(0, str(site))
    registry(refresh=True)
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        reg_mod._REGISTRY = None


def test_builtins_load_through_the_entry_point_group() -> None:
    reg = load_registry()
    assert set(reg.plugins) >= BUILTINS, reg.broken
    assert reg.origins["files"] == "ingest.plugins.files:FilesSource"


@pytest.mark.extension_point("gongzhi.sources")
def test_third_party_plugin_runs_end_to_end_and_broken_one_is_reported(
        thirdparty: Path, warehouse_url: str, run_sources) -> None:
    reg = registry()
    assert "certlist" in reg.plugins
    assert "brokenone" in reg.broken
    assert "gongzhi_no_such_dependency" in reg.broken["brokenone"].error
    r = run_sources(warehouse_url, [{"id": "certs", "plugin": "certlist", "retained": 13}])[0]
    assert r.ok and r.loaded == 97
    with open_warehouse(warehouse_url).connect() as c:
        statuses = [row.status for row in c.execute(select(certificates.c.status))]
    assert statuses.count("retained") == 13 and statuses.count("abolished") == 84


def test_source_using_a_broken_plugin_is_a_config_problem(thirdparty: Path, tmp_path: Path) -> None:
    from core.errors import ConfigError
    from ingest.registry import load_validated
    from tests.conftest import write_config

    cfg = write_config(tmp_path, "sqlite:///w.db", [{"id": "x", "plugin": "brokenone"}])
    with pytest.raises(ConfigError) as e:
        load_validated(cfg)
    assert "failed to load" in str(e.value) and "gongzhi_no_such_dependency" in str(e.value)


def test_gongzhi_sources_lists_broken_plugins_without_failing(tmp_path: Path) -> None:
    site = write_dist(tmp_path / "site")
    from tests.conftest import divisions_source, write_config

    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", [divisions_source()])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    out = subprocess.run([str(Path(sys.executable).with_name("gongzhi")), "--config", str(cfg),
                          "sources"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "brokenone" in out.stdout and "broken" in out.stdout
    assert "certlist" in out.stdout and "divs" in out.stdout
    assert "1 plugin(s) failed to load" in out.stderr
