"""Run a command through a small launcher process and report the command's own peak RSS.

Why a launcher: the kernel's ``ru_maxrss`` of a child (``wait4``) also counts the peak of the
memory image the child ran in before its ``exec`` — with ``fork`` or ``vfork`` that is the
parent's, at its own high-water mark. A benchmark that generated a big CSV in memory (5 GB
for 10M rows) and then started ``gongzhi ingest`` saw the child "peak" at 5,308 MB although
the child never went over ~710 MB. Started from this launcher (a bare interpreter of ~10 MB,
exec'd fresh), the command's ``ru_maxrss`` is its own.

``python -m benchmarks.own_peak OUT.json -- CMD ARG…`` runs ``CMD`` with the launcher's
stdin/stdout/stderr, forwards SIGTERM and SIGINT to it, writes ``{"maxrss_kb": …,
"returncode": …}`` to ``OUT.json`` and exits with the command's exit code. This module
imports only the standard library so the launcher stays small."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path


def launcher_argv(out: Path, cmd: list[str]) -> list[str]:
    """The argv that runs ``cmd`` through the launcher, its peak going to ``out``."""
    return [sys.executable, "-m", "benchmarks.own_peak", str(out), "--", *cmd]


def read_peak_kb(out: Path) -> int | None:
    """The command's own peak RSS in KiB, as the launcher wrote it (None if it did not)."""
    try:
        return int(json.loads(out.read_text(encoding="utf-8"))["maxrss_kb"])
    except (OSError, ValueError, KeyError):
        return None


def main(argv: list[str] | None = None) -> int:
    """Launcher entry point (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m benchmarks.own_peak OUT.json -- CMD [ARG…]", file=sys.stderr)
        return 2
    out, cmd = Path(args[0]), args[2:]
    proc = subprocess.Popen(cmd)

    def forward(signum: int, _frame: object) -> None:
        # the benchmark stops a load by signalling the launcher: the command must get it
        proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while True:
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped here: Popen must not wait for it again
    out.write_text(json.dumps({"maxrss_kb": usage.ru_maxrss, "returncode": code}) + "\n",
                   encoding="utf-8")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    raise SystemExit(main())
