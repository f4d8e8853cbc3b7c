"""督办 tasks in the data layer: the whole cycle (open → acknowledge → answer → send back →
answer → close), due dates in working days on the official calendar, overdue tasks, access
(staff see and act only inside their area, only leaders open/close/return), attachments
stored safely, every move audited — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from metrics.access import Viewer, leader
from metrics.alerts.workdays import add_working_days
from warehouse import audit, cycle

HANJIANG, HJ_COMMUNITY, WANGZHAI = "420606001000", "420606001001", "420606002000"
BOSS = leader("420606000000", "boss")
HJ = Viewer("hj", "street_staff", HANJIANG)
HJ_C = Viewer("gaozhuang", "community_staff", HJ_COMMUNITY)
WZ = Viewer("wz", "street_staff", WANGZHAI)


def _open(engine: Engine, area: str = HANJIANG, level: str = "street",
          due: dt.date | None = None) -> int:
    return cycle.open_task(engine, BOSS, area_code=area, area_level=level, area_name=area,
                           title="网办率整改", due_date=due or dt.date(2030, 1, 10),
                           figure=cycle.Figure(kpi="gov.online_case_rate", value=0.25,
                                               target=0.6, period="2026-11", unit="ratio"),
                           origin="card")


def test_the_cycle_with_a_return_is_audited_step_by_step(engine: Engine) -> None:
    tid = _open(engine)
    assert cycle.acknowledge(engine, HJ, tid)["status"] == "acknowledged"
    assert cycle.answer(engine, HJ, tid, "已约谈窗口负责人，网办引导上岗")["status"] == "answered"
    with pytest.raises(cycle.TaskDenied):  # staff cannot close their own task
        cycle.close(engine, HJ, tid)
    back = cycle.send_back(engine, BOSS, tid, "未附整改台账")
    assert (back["status"], back["returned_reason"]) == ("returned", "未附整改台账")
    with pytest.raises(cycle.TaskError, match="is returned"):
        cycle.close(engine, BOSS, tid)
    cycle.answer(engine, HJ, tid, "补充整改台账")
    done = cycle.close(engine, BOSS, tid)
    assert done["status"] == "closed" and done["closed_by"] == "boss"
    row = cycle.get_task(engine, BOSS, tid)
    assert (row["answer"], row["returns"], row["acknowledged_by"]) == ("补充整改台账", 1, "hj")
    trail = [(e["username"], e["action"]) for e in reversed(audit.entries(engine))
             if e["target"] == f"task:{tid}"]
    assert trail == [("boss", "task_open"), ("hj", "task_ack"), ("hj", "task_answer"),
                     ("boss", "task_return"), ("hj", "task_answer"), ("boss", "task_close")]
    assert cycle.open_tasks_of_area(engine, HANJIANG) == []


def test_staff_see_and_act_only_inside_their_own_area(engine: Engine) -> None:
    street_task = _open(engine)
    community_task = _open(engine, HJ_COMMUNITY, "community")
    other = _open(engine, WANGZHAI)
    assert {t["id"] for t in cycle.list_tasks(engine, HJ)} == {street_task, community_task}
    assert {t["id"] for t in cycle.list_tasks(engine, HJ_C)} == {community_task}
    assert {t["id"] for t in cycle.list_tasks(engine, WZ)} == {other}
    assert len(cycle.list_tasks(engine, BOSS)) == 3
    # a URL's street narrows a leader's list; it never widens a staff member's
    assert {t["id"] for t in cycle.list_tasks(engine, WZ, area_prefix="420606001")} == set()
    assert {t["id"] for t in cycle.list_tasks(engine, BOSS, area_prefix="420606002")} == {other}
    assert cycle.list_tasks(engine, WZ, area_prefix="4206%") == []
    for move, args in ((cycle.get_task, ()), (cycle.acknowledge, ()),
                       (cycle.answer, ("x",)), (cycle.close, ()), (cycle.send_back, ("x",))):
        with pytest.raises(cycle.TaskDenied):
            move(engine, WZ, street_task, *args)
        with pytest.raises(cycle.TaskDenied):
            move(engine, HJ_C, street_task, *args)  # the street's task is above the community
    with pytest.raises(cycle.TaskDenied):
        cycle.open_task(engine, HJ, area_code=HANJIANG, area_level="street", area_name="x",
                        title="t", due_date=dt.date(2030, 1, 1))
    assert cycle.get_task(engine, BOSS, street_task)["status"] == "open"  # nothing moved
    assert cycle.open_counts(engine, HJ) == {"open": 2, "overdue": 0, "answered": 0}
    assert cycle.open_counts(engine, BOSS)["open"] == 3


def test_overdue_tasks_turn_red_and_answered_ones_do_not(engine: Engine) -> None:
    today = dt.date(2030, 3, 4)
    late = _open(engine, due=dt.date(2030, 3, 3))
    answered = _open(engine, due=dt.date(2030, 3, 3))
    cycle.answer(engine, HJ, answered, "done")
    on_time = _open(engine, due=today)
    by_id = {t["id"]: t for t in cycle.list_tasks(engine, BOSS, today=today)}
    assert (by_id[late]["overdue"], by_id[answered]["overdue"], by_id[on_time]["overdue"]) == (
        True, False, False)
    assert [t["id"] for t in cycle.overdue_tasks(engine, today)] == [late]
    assert cycle.open_counts(engine, BOSS, today) == {"open": 3, "overdue": 1, "answered": 1}
    listed = cycle.open_tasks_of_area(engine, HANJIANG, today=today)
    assert [t["id"] for t in listed] == [late, answered, on_time]


def test_due_dates_count_working_days_on_the_official_calendar() -> None:
    # 2024-09-27 (Fri) + 3 working days: Sept 29 (Sun) is a make-up working day, then the
    # National Day holiday runs Oct 1-7, Oct 12 (Sat) works: 29 Sep, 30 Sep, 8 Oct
    assert add_working_days(None, dt.date(2024, 9, 27), 3) == dt.date(2024, 10, 8)
    assert add_working_days(None, dt.date(2024, 9, 27), 0) == dt.date(2024, 9, 27)
    # an ordinary week: Mon + 5 = next Mon
    assert add_working_days(None, dt.date(2024, 11, 4), 5) == dt.date(2024, 11, 11)


def test_attachments_are_size_and_type_limited_and_stored_under_their_own_name(
        engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "att"
    tid = _open(engine)
    with pytest.raises(cycle.TaskError, match="limit"):
        cycle.store_attachment(folder, "a.pdf", b"x" * 2001, max_bytes=2000, types=("pdf",))
    with pytest.raises(cycle.TaskError, match="not accepted"):
        cycle.store_attachment(folder, "run.sh", b"#!/bin/sh", max_bytes=2000, types=("pdf",))
    stored = cycle.store_attachment(folder, "../../etc/整改台账.pdf", b"%PDF-1.4 ok",
                                    max_bytes=2000, types=("pdf",))
    assert stored.name == "整改台账.pdf" and "/" not in stored.file
    assert [p.name for p in folder.iterdir()] == [stored.file]
    assert (folder / stored.file).stat().st_mode & 0o077 == 0
    cycle.answer(engine, HJ, tid, "见附件", stored)
    assert cycle.read_attachment(engine, HJ, tid, folder) == ("整改台账.pdf", b"%PDF-1.4 ok")
    with pytest.raises(cycle.TaskDenied):
        cycle.read_attachment(engine, WZ, tid, folder)
    last = audit.entries(engine, limit=1)[0]
    assert (last["action"], json.loads(last["filters"])["attachment"]) == (
        "task_attachment", "整改台账.pdf")
