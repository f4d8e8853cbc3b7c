"""The bulletin lists the open 督办 tasks of its area (issue 12 items 2 and 4): a task opened
through the data layer appears in the Word file with its unit and due date, marked overdue
when its due date has passed; a closed one does not; a street's bulletin lists only the tasks
of that street and its communities."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import docx
import pytest
from click.testing import CliRunner

from core.settings import load_settings
from gongzhi.cli import cli
from metrics.access import Viewer, leader
from warehouse import cycle
from warehouse.engine import open_warehouse

PERIOD = "2025-05"
HANJIANG = "420606001000"  # 汉江街道
QINGHE = "420606005000"  # another street


def _bulletin_text(config: Path, out: Path, *extra: str) -> str:
    res = CliRunner().invoke(cli, ["--config", str(config), "bulletin", "--period", PERIOD,
                                   "--format", "docx", "--out", str(out), *extra])
    assert res.exit_code == 0, res.output
    return "\n".join(p.text for p in docx.Document(str(out)).paragraphs)


@pytest.fixture()
def demo_copy(office_demo: Path, tmp_path: Path) -> Path:
    """The shared demo copied, so the tasks opened here stay out of the other tests."""
    dest = tmp_path / "demo"
    shutil.copytree(office_demo.parent, dest)
    return dest / office_demo.name


def test_open_tasks_of_the_area_are_listed_and_closed_ones_are_not(demo_copy: Path,
                                                                    tmp_path: Path) -> None:
    engine = open_warehouse(load_settings(demo_copy).warehouse_url)
    boss = leader("420606000000", "boss")
    today = dt.date.today()
    late = cycle.open_task(engine, boss, area_code=HANJIANG, area_level="street",
                           area_name="汉江街道", title="网格事件按期结案率整改",
                           due_date=today - dt.timedelta(days=3))
    cycle.open_task(engine, boss, area_code=QINGHE, area_level="street",
                    area_name="清河口街道", title="政务服务网办率整改",
                    due_date=today + dt.timedelta(days=10))
    done = cycle.open_task(engine, boss, area_code=HANJIANG, area_level="street",
                           area_name="汉江街道", title="已办结的事项",
                           due_date=today + dt.timedelta(days=5))
    staff = Viewer("hj", "street_staff", HANJIANG)
    cycle.acknowledge(engine, staff, done)
    cycle.answer(engine, staff, done, "已整改")
    cycle.close(engine, boss, done)
    engine.dispose()

    district = _bulletin_text(demo_copy, tmp_path / "d.docx")
    assert "网格事件按期结案率整改（汉江街道" in district
    assert f"{today - dt.timedelta(days=3)}，已逾期" in district
    assert "政务服务网办率整改（清河口街道" in district
    assert "已办结的事项" not in district
    assert late > 0

    street = _bulletin_text(demo_copy, tmp_path / "s.docx", "--street", "汉江街道")
    assert "网格事件按期结案率整改" in street
    assert "政务服务网办率整改" not in street  # another street's task
