"""``gongzhi up``: the dashboard and the scheduler as two supervised processes.

Each child runs in a session of its own (a Ctrl-C in the terminal reaches the supervisor only,
which then stops the children in order) and logs to a file of its own. A child that exits
while it should be running is started again after a backoff that doubles from 1 s up to a
minute and starts over once the child has stayed up for a minute. SIGINT or SIGTERM stops
both: SIGTERM to each child (the scheduler lets running loads finish), then a wait; a second
signal kills them at once (runs are all-or-nothing, and the next reader marks a killed run
interrupted). On Linux a child is also told to stop if the supervisor itself dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

PR_SET_PDEATHSIG = 1


def backoff(failures: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Seconds to wait before restarting a child that failed ``failures`` times in a row."""
    return min(cap, base * 2 ** max(0, failures - 1))


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """In a child, before exec: on Linux, ask for SIGTERM when the parent process dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """One supervised process: its command, environment and log file."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float | None = 0.0  # monotonic time of the next start; None: not to restart
    history: list[tuple[int, float]] = field(default_factory=list)  # (exit code, delay)


class Supervisor:
    """Starts the children, restarts them when they exit, stops them on SIGINT/SIGTERM."""

    def __init__(self, children: list[Child], *, say: Callable[[str], None] | None = None,
                 base: float = 1.0, cap: float = 60.0, stable: float = 60.0,
                 stop_timeout: float = 600.0, poll: float = 0.2):
        self.children = children
        self.say = say or _say
        self.base, self.cap, self.stable = base, cap, stable
        self.stop_timeout = stop_timeout
        self.poll = poll
        self.stopping = threading.Event()
        self.killing = threading.Event()
        self._logs: dict[str, IO[bytes]] = {}

    def run(self) -> int:
        """Supervise until :meth:`stop` (or a signal when on the main thread); returns 0."""
        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {s: signal.signal(s, self._on_signal)
                        for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not self.stopping.is_set():
                now = time.monotonic()
                for child in self.children:
                    self._tend(child, now)
                self.stopping.wait(self.poll)
            self._stop_all()
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
            for f in self._logs.values():
                f.close()
        return 0

    def stop(self) -> None:
        """Stop the children (a second call kills them)."""
        if self.stopping.is_set():
            self.killing.set()
        self.stopping.set()

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self.stopping.is_set():
            self.say(f"received {signal.Signals(signum).name} again: killing the processes")
        else:
            self.say(f"received {signal.Signals(signum).name}: stopping the dashboard and the "
                     "scheduler (the scheduler finishes running loads; signal again to kill)")
        self.stop()

    def _tend(self, child: Child, now: float) -> None:
        proc = child.proc
        if proc is not None:
            code = proc.poll()
            if code is None:
                if child.failures and now - child.started >= self.stable:
                    child.failures = 0  # it has stayed up: the next crash starts over
                return
            child.proc = None
            child.failures += 1
            delay = backoff(child.failures, self.base, self.cap)
            child.history.append((code, delay))
            child.restart_at = now + delay
            self.say(f"{child.name} exited with code {code}; restarting in {delay:g} s "
                     f"(log: {child.log})")
            return
        if child.restart_at is not None and now >= child.restart_at:
            self._start(child)

    def _start(self, child: Child) -> None:
        child.log.parent.mkdir(parents=True, exist_ok=True)
        log = self._logs.get(child.name)
        if log is None:
            log = self._logs[child.name] = child.log.open("ab", buffering=0)
        log.write(f"--- {datetime.now().astimezone():%Y-%m-%d %H:%M:%S%z} gongzhi up starts "
                  f"{child.name}: {' '.join(child.argv)}\n".encode())
        child.proc = subprocess.Popen(
            child.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=child.env, cwd=child.cwd, start_new_session=True,
            preexec_fn=die_with_parent)  # only calls prctl: safe between fork and exec
        child.started = time.monotonic()
        child.restart_at = None
        again = f", restart {child.failures}" if child.failures else ""
        self.say(f"{child.name} started (pid {child.proc.pid}{again}); log: {child.log}")

    def _stop_all(self) -> None:
        running = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for c in running:
            self._signal(c, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for c in running:
            assert c.proc is not None
            while c.proc.poll() is None:
                if self.killing.is_set() or time.monotonic() > deadline:
                    self._signal(c, signal.SIGKILL)
                    c.proc.wait()
                    break
                time.sleep(self.poll)
            self.say(f"{c.name} stopped (exit code {c.proc.returncode})")
        for c in self.children:
            c.restart_at = None

    @staticmethod
    def _signal(child: Child, sig: int) -> None:
        """Signal the child's whole process group (a server may have helpers of its own)."""
        assert child.proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.proc.pid, sig)


def _say(message: str) -> None:
    print(f"{datetime.now().astimezone():%Y-%m-%d %H:%M:%S%z} up: {message}", flush=True)
