"""Peak memory and disk of ``gongzhi ingest`` of one CSV source, run in a child process.

``make bench-ingest`` calls :func:`peak_rss` for its 10M-row source. Run alone
(``python -m benchmarks.bench_ingest_rss --rows 100000000``, ``make bench-ingest-big``) it loads
one big file (generated once under ``benchmarks/data``, a slice at a time) into a fresh
warehouse on SQLite or in a private PostgreSQL schema and reports to
``benchmarks/out/ingest_big_<rows>_<engine>.json``: wall time, CPU time, peak RSS (``gongzhi
ingest`` itself, from ``wait4`` through a launcher, and the whole process tree, sampled from
``/proc``), the warehouse's disk (file, WAL and scratch file at their peaks, or the schema's
relations on PostgreSQL), the run log's counts and whether rows read = loaded + quarantined +
duplicates."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text

from benchmarks.bench_ingest_data import OUT_DIR, ROOT, cases_csv
from benchmarks.bench_ingest_gongzhi import CASES_SOURCE, DIVISIONS_SOURCE, drop_csv, write_config
from benchmarks.bench_ingest_pg import pg_schema, schema_url
from benchmarks.own_peak import launcher_argv, read_peak_kb
from tests.dashboard import browser
from warehouse.schema import ingest_runs

MB = 2**20


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants now (0 once it has ended); the same
    /proc reading as the dashboard benchmarks' (tests/dashboard/browser.py)."""
    return browser.rss_kb(pid) * 1024


def sqlite_disk(db: Path) -> dict[str, int]:
    """Bytes of the warehouse file, its WAL (or rollback journal) and the runs' scratch files."""
    sizes = {"db": 0, "wal": 0, "stage": 0}
    for p in db.parent.glob(f"{db.name}*"):
        try:
            n = p.stat().st_size
        except FileNotFoundError:
            continue
        kind = ("db" if p == db else "wal" if p.name.endswith(("-wal", "-journal"))
                else "stage" if "-stage-" in p.name else None)
        if kind:
            sizes[kind] += n
    return sizes


def pg_disk(url: str) -> Callable[[], dict[str, int]]:
    """Bytes of the relations (tables with their indexes and TOAST) in the URL's schema, split
    into the run's scratch tables and the rest."""
    engine = create_engine(url)

    def sizes() -> dict[str, int]:
        with engine.connect() as c:
            rows = c.execute(text(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')")).all()
        stage = sum(int(n) for name, n in rows if name.startswith("_stage_"))
        return {"db": sum(int(n) for _, n in rows) - stage, "stage": stage}

    return sizes


class Phases:
    """Follows the child's progress lines (``[source] phase: N rows (…)``): the rows read so
    far and when each phase began; prints the ones that are not the once-a-second count."""

    LINE = re.compile(r"^\[[^\]]+\] ([^:]+): ([\d,]+) rows")

    def __init__(self, stream: Any, t0: float, *, echo_every: float = 60.0):
        self.t0, self.echo_every = t0, echo_every
        self.read = 0
        self.began: dict[str, float] = {}  # phase -> seconds after the start
        self.summary = ""
        self._thread = threading.Thread(target=self._follow, args=(stream,), daemon=True)
        self._thread.start()

    def _follow(self, stream: Any) -> None:
        echoed = 0.0
        for raw in stream:
            line = raw.rstrip("\n")
            now = time.perf_counter() - self.t0
            m = self.LINE.match(line)
            if m is None:
                self.summary = line or self.summary
                print(f"  {line}", flush=True)
                continue
            phase, rows = m.group(1), int(m.group(2).replace(",", ""))
            self.began.setdefault(phase, round(now, 1))
            if phase == "read":
                self.read = rows
            if phase != "read" or now - echoed >= self.echo_every:
                echoed = now
                print(f"  {line} at {now:,.0f} s", flush=True)

    def join(self) -> None:
        self._thread.join(timeout=10)


class Sampler:
    """Samples the child's process tree RSS and the warehouse's disk every ``every`` seconds
    (keeping each peak) and prints a line every ``report`` seconds while the load runs. A load
    whose warehouse outgrows ``max_disk`` bytes, or that runs past ``max_seconds``, is stopped
    (SIGTERM; ``stopped`` says why): the disk is shared and a benchmark must not fill it."""

    def __init__(self, pid: int, disk: Callable[[], dict[str, int]], *, every: float = 0.5,
                 report: float = 60.0, max_disk: float = float("inf"),
                 max_seconds: float = float("inf"), min_free: float = 0.0, where: Path = ROOT):
        self.pid, self.disk, self.every, self.report = pid, disk, every, report
        self.max_disk, self.max_seconds, self.min_free, self.where = (max_disk, max_seconds,
                                                                      min_free, where)
        self.peak_rss = 0
        self.peak_disk: dict[str, int] = {}
        self.peak_total = 0
        self.stopped: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        t0 = last = time.monotonic()
        disk_every, disk_at = max(self.every, 5.0), 0.0  # the database is asked less often
        while not self._stop.wait(self.every):
            rss = tree_rss(self.pid)
            self.peak_rss = max(self.peak_rss, rss)
            now = time.monotonic()
            if now - disk_at >= disk_every:
                disk_at = now
                try:
                    sizes = self.disk()
                except Exception:  # a schema busy being created or dropped: next time
                    continue
                for k, v in sizes.items():
                    self.peak_disk[k] = max(self.peak_disk.get(k, 0), v)
                self.peak_total = max(self.peak_total, sum(sizes.values()))
                free = shutil.disk_usage(self.where).free
                why = (f"warehouse disk {sum(sizes.values()) / MB:,.0f} MB over the limit"
                       if sum(sizes.values()) > self.max_disk else
                       f"free disk down to {free / MB:,.0f} MB" if free < self.min_free else
                       f"time limit of {self.max_seconds:,.0f} s"
                       if now - t0 > self.max_seconds else None)
                if self.stopped is None and why is not None:
                    self.stopped = why
                    print(f"  stopping the load: {self.stopped}", flush=True)
                    os.kill(self.pid, signal.SIGTERM)
                if now - last >= self.report:
                    last = now
                    print(f"  {now - t0:,.0f} s: tree RSS {rss / MB:,.0f} MB (peak "
                          f"{self.peak_rss / MB:,.0f}), disk "
                          + ", ".join(f"{k} {v / MB:,.0f} MB" for k, v in sizes.items())
                          + f", load {os.getloadavg()[0]:.1f}", flush=True)


def run_counts(url: str) -> dict[str, Any]:
    """The run log's counts for the cases source's last run."""
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            r = c.execute(select(ingest_runs).where(ingest_runs.c.source == CASES_SOURCE)
                          .order_by(ingest_runs.c.run_id.desc()).limit(1)).mappings().one()
    finally:
        engine.dispose()
    counts = {k: int(r[f"rows_{k}"]) for k in ("read", "loaded", "quarantined", "duplicate")}
    balances = counts["read"] == counts["loaded"] + counts["quarantined"] + counts["duplicate"]
    # a run stopped before its commit has counted nothing yet: no balance to speak of
    return {"status": r["status"], "error": r["error"], **counts,
            "read_balances": balances if r["status"] == "succeeded" else None}


def peak_rss(csv_path: Path, rows: int, work: Path, url: str | None = None, *,
             quiet: bool = True, report: float = 60.0, max_disk: float = float("inf"),
             max_seconds: float = float("inf"), min_free: float = 0.0) -> dict[str, Any]:
    """``gongzhi ingest`` of one ``rows``-row CSV source into a fresh warehouse (a SQLite file
    in ``work`` unless ``url`` says otherwise), in a child process: its peak resident set size
    as the kernel reports it (``wait4`` through :mod:`benchmarks.own_peak`) and as sampled over
    its process tree, wall and CPU time, the warehouse's peak disk and the run log's counts. A
    load stopped by ``max_disk`` (bytes), ``max_seconds`` or the free disk falling under
    ``min_free`` (bytes) reports how far it got (``stopped``) instead."""
    drop_csv(work, csv_path)
    db = work / "warehouse.db"
    url = url or f"sqlite:///{db}"
    cfg = write_config(work, url)
    gongzhi = str(Path(sys.executable).with_name("gongzhi"))
    subprocess.run([gongzhi, "--config", str(cfg), "ingest", DIVISIONS_SOURCE, "--quiet"],
                   check=True)
    disk = pg_disk(url) if url.startswith("postgresql") else lambda: sqlite_disk(db)
    t0 = time.perf_counter()
    # through the launcher: wait4's ru_maxrss of a child started from this process would
    # count this process's own peak too (benchmarks.own_peak)
    own = work / "own_peak.json"
    own.unlink(missing_ok=True)
    proc = subprocess.Popen(launcher_argv(own, [gongzhi, "--config", str(cfg), "ingest",
                                                CASES_SOURCE, *(["--quiet"] if quiet else [])]),
                            stderr=None if quiet else subprocess.PIPE, text=True)
    phases = None if quiet else Phases(proc.stderr, t0, echo_every=report)
    with Sampler(proc.pid, disk, report=report, max_disk=max_disk, max_seconds=max_seconds,
                 min_free=min_free, where=work) as sampler:
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if phases is not None:
        phases.join()
    counts = run_counts(url)
    progress: dict[str, Any] = {}
    if phases is not None:
        # the last progress line of a stopped run; the run log's count of a finished one
        read = counts["read"] if counts["status"] == "succeeded" else phases.read
        progress = {"phases_began_s": phases.began, "rows_read_seen": read}
        start, end = phases.began.get("read"), min(
            [t for p, t in phases.began.items() if p != "read"], default=seconds)
        if start is not None and end > start:  # the streaming phase's own rate
            progress["read_rows_per_s"] = round(read / (end - start))
    if sampler.stopped is None and (proc.returncode != 0 or counts["status"] != "succeeded"):
        raise RuntimeError(f"gongzhi ingest of {rows:,} rows exited {proc.returncode}: "
                           f"{counts['status']} {counts['error'] or ''}")
    return {"stopped": sampler.stopped, **progress,
            "peak_rss_mb": round((read_peak_kb(own) or usage.ru_maxrss) / 1024),
            "peak_rss_rows": rows,
            "peak_rss_load_s": round(seconds, 1),
            "peak_rss_tree_mb": round(sampler.peak_rss / MB),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_disk_mb": {k: round(v / MB) for k, v in sampler.peak_disk.items()},
            "peak_disk_total_mb": round(sampler.peak_total / MB),
            "final_disk_mb": {k: round(v / MB) for k, v in disk().items()},
            "counts": counts}


def main(argv: list[str] | None = None) -> int:
    """Command line of ``make bench-ingest-big``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000_000, help="rows in the CSV")
    p.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--min-free-gb", type=float, default=10.0,
                   help="stop the load when the disk's free space falls under this")
    p.add_argument("--max-disk-gb", type=float, default=40.0,
                   help="stop the load when the warehouse (with its WAL and scratch) outgrows "
                        "this; the report then says how far it got")
    p.add_argument("--max-minutes", type=float, default=float("inf"),
                   help="stop the load after this long; the report says how far it got")
    p.add_argument("--drop-data", action="store_true",
                   help="remove the generated CSV afterwards (it is cached otherwise)")
    a = p.parse_args(argv)
    csv_path = cases_csv(a.rows)
    csv_mb = round(csv_path.stat().st_size / MB)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    work = OUT_DIR / f"work-big-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    schema = f"bench_big_{uuid.uuid4().hex[:10]}" if a.engine == "postgresql" else None
    before = os.getloadavg()
    print(f"gongzhi ingest of {a.rows:,} rows ({csv_mb:,} MB) into "
          f"{a.engine}, load average {before[0]:.1f} …", flush=True)
    try:
        if schema:
            pg_schema(True, schema)
        result = peak_rss(csv_path, a.rows, work, schema_url(schema) if schema else None,
                          quiet=False, max_disk=a.max_disk_gb * 2**30,
                          max_seconds=a.max_minutes * 60, min_free=a.min_free_gb * 2**30)
    finally:
        if schema:
            pg_schema(False, schema)
        for f in sorted(work.rglob("*"), reverse=True):
            f.unlink() if not f.is_dir() else f.rmdir()
        work.rmdir()
        if a.drop_data:
            csv_path.unlink(missing_ok=True)
    result = {"rows": a.rows, "engine": a.engine, "csv_mb": csv_mb, **result,
              "rows_per_s": None if result["stopped"] else round(
                  a.rows / result["peak_rss_load_s"]),
              "load_average": {"before": round(before[0], 2),
                               "after": [round(x, 2) for x in os.getloadavg()]},
              "machine": {"nproc": os.cpu_count(), "python": platform.python_version()}}
    out = OUT_DIR / f"ingest_big_{a.rows}_{a.engine}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
