"""The peak RSS of ``gongzhi ingest`` must be the command's own: ``wait4``'s ``ru_maxrss`` of a
child also counts the peak of the process that started it (how ``make bench-ingest`` once
reported 5,308 MB for a load that never went over ~710 MB). The figures here are checked
against allocations of known size, not against the code's own output."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.own_peak import launcher_argv, read_peak_kb

MB = 1024  # ru_maxrss is in KiB
PARENT_MB = 400  # what this process touches before starting the child
CHILD_MB = 150  # what the child touches itself


def _allocate(mb: int) -> str:
    # bytes(n) of a fresh bytearray are zero pages until written: write them so they count
    return f"b = bytearray({mb} * 2**20)\nfor i in range(0, len(b), 4096): b[i] = 1\n"


def _raw_maxrss_kb(cmd: list[str]) -> int:
    proc = subprocess.Popen(cmd)
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return int(usage.ru_maxrss)


def test_the_launcher_reports_the_child_alone_after_a_big_parent(tmp_path: Path) -> None:
    ballast = bytearray(PARENT_MB * 2**20)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    idle = [sys.executable, "-c", "pass"]
    # the mechanism itself: started straight from this process, the idle child "peaks" at
    # this process's size
    assert _raw_maxrss_kb(idle) >= PARENT_MB * MB
    out = tmp_path / "peak.json"
    done = subprocess.run(launcher_argv(out, idle), check=False)
    assert done.returncode == 0
    idle_kb = read_peak_kb(out)
    assert idle_kb is not None and idle_kb < 100 * MB
    busy = [sys.executable, "-c", _allocate(CHILD_MB)]
    subprocess.run(launcher_argv(out, busy), check=True)
    busy_kb = read_peak_kb(out)
    assert busy_kb is not None
    assert CHILD_MB * MB <= busy_kb < (CHILD_MB + 100) * MB
    del ballast


def test_the_launcher_passes_the_exit_code_and_a_stop_signal(tmp_path: Path) -> None:
    out = tmp_path / "peak.json"
    failed = subprocess.run(launcher_argv(out, [sys.executable, "-c", "raise SystemExit(3)"]),
                            check=False)
    assert failed.returncode == 3
    sleeper = subprocess.Popen(launcher_argv(out, [sys.executable, "-c",
                                                   "import time; time.sleep(60)"]))
    # the benchmark stops a load by signalling the launcher: the command must stop too
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not _has_child(sleeper.pid):
        time.sleep(0.05)
    sleeper.terminate()
    assert sleeper.wait(timeout=20) != 0
    assert read_peak_kb(out) is not None


def _has_child(pid: int) -> bool:
    try:
        return bool(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    except OSError:
        return False
