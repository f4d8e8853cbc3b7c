"""The Gongzhi side of ``make bench-ingest``: a config with a ``files`` source, one timed
``Runner.run`` of the CSV, then the same file again (skipped by its hash) and the same rows under
new bytes (merged, nothing changed); optionally one load under cProfile."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy
from sqlalchemy import func, select

from benchmarks.bench_ingest_data import DIVISIONS_CSV
from ingest.progress import Progress
from ingest.registry import load_validated
from ingest.runner import Runner, RunResult
from metrics.rollup import observers_for
from warehouse import partitions
from warehouse.engine import data_version, open_warehouse
from warehouse.schema import service_cases

CASES_SOURCE = "cases"
DIVISIONS_SOURCE = "divs"


class PhaseClock(Progress):
    """Progress that records when the runner enters each phase (it reports them by name)."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.marks: list[tuple[str, float]] = []

    def start(self, source: str) -> None:
        self.marks = [("start", time.perf_counter())]

    def update(self, phase: str, rows: int, *, force: bool = False) -> None:
        if not self.marks or self.marks[-1][0] != phase:
            self.marks.append((phase, time.perf_counter()))

    def done(self, summary: str) -> None:
        self.marks.append(("done", time.perf_counter()))

    def phases(self) -> dict[str, float]:
        """Seconds spent from each mark to the next, named after what the runner did."""
        names = {"start": "extract_and_cast", "read": "dedupe_and_lineage"}
        out: dict[str, float] = {}
        for (name, t), (_, t_next) in zip(self.marks, self.marks[1:], strict=False):
            key = names.get(name, name.split(" ")[0])
            out[key] = round(out.get(key, 0.0) + t_next - t, 3)
        return out


def _toml(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)


def write_config(folder: Path, url: str) -> Path:
    """A config with the official division list and a ``files`` source for the case drops."""
    path = folder / "gongzhi.toml"
    path.write_text("\n".join([
        "[warehouse]", f"url = {_toml(url)}", "",
        "[[sources]]", f"id = {_toml(DIVISIONS_SOURCE)}", 'plugin = "divisions"',
        f"path = {_toml(str(DIVISIONS_CSV))}", "",
        "[[sources]]", f"id = {_toml(CASES_SOURCE)}", 'plugin = "files"',
        'table = "service_cases"', 'path = "inbox/*.csv"', "",
    ]), encoding="utf-8")
    return path


def drop_csv(work: Path, csv_path: Path) -> Path:
    """Put the CSV into a fresh ``work/inbox`` (the ``files`` source's folder); the inbox."""
    inbox = work / "inbox"
    inbox.mkdir(parents=True)
    os.link(csv_path, inbox / "service_cases.csv")  # same bytes, no copy
    return inbox


@dataclass
class GongzhiRun:
    """Timings and outcomes of the Gongzhi side on one engine."""

    engine: str
    rows: int
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    reingest_s: float = 0.0
    reingest_changed_rows: int = 0
    remerge_s: float = 0.0
    remerge_changed_rows: int = 0
    remerge_phases: dict[str, float] = field(default_factory=dict)


def _one(results: list[RunResult]) -> RunResult:
    (r,) = results
    if not r.ok:
        raise SystemExit(f"gongzhi run of {r.source} {r.status}: {r.error}")
    return r


def _rewritten(engine: sqlalchemy.Engine, first_run: int) -> tuple[int, int]:
    """(rows in service_cases, rows whose lineage is not the first load's run)."""
    c = service_cases.c
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(service_cases)).scalar_one()
        other = conn.execute(select(func.count()).select_from(service_cases)
                             .where(c._run_id != first_run)).scalar_one()
    return int(total), int(other)


def _stats_wait() -> float:
    """Seconds until the statistics a PostgreSQL run gathers after its commit (on a thread of
    its own, :func:`warehouse.partitions.refresh_stats`) are done: reported beside the run,
    not in it (its rows are served already), and never overlapping the next timed run."""
    t0 = time.perf_counter()
    partitions.wait_for_stats()
    return round(time.perf_counter() - t0, 3)


def run_gongzhi(label: str, url: str, csv_path: Path, rows: int, work: Path, *,
                before: Callable[[], None] | None = None) -> GongzhiRun:
    """Load divisions (untimed), then the CSV (timed), then re-ingest it twice (timed);
    ``before`` is called just before the first timed run (on PostgreSQL:
    :func:`benchmarks.bench_ingest_pg.prepare`, a checkpoint and, with autovacuum off, a
    VACUUM of the system catalogs)."""
    inbox = drop_csv(work, csv_path)
    settings = load_validated(write_config(work, url))
    engine = open_warehouse(settings.warehouse_url)
    out = GongzhiRun(label, rows)
    try:
        _one(Runner(settings, engine).run([DIVISIONS_SOURCE]))
        # the production path (as `gongzhi ingest`): KPI rollups kept in the same transaction
        observers = observers_for(settings)

        if before is not None:
            before()
        clock = PhaseClock()
        t0 = time.perf_counter()
        first = _one(Runner(settings, engine, progress=clock,
                                   observers=observers).run([CASES_SOURCE]))
        out.seconds = time.perf_counter() - t0
        out.phases = clock.phases()
        out.phases["stats_after_commit"] = _stats_wait()
        if (first.read, first.loaded, first.inserted, first.quarantined) != (rows, rows, rows, 0):
            raise SystemExit(f"gongzhi on {label} did not load every row: {first}")
        total, _ = _rewritten(engine, first.run_id or 0)
        if total != rows:
            raise SystemExit(f"gongzhi on {label}: {total:,} rows in service_cases, not {rows:,}")
        version = data_version(engine)

        # The same file again: recognised by its content hash, nothing is read or written.
        t0 = time.perf_counter()
        again = _one(Runner(settings, engine, observers=observers).run([CASES_SOURCE]))
        out.reingest_s = time.perf_counter() - t0
        total, other = _rewritten(engine, first.run_id or 0)
        out.reingest_changed_rows = again.inserted + again.updated + other + abs(total - rows)
        if again.read != 0 or data_version(engine) != version:
            raise SystemExit(f"gongzhi on {label}: the re-dropped file was not skipped: {again}")

        # The same rows under different bytes (Windows line ends, as a re-export would have):
        # read, cast and merged in full, and the merge finds nothing to change.
        again_bytes = csv_path.read_bytes().replace(b"\n", b"\r\n")
        (inbox / "service_cases_again.csv").write_bytes(again_bytes)
        clock = PhaseClock()
        t0 = time.perf_counter()
        merged = _one(Runner(settings, engine, progress=clock,
                                    observers=observers).run([CASES_SOURCE]))
        out.remerge_s = time.perf_counter() - t0
        out.remerge_phases = clock.phases()
        out.remerge_phases["stats_after_commit"] = _stats_wait()
        total, other = _rewritten(engine, first.run_id or 0)
        out.remerge_changed_rows = merged.inserted + merged.updated + other + abs(total - rows)
        if merged.read != rows or merged.quarantined:
            raise SystemExit(f"gongzhi on {label}: the second file did not read cleanly: {merged}")
    finally:
        engine.dispose()
    return out


def profile_gongzhi(url: str, csv_path: Path, work: Path, out: Path) -> None:
    """One more embedded load under cProfile (its timing is not reported: the profiler slows
    Python-level code); the 40 costliest calls by cumulative time go to ``out``."""
    import cProfile
    import io
    import pstats

    drop_csv(work, csv_path)
    settings = load_validated(write_config(work, url))
    engine = open_warehouse(settings.warehouse_url)
    try:
        _one(Runner(settings, engine).run([DIVISIONS_SOURCE]))
        prof = cProfile.Profile()
        prof.runcall(lambda: _one(Runner(settings, engine).run([CASES_SOURCE])))
    finally:
        engine.dispose()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(40)
    out.write_text(buf.getvalue(), encoding="utf-8")
    print(f"profile of the embedded load written to {out}")
