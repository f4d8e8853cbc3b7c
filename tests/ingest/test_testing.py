"""The shipped contract kit (ingest/testing): every plugin registered in ``gongzhi.sources``
has a test class running it; the meta-check catches one that has none; a third-party plugin
runs the kit with nothing but the installed package; the plain checks fail with what broke."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ingest import registry as reg_mod
from ingest.extensions import SOURCES, registered
from ingest.testing import (
    ContractFailure,
    check_batches,
    check_end_to_end,
    check_registered,
    check_unknown_setting_refused,
    untested_plugins,
)
from ingest.testing.contract import PluginContract
from warehouse.engine import open_warehouse
from warehouse.schema import certificates

REPO = Path(__file__).resolve().parents[2]
CERTLIST = "certlist = tests.ingest.thirdparty.certificates_plugin:CertificatesSource"


def _contract_classes() -> list[type]:
    """The test classes (collected by pytest: ``Test*``) that run the shipped kit, from every
    test module that names it."""
    for p in sorted((REPO / "tests").rglob("test_*.py")):
        if "PluginContract" in p.read_text(encoding="utf-8"):
            importlib.import_module(".".join(p.relative_to(REPO).with_suffix("").parts))
    found: list[type] = []
    todo = list(PluginContract.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__name__.startswith("Test") and cls.plugin:  # type: ignore[attr-defined]
            found.append(cls)
    return found


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[None]:
    """A third-party distribution registering the ``certlist`` plugin, on the path for the test."""
    dist = tmp_path / "site" / "gongzhi_certlist-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gongzhi-certlist\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{SOURCES.group}]\n{CERTLIST}\n")
    sys.path.insert(0, str(dist.parent))
    reg_mod.registry(refresh=True)
    yield
    sys.path.remove(str(dist.parent))
    reg_mod._REGISTRY = None


@pytest.mark.extension_point("gongzhi.sources")
def test_every_registered_plugin_has_a_test_class_running_the_kit() -> None:
    classes = _contract_classes()
    names = {ep.name for ep in registered(SOURCES)}
    assert {"files", "rest", "sql", "open311", "divisions"} <= names
    assert untested_plugins(classes) == [], (
        "plugins registered in gongzhi.sources without a test class subclassing "
        "ingest.testing.contract.PluginContract")
    # the classes found are the built-in ones, by name (open311 runs it for JSON and XML)
    assert {c.__name__ for c in classes} >= {
        "TestFilesContract", "TestRestContract", "TestSqlContract", "TestOpen311JsonContract",
        "TestOpen311XmlContract", "TestDivisionsContract", "TestCertlistContract"}


def test_the_meta_check_reports_a_registered_plugin_without_a_kit_test() -> None:
    classes = _contract_classes()
    extra = EntryPoint("parcels", "gongzhi_parcels.source:ParcelsSource", SOURCES.group)
    assert untested_plugins(classes, [*registered(SOURCES), extra]) == ["parcels"]
    # and on a synthetic list: only the names no class covers, sorted
    eps = [EntryPoint(n, f"m:{n}", SOURCES.group) for n in ("b", "a", "c")]
    assert untested_plugins([type("T", (), {"plugin": "b"})], eps) == ["a", "c"]


def test_an_installed_third_party_plugin_without_a_kit_test_is_reported(installed) -> None:
    names = [ep.name for ep in registered(SOURCES)]
    assert "certlist" in names
    without = [c for c in _contract_classes() if c.plugin != "certlist"]  # type: ignore[attr-defined]
    assert untested_plugins(without) == ["certlist"]
    assert untested_plugins(_contract_classes()) == []


class TestCertlistContract(PluginContract):
    """A third-party plugin runs the kit exactly as its own repository would: the shipped class,
    no fixture of this project's tests (the plugin is installed as a distribution)."""

    plugin = "certlist"
    expected_rows = 40
    with_observers = True  # as the product runs it: with the KPI rollups attached

    @pytest.fixture(autouse=True)
    def _installed(self, installed) -> None:
        pass

    def source_config(self, tmp_path: Path) -> dict[str, Any]:
        return {"id": "certs", "plugin": "certlist", "total": 40, "retained": 5}

    def check_loaded(self, tmp_path: Path, warehouse_url: str) -> None:
        eng = open_warehouse(warehouse_url)
        with eng.connect() as c:
            n = c.execute(select(func.count()).select_from(certificates)).scalar_one()
            kept = c.execute(select(func.count()).select_from(certificates)
                             .where(certificates.c.status == "retained")).scalar_one()
        eng.dispose()
        assert (n, kept) == (40, 5)


def test_the_checks_name_the_plugin_and_what_broke(tmp_path: Path, installed) -> None:
    cfg = {"id": "certs", "plugin": "certlist", "total": 4, "retained": 1}
    with pytest.raises(ContractFailure, match=r"'certlist' .*\(batches\): 4 rows extracted, "
                                              r"5 expected"):
        check_batches(cfg, tmp_path, 5)
    with pytest.raises(ContractFailure, match=r"'nosuch' .*not in the gongzhi.sources"):
        check_registered("nosuch")
    with pytest.raises(ContractFailure, match=r"\(end to end\): 4 rows read, 3 expected"):
        check_end_to_end(cfg, tmp_path, f"sqlite:///{tmp_path / 'w.db'}", 3)
    check_unknown_setting_refused(cfg, tmp_path)  # pydantic config: extra settings refused


def test_the_kit_does_not_need_pytest_at_run_time() -> None:
    code = ("import sys; import ingest.testing; "
            "assert 'pytest' not in sys.modules, 'ingest.testing imported pytest'")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
