"""What a run gathers and reports: :class:`RunResult` (one source's run, as logged), what it
collected per table (rows staged, quarantined rows held or spilled to scratch files), and the
run log's error and summary texts."""

from __future__ import annotations

import contextlib
import os
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field

import polars as pl

from core import privacy
from core.errors import GongzhiError
from ingest.chunk_keys import ChunkKeys
from ingest.contract import Snapshot
from warehouse import runlog
from warehouse.engine import explain


@dataclass
class RunResult:
    """What one source's run did; mirrors its row in ``ingest_runs``."""

    source: str
    run_id: int | None
    status: str
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    inserted: int = 0
    updated: int = 0
    retired: int = 0
    deleted: int = 0  # rows the source flagged deleted ([sources.delete_flag])
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Not a failure: succeeded, or found no input (a warning, unless required)."""
        return self.status in (runlog.SUCCEEDED, runlog.NO_INPUT)


@dataclass
class _Collected:
    """What a run gathered for one table. Cast rows go to scratch tables chunk by chunk
    (``good`` only holds rows not staged yet, e.g. a reprocess run's); quarantined rows stay in
    memory up to a chunk's worth, then go to scratch files until the run's transaction."""

    good: list[pl.DataFrame] = field(default_factory=list)
    bad: list[pl.DataFrame] = field(default_factory=list)
    deleted: list[pl.DataFrame] = field(default_factory=list)
    read: int = 0
    snapshot: Snapshot | None = None
    skipped: int = 0  # rows set aside as duplicates before the load (e.g. superseded ones)
    repeats: int = 0  # rows dropped as repeats of a key within a chunk
    bad_rows: int = 0  # quarantined rows moved to scratch files (``bad_files``)
    bad_files: list[str] = field(default_factory=list)
    keys: ChunkKeys | None = None  # the keys staged so far (whether chunks share some)
    overlap: bool = False  # chunks may share keys: the scratch table is de-duplicated
    chunks: int = 0

    def add_bad(self, bad: pl.DataFrame, limit: int) -> None:
        self.bad.append(bad)
        held = sum(b.height for b in self.bad)
        if held > limit:
            fd, path = tempfile.mkstemp(prefix="gongzhi-quarantine-", suffix=".arrow")
            os.close(fd)
            self.bad_files.append(path)
            pl.concat(self.bad, how="diagonal_relaxed").write_ipc(path)
            self.bad_rows += held
            self.bad = []

    def quarantined(self) -> Iterator[pl.DataFrame]:
        """The quarantined rows, a chunk at a time."""
        for path in self.bad_files:
            yield pl.read_ipc(path)
        yield from self.bad

    def drop_files(self) -> None:
        for path in self.bad_files:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        self.bad_files.clear()


def _describe(e: BaseException) -> str:
    """The run log's error text; personal numbers are masked even in a library's message.

    Gongzhi's own errors carry the failing place already (a source's URL or file); anything
    else was raised by the framework or the warehouse, and storage faults are explained."""
    if isinstance(e, GongzhiError):
        return privacy.redact(f"{type(e).__name__}: {e}")
    fault = explain(e)
    if fault:
        return f"WarehouseError: {fault}"
    last = traceback.format_exception_only(type(e), e)[-1].strip()
    return privacy.redact(f"unexpected error: {last}")


def _summary(r: RunResult) -> str:
    if r.status == runlog.SUCCEEDED:
        return (f"{r.status}: read {r.read:,}, loaded {r.loaded:,} (new {r.inserted:,}, "
                f"changed {r.updated:,}), quarantined {r.quarantined:,}, "
                f"duplicates {r.duplicates:,}" + (f", deleted {r.deleted:,}" if r.deleted
                                                  else ""))
    return f"{r.status}: {r.error}"
