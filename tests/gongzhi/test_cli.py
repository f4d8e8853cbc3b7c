"""The command line: exit codes, JSON shapes of DESIGN §7, readable tables."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from gongzhi.cli import cli
from tests.conftest import divisions_source, write_config

GONGZHI = str(Path(sys.executable).with_name("gongzhi"))
RUN_KEYS = {"run_id", "source", "status", "started_at", "finished_at", "read", "loaded",
            "quarantined", "duplicates", "error"}


def setup(tmp_path: Path, bad_file: bool = False) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text(
        "certificate_id,name,status,changed_at\nZM1,户籍证明,取消,2022-03-01\n"
        "ZM2,无犯罪记录证明,保留,2022-03-01\nZM3,,保留,2022-03-01\n", encoding="utf-8")
    if bad_file:
        (inbox / "b.csv").write_bytes(b"certificate_id,name\n\xff\xfe,x\n")
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", [
        divisions_source(),
        {"id": "certs", "plugin": "files", "table": "certificates", "path": "inbox/*.csv"},
    ])


def test_ingest_then_runs_json_and_quarantine(tmp_path: Path) -> None:
    cfg = setup(tmp_path)
    runner = CliRunner()
    res = runner.invoke(cli, ["--config", str(cfg), "ingest"])
    assert res.exit_code == 0, res.output
    assert "[certs] succeeded: read 3, loaded 2" in res.output
    res = runner.invoke(cli, ["--config", str(cfg), "runs", "--format", "json"])
    runs = json.loads(res.output)
    assert {r["source"] for r in runs} == {"divs", "certs"}
    assert all(set(r) == RUN_KEYS for r in runs)
    certs = next(r for r in runs if r["source"] == "certs")
    assert (certs["read"], certs["loaded"], certs["quarantined"]) == (3, 2, 1)
    assert certs["started_at"].endswith("Z")  # UTC, said so
    from warehouse import accounts
    from warehouse.engine import open_warehouse

    eng = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    accounts.add_user(eng, "boss", "district-leader-2024", "leader", "420606000000")
    eng.dispose()
    res = runner.invoke(cli, ["--config", str(cfg), "quarantine", "--user", "boss"],
                        env={"GONGZHI_PASSWORD": "district-leader-2024"})
    assert "row 4, column name" in res.output and "missing_value" in res.output
    table = runner.invoke(cli, ["--config", str(cfg), "runs"]).output
    assert "数据源" in table and "certs" in table


def test_failed_source_exits_non_zero_and_says_why(tmp_path: Path) -> None:
    cfg = setup(tmp_path, bad_file=True)
    out = subprocess.run([GONGZHI, "--config", str(cfg), "ingest", "--quiet"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "source certs failed" in out.stderr and "b.csv" in out.stderr
    assert "Traceback" not in out.stderr


def test_config_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "gongzhi.toml"
    cfg.write_text('[[sources]]\nid = "x"\nplugin = "files"\n', encoding="utf-8")
    out = subprocess.run([GONGZHI, "--config", str(cfg), "ingest"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert "'table' is required" in out.stderr and "path" in out.stderr
    assert "Traceback" not in out.stderr


def test_config_after_the_command_means_the_same(tmp_path: Path) -> None:
    cfg = setup(tmp_path)
    runner = CliRunner()
    res = runner.invoke(cli, ["ingest", "--config", str(cfg), "--quiet"])
    assert res.exit_code == 0, res.output
    before = runner.invoke(cli, ["--config", str(cfg), "runs", "--format", "json"]).output
    after = runner.invoke(cli, ["runs", "--format", "json", "--config", str(cfg)]).output
    assert json.loads(before) == json.loads(after) and len(json.loads(after)) == 2
    # nested commands too; the later option wins over the one before the command
    res = runner.invoke(cli, ["--config", str(tmp_path / "missing.toml"), "users", "list",
                              "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "username" in res.output
