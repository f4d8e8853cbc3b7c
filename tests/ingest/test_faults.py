"""Runs are all-or-nothing: failures and SIGKILL at every stage leave the warehouse as before,
the next run completes, and readers in other processes keep working during a write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingest.registry import load_validated
from ingest.runner import Runner
from tests.conftest import divisions_source, write_config
from warehouse import runlog
from warehouse.engine import open_warehouse
from warehouse.schema import ingest_runs, quarantine, service_cases

GONGZHI = str(Path(sys.executable).with_name("gongzhi"))
HEADER = "case_id,item_code,community_code,channel,submitted_at,completed_at,status,visits,rating"


def write_cases(folder: Path, name: str, n: int, start: int = 0, bad_every: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [HEADER]
    for i in range(start, start + n):
        code = "420606999999" if bad_every and i % bad_every == 0 else "420606001001"
        lines.append(f"C{i:07d},I1,{code},online,2024-05-0{1 + i % 9} 10:00:00,,accepted,0,")
    p = folder / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def cases_source() -> dict:
    return {"id": "cases", "plugin": "files", "table": "service_cases", "path": "inbox/*.csv"}


def count(url: str, table=service_cases) -> int:
    eng = open_warehouse(url)
    with eng.connect() as c:
        n = c.execute(select(func.count()).select_from(table)).scalar_one()
    eng.dispose()
    return n


def test_a_failing_file_keeps_nothing_from_the_run(tmp_path: Path, warehouse_url: str,
                                                   run_sources) -> None:
    write_cases(tmp_path / "inbox", "a.csv", 50, bad_every=10)
    bad = tmp_path / "inbox" / "b.csv"
    bad.write_bytes(HEADER.encode() + b"\n\xff\xfe\xfd\n")
    results = run_sources(warehouse_url, [divisions_source(), cases_source()])
    r = results[1]
    assert not r.ok and "b.csv" in r.error
    assert count(warehouse_url) == 0
    assert count(warehouse_url, quarantine) == 0  # the quarantine is part of the run, too
    eng = open_warehouse(warehouse_url)
    assert runlog.get_cursor(eng, "cases") is None
    bad.unlink()
    again = run_sources(warehouse_url, [divisions_source(), cases_source()], ids=["cases"])[0]
    assert again.ok and (again.loaded, again.quarantined) == (45, 5)


def _start(config: Path, point: str, url_env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "GONGZHI_FAULTPOINT": point, **(url_env or {})}
    return subprocess.Popen([GONGZHI, "--config", str(config), "ingest", "cases", "--quiet"],
                            stderr=subprocess.PIPE, text=True, env=env)


def _wait_for(proc: subprocess.Popen, marker: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if marker in line:
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"process ended before {marker}: rc={proc.returncode}")
    raise AssertionError(f"timeout waiting for {marker}")


@pytest.mark.parametrize("point", ["after_extract", "staged", "merging", "before_cursor",
                                   "before_commit"])
def test_sigkill_at_each_stage_leaves_the_warehouse_as_before(tmp_path: Path, warehouse_url: str,
                                                              run_sources, point: str) -> None:
    write_cases(tmp_path / "inbox", "a.csv", 2000)
    first = run_sources(warehouse_url, [divisions_source(), cases_source()])
    assert all(r.ok for r in first) and count(warehouse_url) == 2000
    cursor_before = runlog.get_cursor(open_warehouse(warehouse_url), "cases")

    write_cases(tmp_path / "inbox", "b.csv", 3000, start=1000)  # 1000 updates, 2000 new
    proc = _start(tmp_path / "gongzhi.toml", point)
    _wait_for(proc, f"FAULTPOINT {point}")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)

    assert count(warehouse_url) == 2000
    eng = open_warehouse(warehouse_url)
    assert runlog.get_cursor(eng, "cases") == cursor_before
    r = run_sources(warehouse_url, [divisions_source(), cases_source()], ids=["cases"])[0]
    assert r.ok, r.error
    assert (r.read, r.inserted) == (3000, 2000)
    assert count(warehouse_url) == 4000
    with eng.connect() as c:
        statuses = [row.status for row in c.execute(
            select(ingest_runs.c.status).where(ingest_runs.c.source == "cases")
            .order_by(ingest_runs.c.run_id))]
    assert statuses == ["succeeded", "interrupted", "succeeded"]  # the killed run is marked
    eng.dispose()


def test_readers_in_another_process_are_served_during_a_write(tmp_path: Path, sqlite_url: str,
                                                              run_sources) -> None:
    write_cases(tmp_path / "inbox", "a.csv", 500)
    run_sources(sqlite_url, [divisions_source(), cases_source()])
    write_cases(tmp_path / "inbox", "b.csv", 500, start=500)
    writer = _start(tmp_path / "gongzhi.toml", "merging")  # holds the write transaction
    try:
        _wait_for(writer, "FAULTPOINT merging")
        reader = subprocess.run(
            [sys.executable, "-c",
             "import sys, time; from warehouse.engine import make_engine;"
             "from sqlalchemy import text; e = make_engine(sys.argv[1]); t = time.monotonic();"
             "c = e.connect(); n = c.execute(text('select count(*) from service_cases')).scalar();"
             "print(n, round(time.monotonic() - t, 3))", sqlite_url],
            capture_output=True, text=True, timeout=20, cwd=Path(__file__).parents[2])
        assert reader.returncode == 0, reader.stderr
        n, secs = reader.stdout.split()
        assert int(n) == 500  # the committed state, not the half-merged one
        assert float(secs) < 2.0
    finally:
        writer.kill()
        writer.wait(10)


def test_manual_run_during_a_running_load_is_refused_not_doubled(tmp_path: Path,
                                                                 warehouse_url: str,
                                                                 run_sources) -> None:
    write_cases(tmp_path / "inbox", "a.csv", 300)
    run_sources(warehouse_url, [divisions_source()])
    cfg = write_config(tmp_path, warehouse_url, [divisions_source(), cases_source()])
    writer = _start(cfg, "staged")
    try:
        _wait_for(writer, "FAULTPOINT staged")
        settings = load_validated(cfg)
        eng = open_warehouse(settings.warehouse_url)
        r = Runner(settings, eng).run(["cases"])[0]
        assert r.status == "skipped" and "being loaded" in r.error
        assert count(warehouse_url) == 0
    finally:
        writer.kill()
        writer.wait(10)
    r = Runner(settings, eng).run(["cases"])[0]
    assert r.ok and r.loaded == 300


def test_full_disk_fails_the_run_clearly_and_keeps_nothing(tmp_path: Path, sqlite_url: str,
                                                           run_sources) -> None:
    """SQLite's max_page_count raises the same SQLITE_FULL a full disk does."""
    from sqlalchemy import event

    run_sources(sqlite_url, [divisions_source()])
    write_cases(tmp_path / "inbox", "a.csv", 20_000)
    cfg = write_config(tmp_path, sqlite_url, [divisions_source(), cases_source()])
    settings = load_validated(cfg)
    eng = open_warehouse(settings.warehouse_url)
    with eng.connect() as c:
        pages = c.exec_driver_sql("PRAGMA page_count").scalar()

    @event.listens_for(eng, "connect")
    def _cap(dbapi_conn, _rec) -> None:  # a disk with room for a few more pages only
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 20}")

    eng.dispose()
    r = Runner(settings, eng).run(["cases"])[0]
    assert not r.ok and "disk is full" in r.error
    assert count(sqlite_url) == 0
    event.remove(eng, "connect", _cap)
    eng.dispose()
    again = Runner(settings, eng).run(["cases"])[0]
    assert again.ok and again.loaded == 20_000


def test_read_only_warehouse_gives_a_clear_error(tmp_path: Path, sqlite_url: str,
                                                 run_sources) -> None:
    run_sources(sqlite_url, [divisions_source()])
    db = sqlite_url.removeprefix("sqlite:///")
    ro = f"sqlite:///file:{db}?mode=ro&uri=true"
    cfg = write_config(tmp_path, ro, [divisions_source()])
    out = subprocess.run([GONGZHI, "--config", str(cfg), "ingest", "--quiet"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "read-only" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.serial  # restarts the shared PostgreSQL server
@pytest.mark.postgres
def test_postgresql_restarted_during_a_run(tmp_path: Path, pg_schema_url: str,
                                           run_sources) -> None:
    """The server goes away mid-merge: that run fails cleanly, the next one completes."""
    import shutil

    assert shutil.which("pg_ctlcluster"), "pg_ctlcluster is needed to restart the server"
    write_cases(tmp_path / "inbox", "a.csv", 3000)
    run_sources(pg_schema_url, [divisions_source()])
    cfg = write_config(tmp_path, pg_schema_url, [divisions_source(), cases_source()])
    go_on = tmp_path / "continue"
    proc = _start(cfg, "merging", {"GONGZHI_FAULTPOINT_CONTINUE": str(go_on)})
    try:
        _wait_for(proc, "FAULTPOINT merging")
        version = os.listdir("/etc/postgresql")[0]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main",
                        "restart"], check=True, timeout=120)
        go_on.touch()
        assert proc.wait(120) == 1
        err = proc.stderr.read() if proc.stderr else ""
        assert "connection to the warehouse server was lost" in err, err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
    assert count(pg_schema_url) == 0
    r = run_sources(pg_schema_url, [divisions_source(), cases_source()], ids=["cases"])[0]
    assert r.ok and r.loaded == 3000
