"""The scheduler's log: timestamped lines on stdout, APScheduler's own warnings stamped the same
way, and the runner's start/finish hooks as such lines (see :mod:`ingest.scheduler`)."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import TextIO

from ingest.progress import Progress


class LineLog:
    """Timestamped lines on stdout (or ``stream``), one write per line across threads."""

    def __init__(self, clock: Callable[[], datetime], stream: TextIO | None):
        self.clock = clock
        self.stream = stream
        self.lock = threading.Lock()

    def __call__(self, message: str) -> None:
        stream = self.stream or sys.stdout  # resolved per call: tests capture stdout
        with self.lock:
            stream.write(f"{self.clock():%Y-%m-%d %H:%M:%S%z} {message}\n")
            stream.flush()


class ZoneFormatter(logging.Formatter):
    """APScheduler's warnings (misfires, skipped instances) stamped like our own lines."""

    def __init__(self, tz: tzinfo):
        super().__init__("%(asctime)s %(name)s %(levelname)s: %(message)s")
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return f"{datetime.fromtimestamp(record.created, self.tz):%Y-%m-%d %H:%M:%S%z}"


class LogProgress(Progress):
    """The runner's start/finish hooks as log lines (with counts); no progress chatter."""

    def __init__(self, log: LineLog, trigger: str):
        super().__init__(enabled=False)
        self.log = log
        self.trigger = trigger

    def start(self, source: str) -> None:
        super().start(source)
        self.log(f"[{source}] {self.trigger} run started")

    def done(self, summary: str) -> None:
        if summary.startswith("warning"):
            self.log(f"[{self._source}] {summary}")
        else:
            self.log(f"[{self._source}] {self.trigger} run {summary}")
