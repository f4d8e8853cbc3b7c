"""A source whose latest run found no input is a warning on the KPI cards fed by its table and
on 数据与运行, while the cards' 数据更新于 stays at the last time data arrived."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ingest.registry import load_validated
from ingest.runner import Runner
from metrics.catalog import load_catalog
from tests.dashboard.conftest import APP, PERIOD, build_case_warehouse
from warehouse.engine import open_warehouse

NOTE = "gov\\_drop 最近一次运行未收到数据"  # the source id escaped for Markdown


@pytest.fixture
def config(tmp_path: Path) -> Path:
    cfg = build_case_warehouse(tmp_path)
    with cfg.open("a", encoding="utf-8") as f:  # a second feed of service cases, gone quiet
        f.write('\n[[sources]]\nid = "gov_drop"\nplugin = "files"\n'
                'table = "service_cases"\npath = "drop/*.csv"\n')
    settings = load_validated(cfg)
    engine = open_warehouse(settings.warehouse_url)
    [r] = Runner(settings, engine).run(["gov_drop"])
    assert r.status == "no_input"
    engine.dispose()
    return cfg


def test_cards_on_the_quiet_table_and_the_runs_page_warn(config: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGZHI_CONFIG", str(config))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["period"] = PERIOD
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    catalog = load_catalog()
    on_cases = {k.label.zh for k in catalog.kpis.values()
                if "service_cases" in {m.table for m in k.measures().values()}}
    labels = [m.label.split(" ", 1)[1] for m in at.metric]
    notes = [c.value for c in at.caption if "数据更新于" in c.value]
    assert len(notes) == len(labels) >= 3
    for label, note in zip(labels, notes, strict=True):
        assert (NOTE in note) == (label in on_cases), (label, note)
    assert any(label in on_cases for label in labels)
    assert not all(label in on_cases for label in labels)  # other tables stay quiet

    at.switch_page("screens/runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    # (other warnings may stand beside it, e.g. next year's holiday calendar in December)
    [warning] = [w.value for w in at.warning if "gov\\_drop" in w.value]
    assert "gov\\_drop" in warning and "未找到输入" in warning and "no files match" in warning
    fresh = at.dataframe[0].value
    row = fresh[fresh["数据源"] == "gov_drop"].iloc[0]
    assert row["提醒"] == "⚠ 未找到输入" and row["数据最近到达"] == "尚未到达"
    others = fresh[fresh["数据源"] != "gov_drop"]
    assert (others["提醒"] == "").all()
