"""The 督办 and 预警记录 pages render in Chinese (and English) for the open district: the
overview counts open tasks, the task page lists them with their figure, the alert log lists
the alerts the ingestion raised; a task named in the URL that does not exist is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from gongzhi.cli import cli
from metrics.access import leader
from tests.dashboard.conftest import APP, shown
from tests.metrics.alert_world import HANJIANG, months, write_world
from warehouse import cycle
from warehouse.engine import open_warehouse


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tasks_pages")
    config = write_world(folder, """
[[alerts]]
id = "red_cards"
rule = "kpi_red"
kpis = ["gov.online_case_rate"]
""", sign_in="open")
    assert CliRunner().invoke(cli, ["--config", str(config), "ingest", "--quiet"]).exit_code == 0
    eng = open_warehouse(f"sqlite:///{folder / 'w.db'}")
    cycle.open_task(eng, leader("420606000000", "boss"), area_code=HANJIANG,
                    area_level="street", area_name="汉江街道", title="网办率整改",
                    due_date=dt.date(2020, 1, 6),  # long overdue
                    figure=cycle.Figure(kpi="gov.online_case_rate", kpi_label="网办率",
                                        value=0.25, target=0.6, unit="ratio",
                                        period=months()[0].label))
    eng.dispose()
    return config


def _app(cfg: Path, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    monkeypatch.setenv("GONGZHI_CONFIG", str(cfg))
    at = AppTest.from_file(str(APP), default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    return at


def test_overview_counts_and_both_pages_render(cfg: Path, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    at = _app(cfg, monkeypatch, period=months()[0].label)
    at.run()
    assert not at.exception
    counts = " ".join(shown(m.value) for m in at.markdown)
    assert "督办中 1 项" in counts and "已逾期 1 项" in counts
    at.switch_page("screens/tasks.py").run()
    assert not at.exception and at.title[0].value == "督办任务"
    assert any("网办率整改" in e.label for e in at.expander)
    assert any("25.0%" in shown(m.value) for m in at.markdown)
    at.switch_page("screens/alerts.py").run()
    assert not at.exception and at.title[0].value == "预警记录"
    table = at.table[0].value
    assert table.shape[0] == 1 and "汉江街道 网办率" in str(table.iloc[0]["预警内容"])
    assert table.iloc[0]["发送状态"] == "仅记录"


def test_a_task_in_the_url_outside_reach_is_refused(cfg: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(cfg, monkeypatch, task="999")
    at.run()
    at.switch_page("screens/tasks.py").run()
    assert any("无权查看该督办任务" in e.value for e in at.error)
