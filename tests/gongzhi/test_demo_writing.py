"""``gongzhi demo`` written afresh: rewriting a previous demo, the bulk-scale file layout, and
the command line end to end (each writes its own demo; none needs the shared loaded one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ConfigError
from gongzhi.demo import cases as demo_cases
from gongzhi.demo import common, write_demo
from ingest.registry import load_validated
from ingest.runner import Runner
from tests.gongzhi.demo_harness import END, PLANTED, SCALE, SEED, decode
from warehouse.engine import open_warehouse


def test_rewriting_replaces_a_previous_demo_and_refuses_other_folders(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    write_demo(root, scale=SCALE, seed=SEED, end=END)
    (root / "warehouse.db").write_bytes(b"old")
    (root / "sources" / "gov" / "cases" / "stale.csv").write_text("x")
    write_demo(root, scale=SCALE, seed=SEED, end=END)
    assert not (root / "warehouse.db").exists()
    assert not (root / "sources" / "gov" / "cases" / "stale.csv").exists()

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "gongzhi.toml").write_text("[warehouse]\nurl = 'sqlite:///x.db'\n")
    with pytest.raises(ConfigError, match="not written by `gongzhi demo`"):
        write_demo(foreign, scale=SCALE, seed=SEED, end=END)
    assert (foreign / "gongzhi.toml").read_text().startswith("[warehouse]")


def test_bulk_scale_layout_splits_files_and_keeps_canonical_headers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At benchmark scales files hold at most MAX_FILE_ROWS rows and, but for the first two,
    use canonical UTF-8 headers; shown here with the limits shrunk."""
    monkeypatch.setattr(common, "MAX_FILE_ROWS", 100)
    monkeypatch.setattr(demo_cases, "BULK_SCALE", 0.01)
    config = write_demo(tmp_path, scale=SCALE, seed=SEED, end=END)
    files = sorted((tmp_path / "sources" / "gov" / "cases").glob("*.csv"))
    assert any("_part2" in f.name for f in files)
    rows = 0
    for i, f in enumerate(files):
        lines = decode(f).splitlines()
        body = lines[3:] if i == 0 else lines[1:]
        assert len(body) <= 100, f.name
        if i > 0:
            assert lines[0].startswith("case_id,"), f.name
        rows += len(body)
    assert rows == round(150_000 * SCALE)
    services = list((tmp_path / "sources" / "volunteer" / "services").glob("*.csv"))
    assert all(len(decode(f).splitlines()) <= 101 for f in services)
    settings = load_validated(config)
    engine = open_warehouse(settings.warehouse_url)
    try:
        result = Runner(settings, engine).run(["divisions", "gov_cases"])[1]
    finally:
        engine.dispose()
    assert result.ok and result.read == rows and result.quarantined == 5


def test_gongzhi_demo_command_then_runs_and_quarantine(tmp_path: Path) -> None:
    """The issue's done-when, through the command line (data up to today)."""
    from click.testing import CliRunner

    from gongzhi.cli import cli

    runner = CliRunner()
    folder = tmp_path / "demo"
    res = runner.invoke(cli, ["demo", "--dir", str(folder), "--scale", str(SCALE), "--quiet"])
    assert res.exit_code == 0, res.output
    config = str(folder / "gongzhi.toml")
    runs = json.loads(runner.invoke(cli, ["--config", config, "runs", "--format",
                                          "json"]).output)
    assert len(runs) == len(load_validated(config).sources) == 33  # one run per source
    assert all(r["status"] == "succeeded" and r["read"] > 0 for r in runs)
    assert all(r["read"] == r["loaded"] + r["quarantined"] + r["duplicates"] for r in runs)
    rows = json.loads(runner.invoke(cli, ["--config", config, "quarantine", "--format",
                                          "json"]).output)
    assert {(r["source"], r["reason"]) for r in rows} == PLANTED
    table = runner.invoke(cli, ["--config", config, "quarantine"]).output
    assert "unknown_community" in table and "420606999999" in table
