"""The command line enforces the dashboard's roles and audit: ``gongzhi quarantine`` (raw rows,
person-level) needs a leader's sign-in unless the dashboard is open, staff are refused, every
view, sign-in, failed sign-in and denial is in the audit log; ``gongzhi kpi --user`` is bound
to the account's area and its denials are audited; every failed sign-in gets one answer."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gongzhi.cli import cli
from tests.gongzhi.test_cli import setup
from warehouse import accounts, audit
from warehouse.engine import open_warehouse

LEADER_PW = "district-leader-2024"
STAFF_PW = "hanjiang-staff-2024"
HANJIANG = "420606001000"
FAILED = "error: wrong name or password, or the account is locked or disabled"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """A warehouse with one quarantined row, a leader and a street's staff."""
    config = setup(tmp_path)
    assert CliRunner().invoke(cli, ["--config", str(config), "ingest", "--quiet"]).exit_code == 0
    eng = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    accounts.add_user(eng, "boss", LEADER_PW, "leader", "420606000000")
    accounts.add_user(eng, "hj", STAFF_PW, "street_staff", HANJIANG)
    eng.dispose()
    return config


def gz(cfg: Path, *args: str, password: str | None = None) -> Result:
    env = {"GONGZHI_PASSWORD": password} if password else {"GONGZHI_PASSWORD": ""}
    return CliRunner().invoke(cli, ["--config", str(cfg), *args], env=env,
                              standalone_mode=False, catch_exceptions=True)


def entries(cfg: Path) -> list[dict]:
    eng = open_warehouse(f"sqlite:///{cfg.parent / 'w.db'}")
    try:
        return list(reversed(audit.entries(eng)))  # oldest first
    finally:
        eng.dispose()


def run_main(cfg: Path, *args: str, password: str = "", capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """The console entry point (exit code and stderr as people see them)."""
    from gongzhi.cli import main

    monkeypatch.setenv("GONGZHI_PASSWORD", password)
    monkeypatch.setattr("sys.argv", ["gongzhi", "--config", str(cfg), *args])
    code: int | str | None = 0
    try:
        main()
    except SystemExit as e:
        code = e.code
    return (0 if code is None else int(code)), capsys.readouterr().err


def test_quarantine_needs_a_leader_and_every_view_is_audited(
        cfg: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, err = run_main(cfg, "quarantine", capsys=capsys, monkeypatch=monkeypatch)
    assert code == 1 and "sign-in required" in err and "--user" in err
    code, err = run_main(cfg, "quarantine", "--user", "hj", password=STAFF_PW, capsys=capsys,
                         monkeypatch=monkeypatch)
    assert code == 1 and "leaders only" in err
    code, _ = run_main(cfg, "quarantine", "--user", "boss", "--format", "json",
                       password=LEADER_PW, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0
    log = [(e["username"], e["action"], e["target"], e["row_count"]) for e in entries(cfg)]
    me = f"cli:{getpass.getuser()}"
    assert log == [
        (me, audit.DENIED, "cli:quarantine", 0),
        ("hj", audit.SIGN_IN, "cli:quarantine", 0),
        ("hj", audit.DENIED, "cli:quarantine", 0),
        ("boss", audit.SIGN_IN, "cli:quarantine", 0),
        ("boss", audit.VIEW_ROWS, "cli:quarantine", 1),
    ]
    assert json.loads(entries(cfg)[-1]["filters"])["limit"] == 100


def test_quarantine_in_an_open_config_runs_as_the_district_and_is_audited(
        tmp_path: Path) -> None:
    config = setup(tmp_path)
    config.write_text(config.read_text(encoding="utf-8") + '\n[dashboard]\nsign_in = "open"\n',
                      encoding="utf-8")
    assert gz(config, "ingest", "--quiet").exit_code == 0
    res = gz(config, "quarantine")
    assert res.exit_code == 0 and "missing_value" in res.output
    last = entries(config)[-1]
    assert (last["username"], last["role"], last["action"], last["row_count"]) == (
        f"cli:{getpass.getuser()}", "leader", audit.VIEW_ROWS, 1)


def test_every_failed_cli_sign_in_gets_one_answer_and_is_audited(
        cfg: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    eng = open_warehouse(f"sqlite:///{cfg.parent / 'w.db'}")
    accounts.add_user(eng, "gone", "a-disabled-account-pw", "leader", "420606000000")
    accounts.disable_user(eng, "gone")
    eng.dispose()
    answers = []
    for user, pw in [("boss", "wrong-password-1")] * accounts.MAX_FAILURES + [
            ("boss", LEADER_PW),  # locked now
            ("nobody", "any-password-at-all"), ("gone", "a-disabled-account-pw")]:
        code, err = run_main(cfg, "quarantine", "--user", user, password=pw, capsys=capsys,
                             monkeypatch=monkeypatch)
        answers.append((code, err.strip()))
    assert set(answers) == {(1, FAILED)}
    reasons = [(e["username"], json.loads(e["filters"])["reason"]) for e in entries(cfg)
               if e["action"] == audit.SIGN_IN_FAILED]
    assert reasons[-4:] == [("boss", "wrong_password"), ("boss", "locked"),
                            ("nobody", "unknown_name"), ("gone", "disabled")]


def test_kpi_as_staff_is_bound_to_their_street_and_denials_are_audited(
        cfg: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, _ = run_main(cfg, "kpi", "--user", "hj", "--period", "2024-05", "--format", "json",
                       password=STAFF_PW, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0
    code, err = run_main(cfg, "kpi", "--user", "hj", "--street", "王寨街道", "--period",
                         "2024-05", password=STAFF_PW, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 1 and "may not see" in err
    log = [(e["username"], e["action"], e["target"]) for e in entries(cfg)]
    assert log == [("hj", audit.SIGN_IN, "cli:kpi"), ("hj", audit.SIGN_IN, "cli:kpi"),
                   ("hj", audit.DENIED, "cli:kpi")]
    assert json.loads(entries(cfg)[-1]["filters"])["scope"].endswith("420606002000")
