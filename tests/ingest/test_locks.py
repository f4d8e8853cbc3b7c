"""At most one run of a source ever commits (real processes): a live holder keeps its lock
however long its heartbeat is held up; a run whose lock was taken over (from another host, or
after its PostgreSQL lock connection was lost) is refused at commit by the fence. Killed runs
are shown and marked ``interrupted`` by the next reader of the run log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from tests.conftest import divisions_source, write_config
from tests.ingest.test_faults import write_cases
from warehouse.engine import open_warehouse, utcnow
from warehouse.schema import ingest_locks, ingest_runs, quarantine, service_cases

GONGZHI = str(Path(sys.executable).with_name("gongzhi"))
LEASE = "[scheduler]\nlease_seconds = 1\n"  # heartbeats every 1/3 s; expiry in a second
ROWS, BAD = 300, 30  # every tenth row names an unknown community: quarantined


def cases() -> dict:
    return {"id": "cases", "plugin": "files", "table": "service_cases", "path": "inbox/*.csv"}


@pytest.fixture
def setup(tmp_path: Path, run_sources) -> Callable[[str], tuple[Path, Engine]]:
    """``setup(url)``: divisions loaded, a cases file waiting; returns the config and an
    engine for looking on."""
    engines: list[Engine] = []

    def make(url: str) -> tuple[Path, Engine]:
        assert all(r.ok for r in run_sources(url, [divisions_source()]))
        write_cases(tmp_path / "inbox", "a.csv", ROWS, bad_every=10)
        cfg = write_config(tmp_path, url, [divisions_source(), cases()], LEASE)
        engines.append(open_warehouse(url))
        return cfg, engines[-1]

    yield make
    for e in engines:
        e.dispose()


class Proc:
    """A ``gongzhi`` process; ``point`` makes it wait at that fault point until ``go()``."""

    def __init__(self, cfg: Path, *args: str, point: str | None = None,
                 prefix: tuple[str, ...] = ()):
        self.go_file = cfg.parent / f"go-{time.monotonic_ns()}"
        env = {**os.environ}
        if point:
            env |= {"GONGZHI_FAULTPOINT": point,
                    "GONGZHI_FAULTPOINT_CONTINUE": str(self.go_file)}
        self.p = subprocess.Popen([*prefix, GONGZHI, "--config", str(cfg), *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env)
        self.point = point

    def wait_point(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        assert self.p.stderr is not None
        while time.monotonic() < deadline:
            line = self.p.stderr.readline()
            if f"FAULTPOINT {self.point}" in line:
                return
            if not line and self.p.poll() is not None:
                raise AssertionError(f"ended before {self.point}: {self.p.returncode}")
        raise AssertionError(f"timeout waiting for {self.point}")

    def go(self) -> None:
        self.go_file.touch()

    def finish(self, timeout: float = 300) -> tuple[int, str]:
        _, err = self.p.communicate(timeout=timeout)
        return self.p.returncode, err

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    made: list[Proc] = []
    yield made
    for p in made:
        with_cont = p.p.poll() is None
        if with_cont:
            os.kill(p.p.pid, signal.SIGCONT)
        p.kill()


def wait_until(check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def lease_expired(engine: Engine) -> bool:
    with engine.connect() as c:
        exp = c.execute(select(ingest_locks.c.expires_at)
                        .where(ingest_locks.c.source == "cases")).scalar_one_or_none()
    return exp is not None and exp < utcnow()


def outcome(engine: Engine) -> tuple[int, int, list[tuple[str, str]]]:
    """(rows loaded, rows quarantined, [(status, error)] of the cases runs)."""
    with engine.connect() as c:
        n = c.execute(select(func.count()).select_from(service_cases)).scalar_one()
        q = c.execute(select(func.count()).select_from(quarantine)
                      .where(quarantine.c.source == "cases")).scalar_one()
        runs = [(r.status, r.error or "") for r in c.execute(
            select(ingest_runs.c.status, ingest_runs.c.error)
            .where(ingest_runs.c.source == "cases").order_by(ingest_runs.c.run_id))]
    return n, q, runs


def test_a_live_holder_whose_heartbeat_another_writer_blocks_keeps_its_lock(
        sqlite_url: str, setup, procs: list[Proc], tmp_path: Path) -> None:
    """The probe's scenario: another process's merge holds SQLite's write lock longer than
    the lease, so the holder cannot renew it; that process then asks for the same source.
    It must be refused (the holder is alive), not take over and load the rows a second time.
    (Before the fix this double load needed B to win a race with A's blocked heartbeat once
    the merge ended; the paused holder below shows the same defect without a race.)"""
    _, engine = setup(sqlite_url)
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "c.csv").write_text("certificate_id,name,status,changed_at\n"
                                              "C1,营业执照,retained,2024-01-02\n")
    certs = {"id": "certs", "plugin": "files", "table": "certificates", "path": "certs/*.csv"}
    cfg = write_config(tmp_path, sqlite_url, [divisions_source(), certs, cases()], LEASE)
    a = Proc(cfg, "ingest", "cases", "--quiet", point="staged")
    procs.append(a)
    a.wait_point()
    # B loads certs, then cases; its certs merge holds the write lock, blocking A's heartbeat
    b = Proc(cfg, "ingest", "certs", "cases", "--quiet", point="merging")
    procs.append(b)
    b.wait_point()
    wait_until(lambda: lease_expired(engine))  # A could not renew: its lease ran out
    b.go()  # B commits certs and at once asks for the cases lock
    code_b, err_b = b.finish()
    a.go()
    code_a, err_a = a.finish()
    assert code_a == 0, err_a
    assert code_b == 1 and "source cases skipped" in err_b and "being loaded by" in err_b, err_b
    n, q, runs = outcome(engine)
    assert (n, q) == (ROWS - BAD, BAD)  # loaded once, quarantined once
    assert [s for s, _ in runs] == ["succeeded", "skipped"]


def test_a_paused_holder_past_its_lease_is_not_taken_over(sqlite_url: str, setup,
                                                          procs: list[Proc]) -> None:
    cfg, engine = setup(sqlite_url)
    a = Proc(cfg, "ingest", "cases", "--quiet", point="staged")
    procs.append(a)
    a.wait_point()
    os.kill(a.p.pid, signal.SIGSTOP)  # alive, but its heartbeat stops (a paused VM, swap)
    wait_until(lambda: lease_expired(engine))
    b = Proc(cfg, "ingest", "cases", "--quiet")
    procs.append(b)
    code_b, err_b = b.finish()
    os.kill(a.p.pid, signal.SIGCONT)
    a.go()
    code_a, err_a = a.finish()
    assert code_b == 1 and "being loaded by" in err_b, err_b
    assert code_a == 0, err_a
    n, q, runs = outcome(engine)
    assert (n, q) == (ROWS - BAD, BAD)
    assert [s for s, _ in runs] == ["succeeded", "skipped"]  # A's run row came first


def test_a_takeover_from_another_host_is_fenced_at_the_old_holders_commit(
        sqlite_url: str, setup, procs: list[Proc]) -> None:
    """A holder on another host cannot be seen, so its expired lease is taken over; the old
    holder, resuming, is refused at commit: the rows are loaded and quarantined once."""
    cfg, engine = setup(sqlite_url)
    a = Proc(cfg, "ingest", "cases", "--quiet", point="staged")
    procs.append(a)
    a.wait_point()
    os.kill(a.p.pid, signal.SIGSTOP)
    wait_until(lambda: lease_expired(engine))
    # B runs in a UTS namespace of its own: another host name, as a second machine would be
    b = Proc(cfg, "ingest", "cases", "--quiet",
             prefix=("unshare", "--uts", "sh", "-c", 'hostname gongzhi-other && exec "$@"', "-"))
    procs.append(b)
    code_b, err_b = b.finish()
    assert code_b == 0, err_b
    os.kill(a.p.pid, signal.SIGCONT)
    a.go()
    code_a, err_a = a.finish()
    assert code_a == 1 and "lost its lock" in err_a, err_a
    n, q, runs = outcome(engine)
    assert (n, q) == (ROWS - BAD, BAD)
    assert [s for s, _ in runs] == ["failed", "succeeded"]
    assert "lost its lock" in runs[0][1]
    with engine.connect() as c:
        hosts = c.execute(select(ingest_runs.c.host).order_by(ingest_runs.c.run_id)).scalars()
        assert list(hosts)[-1] == "gongzhi-other"


@pytest.mark.postgres
def test_a_run_whose_postgresql_lock_connection_was_lost_is_fenced(pg_schema_url: str, setup,
                                                                    procs: list[Proc]) -> None:
    from warehouse.locks import _advisory_key, _space

    cfg, engine = setup(pg_schema_url)
    a = Proc(cfg, "ingest", "cases", "--quiet", point="staged")
    procs.append(a)
    a.wait_point()
    with engine.connect() as c:  # the server drops A's lock connection (a network cut)
        space = c.execute(select(_space())).scalar_one() & 0xFFFFFFFF
        pids = c.execute(text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 "
            "AND objid::bigint = :k AND classid::bigint = :s"),
            {"k": _advisory_key("cases"), "s": space}).scalars().all()
        assert len(pids) == 1
        c.execute(select(func.pg_terminate_backend(pids[0])))
    b = Proc(cfg, "ingest", "cases", "--quiet")
    procs.append(b)
    code_b, err_b = b.finish()
    assert code_b == 0, err_b
    a.go()
    code_a, err_a = a.finish()
    assert code_a == 1 and "lost its lock" in err_a, err_a
    n, q, runs = outcome(engine)
    assert (n, q) == (ROWS - BAD, BAD)
    assert [s for s, _ in runs] == ["failed", "succeeded"]


def runs_json(cfg: Path) -> list[dict]:
    out = subprocess.run([GONGZHI, "--config", str(cfg), "runs", "--format", "json"],
                         capture_output=True, text=True, timeout=200)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def stored_status(engine: Engine, run_id: int) -> str:
    with engine.connect() as c:
        return c.execute(select(ingest_runs.c.status)
                         .where(ingest_runs.c.run_id == run_id)).scalar_one()


def test_killed_runs_are_marked_interrupted_by_the_next_reader(
        warehouse_url: str, setup, procs: list[Proc], tmp_path: Path) -> None:
    cfg, engine = setup(warehouse_url)
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "c.csv").write_text("certificate_id,name,status,changed_at\n"
                                              "C1,营业执照,retained,2024-01-02\n")
    cfg = write_config(tmp_path, warehouse_url, [
        divisions_source(), cases(),
        {"id": "certs", "plugin": "files", "table": "certificates", "path": "certs/*.csv"}],
        LEASE)
    killed = Proc(cfg, "ingest", "cases", "--quiet", point="staged")
    procs.append(killed)
    killed.wait_point()
    killed.p.send_signal(signal.SIGKILL)
    killed.p.wait(10)
    # another run is alive and merging (on SQLite it holds the write lock meanwhile)
    alive = Proc(cfg, "ingest", "certs", "--quiet", point="merging")
    procs.append(alive)
    alive.wait_point()

    rows = {r["source"]: r for r in runs_json(cfg) if r["source"] in ("cases", "certs")}
    assert rows["cases"]["status"] == "interrupted"
    assert "interrupted" in rows["cases"]["error"]
    assert rows["certs"]["status"] == "running"  # alive: never marked
    assert stored_status(engine, rows["certs"]["run_id"]) == "running"
    if warehouse_url.startswith("sqlite"):  # the reader did not wait for the merge to write
        assert stored_status(engine, rows["cases"]["run_id"]) == "running"
    alive.go()
    assert alive.finish()[0] == 0
    again = {r["source"]: r for r in runs_json(cfg)}
    assert again["certs"]["status"] == "succeeded"
    assert stored_status(engine, rows["cases"]["run_id"]) == "interrupted"  # written now


def test_the_scheduler_marks_runs_it_finds_interrupted_at_start(
        sqlite_url: str, setup, procs: list[Proc], capsys: pytest.CaptureFixture[str]) -> None:
    from ingest.registry import load_validated
    from ingest.scheduler import SchedulerService

    cfg, engine = setup(sqlite_url)
    killed = Proc(cfg, "ingest", "cases", "--quiet", point="after_extract")
    procs.append(killed)
    killed.wait_point()
    killed.p.send_signal(signal.SIGKILL)
    killed.p.wait(10)
    with engine.connect() as c:
        run_id = c.execute(select(func.max(ingest_runs.c.run_id))).scalar_one()
    assert stored_status(engine, run_id) == "running"
    svc = SchedulerService(load_validated(cfg), engine)
    try:
        svc.start()
    finally:
        svc.shutdown()
    assert stored_status(engine, run_id) == "interrupted"
    assert f"run {run_id} was interrupted" in capsys.readouterr().out
