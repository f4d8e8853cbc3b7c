"""Peak memory for ``make bench-ingest``: ``gongzhi ingest`` of one CSV source in a child
process, whose peak resident set size the kernel reports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_ingest_gongzhi import CASES_SOURCE, DIVISIONS_SOURCE, drop_csv, write_config


def peak_rss(csv_path: Path, rows: int, work: Path) -> dict[str, Any]:
    """``gongzhi ingest`` of one ``rows``-row CSV source into a fresh SQLite warehouse, in a
    child process whose peak resident set size the kernel reports (``wait4``)."""
    drop_csv(work, csv_path)
    cfg = write_config(work, f"sqlite:///{work / 'warehouse.db'}")
    gongzhi = str(Path(sys.executable).with_name("gongzhi"))
    subprocess.run([gongzhi, "--config", str(cfg), "ingest", DIVISIONS_SOURCE, "--quiet"],
                   check=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([gongzhi, "--config", str(cfg), "ingest", CASES_SOURCE,
                             "--quiet"])
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"gongzhi ingest of {rows:,} rows exited {proc.returncode}")
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024), "peak_rss_rows": rows,
            "peak_rss_load_s": round(seconds, 1)}
