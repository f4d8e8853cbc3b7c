"""Readers never wait for writers: ``kpi``, ``runs``, ``quarantine``, ``sources`` and the
dashboard check the schema without writing, so they answer while another process holds the
warehouse's write transaction (a merge). Only write commands create or upgrade the schema."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import delete

from tests.conftest import divisions_source, write_config
from tests.ingest.test_faults import _start, _wait_for, cases_source, write_cases
from warehouse.engine import SCHEMA_VERSION, open_warehouse, write_transaction
from warehouse.schema import schema_version

GONGZHI = str(Path(sys.executable).with_name("gongzhi"))
# Generous: a reader that queued behind the merge would wait SQLite's busy timeout (120 s)
# and then fail with "database is locked"; one that does not wait answers in seconds.
WAIT = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_reader_commands_and_the_dashboard_answer_during_a_merge(tmp_path: Path,
                                                                  sqlite_url: str,
                                                                  run_sources) -> None:
    write_cases(tmp_path / "inbox", "a.csv", 500)
    first = run_sources(sqlite_url, [divisions_source(), cases_source()])
    assert all(r.ok for r in first)
    write_cases(tmp_path / "inbox", "b.csv", 500, start=500)
    # open sign-in: `quarantine` runs as the district without an account
    cfg = write_config(tmp_path, sqlite_url, [divisions_source(), cases_source()],
                       extra='[dashboard]\nsign_in = "open"\n')
    writer = _start(cfg, "merging")  # inside BEGIN IMMEDIATE: holds the write lock
    readers: dict[str, subprocess.Popen[str]] = {}
    dashboard: subprocess.Popen[bytes] | None = None
    try:
        _wait_for(writer, "FAULTPOINT merging")
        base = [GONGZHI, "--config", str(cfg)]
        commands = {
            "runs": ["runs", "--format", "json"],
            "kpi": ["kpi", "--period", "2024-05", "--kpi", "gov.case_count", "--format", "json"],
            "quarantine": ["quarantine", "--format", "json"],
            "sources": ["sources", "--format", "json"],
        }
        readers = {name: subprocess.Popen(base + args, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True)
                   for name, args in commands.items()}
        port = free_port()
        dashboard = subprocess.Popen([*base, "serve", "--port", str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, "GONGZHI_CONFIG": str(cfg)},
                                     start_new_session=True)
        out = {}
        for name, proc in readers.items():
            stdout, stderr = proc.communicate(timeout=WAIT)
            assert proc.returncode == 0, f"{name}: {stderr}"
            out[name] = json.loads(stdout)
        health = _health(port, dashboard)
        assert health == "ok"
        assert writer.poll() is None  # the merge was still holding the lock throughout
    finally:
        for p in [*readers.values(), writer]:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        if dashboard is not None:  # `gongzhi serve` stops Streamlit when it is stopped
            dashboard.terminate()
            assert dashboard.wait(60) is not None
            wait_gone(dashboard.pid)
    runs = {r["source"]: r for r in out["runs"] if r["status"] != "running"}
    assert runs["cases"]["loaded"] == 500
    assert next(r["status"] for r in out["runs"] if r["source"] == "cases") == "running"
    [case_count] = out["kpi"]
    assert case_count["value"] == 500  # the committed rows, not the half-merged ones
    assert out["quarantine"] == []
    assert {s["source"] for s in out["sources"]["sources"]} == {"divs", "cases"}


def wait_gone(group: int, timeout: float = 60) -> None:
    """Wait until no process of ``group`` (the server's session) is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(group, 9)
    raise AssertionError("the dashboard's Streamlit process outlived `gongzhi serve`")


def _health(port: int, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"the dashboard exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                        timeout=5) as r:
                return r.read().decode()
        except OSError:
            time.sleep(0.5)
    return "no answer"


def test_a_reader_on_an_old_schema_says_so_and_a_writer_upgrades_it(tmp_path: Path,
                                                                    sqlite_url: str) -> None:
    engine = open_warehouse(sqlite_url)
    with write_transaction(engine) as c:  # as if made by the previous release
        c.execute(delete(schema_version).where(schema_version.c.version >= SCHEMA_VERSION))
    engine.dispose()
    cfg = write_config(tmp_path, sqlite_url, [divisions_source()])
    old = subprocess.run([GONGZHI, "--config", str(cfg), "runs"], capture_output=True,
                         text=True, timeout=WAIT)
    assert old.returncode == 1
    assert "older than this Gongzhi" in old.stderr and "gongzhi ingest" in old.stderr
    assert f"needs {SCHEMA_VERSION}" in old.stderr and "Traceback" not in old.stderr
    ingest = subprocess.run([GONGZHI, "--config", str(cfg), "ingest", "--quiet"],
                            capture_output=True, text=True, timeout=WAIT)
    assert ingest.returncode == 0, ingest.stderr
    again = subprocess.run([GONGZHI, "--config", str(cfg), "runs", "--format", "json"],
                           capture_output=True, text=True, timeout=WAIT)
    assert again.returncode == 0, again.stderr
    assert [r["status"] for r in json.loads(again.stdout)] == ["succeeded"]
