"""``gongzhi tasks``: a leader opens a task about a figure (value and definition attached, due
in working days), street staff acknowledge and answer it with an attachment, the leader
closes it; staff of another street neither see nor touch it, and every refusal is audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from core.timezone import to_local
from gongzhi.cli import cli
from metrics.alerts.workdays import add_working_days
from tests.metrics.alert_world import HANJIANG, case_rows, expected_rate, months, write_world
from warehouse import accounts, audit
from warehouse.engine import open_warehouse, utcnow

PW = {"boss": "district-leader-2024", "hj": "hanjiang-staff-2024", "wz": "wangzhai-staff-2024"}


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tasks_cli")
    config = write_world(folder, "[tasks]\ndue_days = 5\nmax_attachment_mb = 0.001\n")
    assert gz(config, "ingest", "--quiet").exit_code == 0
    eng = open_warehouse(f"sqlite:///{folder / 'w.db'}")
    accounts.add_user(eng, "boss", PW["boss"], "leader", "420606000000")
    accounts.add_user(eng, "hj", PW["hj"], "street_staff", HANJIANG)
    accounts.add_user(eng, "wz", PW["wz"], "street_staff", "420606002000")
    eng.dispose()
    return config


def gz(cfg: Path, *args: str, user: str | None = None) -> Result:
    extra = ["--user", user] if user else []
    return CliRunner().invoke(cli, ["--config", str(cfg), *args, *extra],
                              env={"GONGZHI_PASSWORD": PW.get(user or "", "")})


def listed(cfg: Path, user: str, *args: str) -> list[dict]:
    res = gz(cfg, "tasks", "list", "--format", "json", *args, user=user)
    assert res.exit_code == 0, res.output
    return json.loads(res.output[res.output.index("["):])


def test_open_answer_close_through_the_command_line(cfg: Path, tmp_path: Path) -> None:
    p, q = months()
    res = gz(cfg, "tasks", "open", "--street", "汉江街道", "--kpi", "gov.online_case_rate",
             "--period", p.label, "--note", "请于期限内整改并反馈", user="boss")
    assert res.exit_code == 0, res.output
    tid = int(res.output.split("#")[1].split()[0])
    [task] = [t for t in listed(cfg, "boss") if t["id"] == tid]
    assert task["area_code"] == HANJIANG and task["status"] == "open"
    assert task["value"] == pytest.approx(expected_rate(case_rows(p, q), HANJIANG, p))
    assert (task["target"], task["figure_status"], task["period"]) == (0.6, "red", p.label)
    opened = to_local(utcnow()).date()
    assert task["due_date"] == add_working_days(None, opened, 5).isoformat()
    assert "网办率" in task["title"] and task["created_by"] == "boss"

    # the other street's staff: not listed, and every move refused (and audited)
    assert tid not in [t["id"] for t in listed(cfg, "wz")]
    for args in (["ack", str(tid)], ["answer", str(tid), "--note", "x"],
                 ["close", str(tid)], ["return", str(tid), "--reason", "x"]):
        res = gz(cfg, "tasks", *args, user="wz")
        assert res.exit_code != 0 and "no task" in str(res.exception), res.output
    eng = open_warehouse(f"sqlite:///{cfg.parent / 'w.db'}")
    denials = [e for e in audit.entries(eng) if e["username"] == "wz"
               and e["action"] == "denied"]
    assert len(denials) == 4

    assert tid in [t["id"] for t in listed(cfg, "hj", "--mine", "assigned")]
    assert gz(cfg, "tasks", "ack", str(tid), user="hj").exit_code == 0
    big = tmp_path / "big.pdf"
    big.write_bytes(b"x" * 5000)  # over the 0.001 MB limit of this config
    res = gz(cfg, "tasks", "answer", str(tid), "--note", "x", "--attach", str(big), user="hj")
    assert res.exit_code != 0 and "limit" in str(res.exception)
    small = tmp_path / "整改台账.pdf"
    small.write_bytes(b"%PDF-1.4 small")
    res = gz(cfg, "tasks", "answer", str(tid), "--note", "已整改：窗口引导网办",
             "--attach", str(small), user="hj")
    assert res.exit_code == 0, res.output
    res = gz(cfg, "tasks", "close", str(tid), user="hj")
    assert res.exit_code != 0 and "leader" in str(res.exception)
    out = tmp_path / "copy.pdf"
    assert gz(cfg, "tasks", "attachment", str(tid), "--out", str(out),
              user="boss").exit_code == 0
    assert out.read_bytes() == b"%PDF-1.4 small"
    assert gz(cfg, "tasks", "close", str(tid), user="boss").exit_code == 0
    [task] = [t for t in listed(cfg, "boss", "--mine", "issued") if t["id"] == tid]
    assert (task["status"], task["answer"], task["attachment_name"]) == (
        "closed", "已整改：窗口引导网办", "整改台账.pdf")
    actions = [e["action"] for e in reversed(audit.entries(eng))
               if e["target"] == f"task:{tid}"]
    eng.dispose()
    assert actions == ["task_open", "task_ack", "task_answer", "task_attachment",
                       "task_close"]


def test_without_a_sign_in_tasks_are_refused(cfg: Path) -> None:
    res = gz(cfg, "tasks", "list")
    assert res.exit_code != 0 and "sign-in required" in str(res.exception)
    table = gz(cfg, "tasks", "list", user="boss")
    assert table.exit_code == 0 and "责任单位" in table.output
