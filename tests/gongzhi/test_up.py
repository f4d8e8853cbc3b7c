"""``gongzhi up`` (what ``make demo`` runs): the dashboard and the scheduler as two supervised
processes, tried with real processes: both start and say where they log, a run requested the
way the dashboard's 立即运行 does is served, a killed process is started again, and Ctrl-C
(SIGINT) or SIGTERM stops both."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gongzhi.supervise import Child, Supervisor, backoff
from tests.conftest import write_config
from warehouse import runlog
from warehouse.engine import open_warehouse

GONGZHI = str(Path(sys.executable).with_name("gongzhi"))
REPO = Path(__file__).resolve().parents[2]
CERTS = "certificate_id,name,status,changed_at\nC1,营业执照,retained,2024-01-02\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class Up:
    """A running ``gongzhi up`` whose output lines are collected in the background."""

    def __init__(self, cfg: Path, port: int, logs: Path):
        self.proc = subprocess.Popen(
            [GONGZHI, "--config", str(cfg), "up", "--port", str(port), "--log-dir", str(logs)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={k: v for k, v in os.environ.items() if k != "GONGZHI_CONFIG"})
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def pids(self, name: str) -> list[int]:
        """The pids ``name`` was started with, in order."""
        return [int(m.group(1)) for line in self.lines
                if (m := re.search(rf"up: {name} started \(pid (\d+)", line))]

    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Callable[[], tuple[Up, int, Path]]]:
    started: list[Up] = []

    def start() -> tuple[Up, int, Path]:
        (tmp_path / "certs").mkdir(exist_ok=True)
        (tmp_path / "certs" / "c.csv").write_text(CERTS, encoding="utf-8")
        cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", [
            {"id": "certs", "plugin": "files", "table": "certificates", "path": "certs/*.csv"}],
            '[scheduler]\npoll_seconds = 0.5\n[dashboard]\nsign_in = "open"\n')
        port = free_port()
        u = Up(cfg, port, tmp_path / "logs")
        started.append(u)
        return u, port, cfg

    yield start
    for u in started:
        if u.proc.poll() is None:
            u.proc.kill()
            u.proc.wait(10)
        for name in ("scheduler", "dashboard"):
            for pid in u.pids(name):
                with_suppress_kill(pid)


def with_suppress_kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as r:
            return r.read() == b"ok"
    except OSError:
        return False


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"  # exited; its parent has not reaped it yet


def served(engine, request_id: int) -> int | None:
    for r in runlog.pending_requests(engine):
        if r["id"] == request_id and r["run_id"]:
            return int(r["run_id"])
    return None


def test_up_runs_both_restarts_a_killed_one_and_stops_on_ctrl_c(up, tmp_path: Path) -> None:
    u, port, _ = up()
    logs = tmp_path / "logs"
    wait_for(lambda: u.pids("scheduler") and u.pids("dashboard"), "both processes")
    wait_for(lambda: healthy(port), "the dashboard to answer")
    sched_log = logs / "scheduler.log"
    wait_for(lambda: "scheduler started" in sched_log.read_text(), "the scheduler")
    out = u.text()
    assert f"dashboard: http://127.0.0.1:{port} (log: {logs / 'dashboard.log'})" in out
    assert f"(log: {sched_log})" in out

    engine = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    first = runlog.request_run(engine, "certs", requested_by="office")  # 立即运行
    wait_for(lambda: served(engine, first) is not None, "the run-now request")

    [sched] = u.pids("scheduler")
    os.kill(sched, signal.SIGKILL)
    wait_for(lambda: len(u.pids("scheduler")) == 2, "the scheduler to be restarted")
    assert "scheduler exited with code -9; restarting in 1 s" in u.text()
    wait_for(lambda: sched_log.read_text().count("scheduler started") == 2, "a new scheduler")
    second = runlog.request_run(engine, "certs", requested_by="office")
    wait_for(lambda: served(engine, second) is not None, "a request to the new scheduler")

    [dash] = u.pids("dashboard")
    os.kill(dash, signal.SIGKILL)
    wait_for(lambda: len(u.pids("dashboard")) == 2, "the dashboard to be restarted")
    wait_for(lambda: healthy(port), "the restarted dashboard to answer")

    u.proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert u.proc.wait(120) == 0
    u.reader.join(10)
    out = u.text()
    assert "received SIGINT: stopping" in out
    assert "scheduler stopped (exit code 0)" in out and "dashboard stopped" in out
    assert all(gone(p) for p in u.pids("scheduler") + u.pids("dashboard"))
    assert "scheduler stopped" in sched_log.read_text()  # it shut down cleanly, not killed
    assert not healthy(port)
    runs = runlog.list_runs(engine, source="certs")
    assert [(r["trigger"], r["status"]) for r in runs] == [("request", "succeeded")] * 2
    engine.dispose()


def test_up_stops_both_on_sigterm(up) -> None:
    u, port, _ = up()
    wait_for(lambda: u.pids("scheduler") and u.pids("dashboard"), "both processes")
    wait_for(lambda: healthy(port), "the dashboard to answer")
    u.proc.send_signal(signal.SIGTERM)
    assert u.proc.wait(120) == 0
    u.reader.join(10)
    assert "received SIGTERM" in u.text()
    assert all(gone(p) for p in u.pids("scheduler") + u.pids("dashboard"))


def test_a_crashing_child_is_restarted_with_a_doubling_backoff(tmp_path: Path) -> None:
    said: list[str] = []
    crash = Child("crasher", [sys.executable, "-c", "import sys; sys.exit(3)"],
                  tmp_path / "crasher.log")
    sup = Supervisor([crash], say=said.append, base=0.05, cap=0.2, poll=0.01)
    runner = threading.Thread(target=sup.run)
    runner.start()
    try:
        wait_for(lambda: len(crash.history) >= 5, "five crashes", timeout=60)
    finally:
        sup.stop()
        runner.join(30)
    assert [code for code, _ in crash.history[:5]] == [3] * 5
    assert [d for _, d in crash.history[:5]] == [0.05, 0.1, 0.2, 0.2, 0.2]
    assert crash.log.read_text().count("gongzhi up starts crasher") >= 5
    assert any("crasher exited with code 3; restarting in 0.1 s" in s for s in said)
    assert [backoff(n) for n in (1, 2, 3, 7, 8)] == [1, 2, 4, 60, 60]
