"""Progress on the terminal for long runs: one line per source, rewritten in place on a TTY."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Prints ``[source] phase: rows (rows/s)`` at most every ``every`` seconds."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True, every: float = 1.0):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.every = every
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._source = ""
        self._start = time.monotonic()
        self._last = 0.0
        self._dirty = False

    def start(self, source: str) -> None:
        self._source = source
        self._start = time.monotonic()
        self._last = 0.0

    def update(self, phase: str, rows: int, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        elapsed = max(now - self._start, 1e-6)
        line = f"[{self._source}] {phase}: {rows:,} rows ({rows / elapsed:,.0f} rows/s)"
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            self._dirty = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self, summary: str) -> None:
        self.note(f"[{self._source}] {summary}")

    def note(self, line: str) -> None:
        """A line of its own about the batch (not a source's), e.g. how sources are run."""
        if not self.enabled:
            return
        if self.tty and self._dirty:
            self.stream.write("\r\x1b[2K")
        self._dirty = False
        self.stream.write(line + "\n")
        self.stream.flush()
