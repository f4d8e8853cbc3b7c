"""督办 in a real headless Chromium against ``gongzhi serve``: a leader opens a task from the
red card of 汉江街道, the street's staff member acknowledges and answers it (with a file), the
leader closes it; the other street's staff cannot open it by URL; counts and the alert log
show on their pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metrics.access import leader
from tests.dashboard import browser
from tests.metrics.alert_world import HANJIANG, months, write_world
from warehouse import accounts, audit, cycle
from warehouse.engine import open_warehouse

pytestmark = pytest.mark.browser
PW = {"boss": "district-leader-2024", "hj": "hanjiang-staff-2024", "wz": "wangzhai-staff-2024"}


@pytest.fixture(scope="module", autouse=True)
def _need_browser() -> None:
    browser.require_browser()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("e2e_tasks")
    cfg = write_world(folder, """
[[alerts]]
id = "red_cards"
rule = "kpi_red"
kpis = ["gov.online_case_rate"]
""")
    from click.testing import CliRunner

    from gongzhi.cli import cli

    res = CliRunner().invoke(cli, ["--config", str(cfg), "ingest", "--quiet"])
    assert res.exit_code == 0, res.output
    eng = open_warehouse(f"sqlite:///{folder / 'w.db'}")
    accounts.add_user(eng, "boss", PW["boss"], "leader", "420606000000", "区领导")
    accounts.add_user(eng, "hj", PW["hj"], "street_staff", HANJIANG, "汉江街道 小王")
    accounts.add_user(eng, "wz", PW["wz"], "street_staff", "420606002000")
    eng.dispose()
    return cfg


@pytest.fixture(scope="module")
def server(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("e2e_tasks_log") / "serve.log"
    with browser.serve(world, log=log) as (base, _):
        yield base


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser.chromium() as b:
        yield b


def _page(chromium: Any, base: str, user: str, path: str) -> tuple[Any, Any]:
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1100}, locale="zh-CN")
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{base}/{path}")
    page.get_by_role("heading", name="登录共治").wait_for()
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(PW[user])
    page.get_by_role("button", name="登录", exact=True).click()
    return ctx, page


def test_leader_opens_a_task_from_a_red_card_staff_answer_leader_closes(
        chromium: Any, server: str, world: Path, tmp_path: Path) -> None:
    p, _ = months()
    engine = open_warehouse(f"sqlite:///{world.parent / 'w.db'}")
    boss = leader("420606000000", "boss")

    ctx, page = _page(chromium, server, "boss", f"?period={p.label}&street={HANJIANG}")
    card = page.locator(".st-key-card_gov_online_case_rate")
    card.get_by_role("button", name="督办").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("责任单位：汉江街道").wait_for()
    dialog.get_by_label("督办要求").fill("请分析网办率偏低原因并整改")
    dialog.get_by_role("button", name="确认发起").click()
    dialog.get_by_text("已发起督办任务").wait_for()
    [task] = cycle.list_tasks(engine, boss)
    assert (task["area_code"], task["kpi"], task["period"], task["origin"]) == (
        HANJIANG, "gov.online_case_rate", p.label, "card")
    assert task["figure_status"] == "red" and task["note"] == "请分析网办率偏低原因并整改"
    tid = task["id"]
    page.keyboard.press("Escape")
    page.goto(f"{server}/?period={p.label}")
    page.locator(".st-key-task_counts").get_by_text("督办中 1 项").wait_for()
    ctx.close()

    # another street's staff: the task is not listed, and its URL is refused
    ctx, page = _page(chromium, server, "wz", f"tasks?task={tid}")
    page.get_by_text("无权查看该督办任务").wait_for()
    page.get_by_text("暂无督办任务").wait_for()
    assert page.get_by_text(task["title"]).count() == 0
    ctx.close()

    ctx, page = _page(chromium, server, "hj", "tasks")
    box = page.locator(f".st-key-task_{tid}")
    page.get_by_text(task["title"]).click()
    box.get_by_role("button", name="签收").click()
    page.get_by_text("已完成：签收").wait_for()
    page.get_by_text(task["title"]).click()
    box = page.locator(f".st-key-task_{tid}")
    box.get_by_label("整改说明").fill("已约谈窗口负责人，增设网办引导员")
    attachment = tmp_path / "整改台账.pdf"
    attachment.write_bytes(b"%PDF-1.4 rectification")
    box.locator('input[type="file"]').set_input_files(str(attachment))
    box.get_by_text("整改台账.pdf").wait_for()
    box.get_by_role("button", name="提交反馈").click()
    page.get_by_text("已完成：提交反馈").wait_for()
    assert cycle.get_task(engine, boss, tid)["status"] == "answered"
    ctx.close()

    ctx, page = _page(chromium, server, "boss", f"tasks?task={tid}")
    box = page.locator(f".st-key-task_{tid}")
    box.get_by_text("已约谈窗口负责人，增设网办引导员").wait_for()
    box.get_by_role("button", name="办结").click()
    page.get_by_text("已完成：办结").wait_for()
    done = cycle.get_task(engine, boss, tid)
    assert (done["status"], done["answered_by"], done["closed_by"], done["attachment_name"]) == (
        "closed", "hj", "boss", "整改台账.pdf")
    page.goto(f"{server}/alerts")
    page.get_by_text("汉江街道 网办率").first.wait_for()  # the alert the ingestion raised
    ctx.close()
    trail = [(e["username"], e["action"]) for e in reversed(audit.entries(engine))
             if e["target"] == f"task:{tid}"]
    engine.dispose()
    assert trail == [("boss", "task_open"), ("hj", "task_ack"), ("hj", "task_answer"),
                     ("boss", "task_close")]
