"""The runner: extract → cast and quarantine → de-duplicate → stage → merge, per source.

Each source's run is all-or-nothing: its rows, its quarantine, its cursor and its run-log
counts commit in one transaction; on any error none of it is kept and the run is logged as
failed with the reason. One failing source never stops the others. Counts always satisfy
``read = loaded + quarantined + duplicates``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, TypeVar, overload

import polars as pl
from sqlalchemy import Connection, Engine, Table
from sqlalchemy.exc import DBAPIError

from core import privacy
from core.errors import LockBusy, SourceError, WriteConflict
from core.settings import Settings, SourceSpec
from ingest import deletes, parallel
from ingest.chunk_keys import ChunkKeys, hashes_for
from ingest.contract import Batch, SourceContext
from ingest.extensions import RunObserver, load_observers
from ingest.keyguard import KeyGuard
from ingest.normalize.cast import CastOptions, Prepared, cast_batch
from ingest.progress import Progress
from ingest.registry import build_source
from ingest.run_result import RunResult, _Collected, _describe, _summary
from ingest.run_steps import (
    FAULTPOINT_ENV,
    _cleanup_stale_stages,
    _extracted,
    _known_codes,
    dedupe,
    faultpoint,
)
from warehouse import bulk, faults, partitions, retire, runlog
from warehouse.engine import (
    bump_data_version,
    stamp_loaded,
    utcnow,
    write_transaction,
)
from warehouse.locks import SourceLock, source_lock
from warehouse.schema import data_tables, divisions, key_columns

#: how many times a run whose commit met a deadlock or serialization failure goes again
CONFLICT_RETRIES = 2


class Runner:
    """Runs configured sources against one warehouse. Build one with :func:`build_runner`,
    which attaches the observers of every extension (the KPI rollups among them)."""

    def __init__(self, settings: Settings, engine: Engine, *, progress: Progress | None = None,
                 observers: Sequence[RunObserver] = ()):
        self.settings = settings
        self.engine = engine
        self.progress = progress or Progress(enabled=False)
        self.observers = list(observers)
        self._keys = KeyGuard(engine, settings.pseudonym_key_file)
        self._deferred = False  # inside run(): after_run hooks wait for the whole batch

    def run(self, source_ids: Iterable[str] | None = None, *, trigger: str = "manual",
            jobs: int = 1) -> list[RunResult]:
        """Run the named sources (all when None); division lists first, since facts refer to
        their codes. ``jobs`` > 1 runs independent sources that many at a time, in worker
        processes (:mod:`ingest.parallel`; on SQLite one after another)."""
        if jobs > 1:
            if self.engine.dialect.name != "sqlite":
                return parallel.run_parallel(self, list(source_ids or ()) or None, jobs,
                                             trigger=trigger)
            self.progress.note(f"[ingest] the embedded warehouse (SQLite) takes one writer at "
                               f"a time: the sources run one after another, not {jobs} at "
                               "once (parallel runs need PostgreSQL)")
        specs = parallel.ordered(self.settings, list(source_ids or ()) or None)
        _cleanup_stale_stages(self.engine)
        # followers of finished runs see the state after the whole batch, not a half-loaded
        # one (a KPI over two tables whose second source has not run yet)
        self._deferred = True
        try:
            results = [self.run_source(spec, trigger=trigger) for spec in specs]
        finally:
            self._deferred = False
        if results:
            self._after_run(results)
        return results

    def run_source(self, spec: SourceSpec, *, trigger: str = "manual") -> RunResult:
        """Run one source under its lock; never raises for a source's own failure. A commit
        the server rolled back for another transaction's sake (:class:`WriteConflict`) is
        logged failed and the run goes again, up to :data:`CONFLICT_RETRIES` times."""
        self.progress.start(spec.id)
        try:
            with source_lock(self.engine, spec.id,
                             lease_seconds=self.settings.scheduler.lease_seconds) as lock:
                for attempt in range(CONFLICT_RETRIES + 1):
                    run_id = runlog.start_run(self.engine, spec.id, trigger)
                    try:
                        result = self._run_locked(spec, run_id, lock)
                    except Exception as e:
                        msg = _describe(e)
                        again = isinstance(e, WriteConflict) and attempt < CONFLICT_RETRIES
                        if again:
                            msg += "; the run goes again"
                        with contextlib.suppress(Exception):  # may fail too (disk full)
                            runlog.fail_run(self.engine, run_id, msg)
                        result = RunResult(spec.id, run_id, runlog.FAILED, error=msg)
                        if again:
                            self.progress.done(f"warning: {msg}")
                            continue
                    break
        except LockBusy as e:
            run_id = runlog.start_run(self.engine, spec.id, trigger)
            runlog.fail_run(self.engine, run_id, str(e), status=runlog.SKIPPED)
            result = RunResult(spec.id, run_id, runlog.SKIPPED, error=str(e))
        except Exception as e:  # the run log itself could not be written (disk, server)
            result = RunResult(spec.id, None, runlog.FAILED, error=_describe(e))
        self.progress.done(_summary(result))
        if not self._deferred:
            self._after_run([result])
        return result

    def _after_run(self, results: list[RunResult]) -> None:
        """Followers of finished runs (alerts); their failures never fail the run."""
        for ob in self.observers:
            hook = getattr(ob, "after_run", None)
            if hook is None:
                continue
            try:
                hook(self.engine, results)
            except Exception as e:
                self.progress.done(f"warning: {type(ob).__name__} failed after the run: "
                                   f"{privacy.redact(str(e))}")

    def _run_locked(self, spec: SourceSpec, run_id: int, lock: SourceLock) -> RunResult:
        nothing: list[str] = []  # why the plugin found no input, if it says so
        ctx = SourceContext(progress=lambda what, n: self.progress.update(what, n),
                            warn=lambda m: self.progress.done(f"warning: {privacy.redact(m)}"),
                            warehouse_url=self.engine.url.render_as_string(),
                            no_input=nothing.append,
                            chunk_rows=self.settings.ingest.chunk_rows)
        source = build_source(spec, ctx)
        tables = data_tables()
        cursor_in = runlog.get_cursor(self.engine, spec.id)
        known = _known_codes(self.engine)
        self._keys = KeyGuard(self.engine, self.settings.pseudonym_key_file)

        collected: dict[str, _Collected] = {}
        cursor_out: Any = cursor_in
        read_total = 0
        chunk = self.settings.ingest.chunk_rows
        stager = self._stager(run_id)
        try:
            for batch in _extracted(source, cursor_in):
                if batch.table not in tables:
                    raise SourceError(f"plugin yielded rows for unknown table '{batch.table}'")
                table = tables[batch.table]
                c = collected.setdefault(batch.table, _Collected())
                # a plugin's big batch is cast a chunk at a time: memory follows the chunk
                for piece in batch.frame.iter_slices(chunk) if batch.frame.height else [
                        batch.frame]:
                    prepared = self._prepare(spec, replace(batch, frame=piece), table, known,
                                             c)
                    if not prepared.good.is_empty():
                        self._stage_good(stager, table, c, prepared.good)
                    if not prepared.bad.is_empty():
                        c.add_bad(prepared.bad, chunk)
                    c.read += prepared.read
                    read_total += prepared.read
                    self.progress.update("read", read_total)
                if batch.snapshot is not None:
                    c.snapshot = batch.snapshot
                if batch.cursor is not None:
                    cursor_out = batch.cursor

            faultpoint("after_extract")
            if nothing and read_total == 0:
                return self._no_input(spec, run_id, lock, "; ".join(nothing))
            return self._load(spec, run_id, lock, collected, cursor_out, cursor_in,
                              stager=stager)
        finally:
            stager.cleanup()
            for c in collected.values():
                c.drop_files()

    def _stager(self, run_id: int) -> bulk.Stager:
        return bulk.Stager(self.engine, run_id, on_copy=lambda: faultpoint("copying"))

    def _stage_good(self, stager: bulk.Stager, table: Table, c: _Collected,
                    good: pl.DataFrame) -> None:
        """De-duplicate one chunk's rows and append them to the table's scratch copy. When
        a chunk may repeat keys of earlier ones (:mod:`ingest.chunk_keys`), the scratch table
        is de-duplicated once, before the merge."""
        keys = key_columns(table)
        before = good.height
        good = dedupe(good, keys)
        c.repeats += before - good.height
        if c.keys is None:  # PostgreSQL: hashes of the keys, so rows may go straight
            memory = self.settings.ingest.key_memory_mb if stager.dialect == "postgresql" else 0
            c.keys = ChunkKeys(keys, hashes_for(memory))
        if c.keys.add(good):
            c.overlap = True
        first = c.chunks == 0
        c.chunks += 1
        stager.stage(table, good, straight=not c.overlap)
        watchers = [ob for ob in self.observers if hasattr(ob, "staged")]
        if watchers:
            with self.engine.connect() as conn:
                for ob in watchers:
                    ob.staged(conn, table, good, first=first)

    def _unsummed(self, table: Table) -> None:
        """Tell observers that staged rows left the scratch table after staging."""
        for ob in self.observers:
            if hasattr(ob, "staged"):
                ob.staged(None, table, None)

    def _no_input(self, spec: SourceSpec, run_id: int, lock: SourceLock,
                  reason: str) -> RunResult:
        """The source offered nothing to read: logged ``no_input`` (a warning) and, for a
        ``required`` source, failed. Neither the cursor nor the freshness moves."""
        if spec.required:
            raise SourceError(f"no input: {reason} (the source is required: required = true)")
        with write_transaction(self.engine) as conn:
            lock.check(conn)
            runlog.finish_run(conn, run_id, runlog.NO_INPUT, error=reason, read=0, loaded=0,
                              quarantined=0, duplicate=0)
        return RunResult(spec.id, run_id, runlog.NO_INPUT, error=reason)

    def _prepare(self, spec: SourceSpec, batch: Batch, table: Table,
                 known: dict[str, pl.Series], c: _Collected) -> Prepared:
        location = batch.note or spec.id
        options = CastOptions(formats=spec.formats, decimal_comma=spec.decimal_comma,
                              serial_dates=batch.serial_dates, timezone=spec.timezone)

        def cast(frame: pl.DataFrame) -> Prepared:
            return cast_batch(frame, table, columns=spec.columns, defaults=spec.defaults,
                              key_getter=self._keys.key, known_codes=known, mapped=batch.mapped,
                              location=location, options=options)

        if spec.delete_flag is None:
            return cast(batch.frame)
        split = deletes.split_and_cast(batch.frame, spec.delete_flag, location, cast)
        if not split.deleted.good.is_empty():
            c.deleted.append(split.deleted.good)
        live = split.live
        return Prepared(live.good, pl.concat([live.bad, split.deleted.bad]),
                        live.read + split.deleted.read, live.unmapped)

    def _load(self, spec: SourceSpec, run_id: int, lock: SourceLock,
              collected: dict[str, _Collected], cursor_out: Any, cursor_in: Any,
              stager: bulk.Stager | None = None) -> RunResult:
        """Settle the staged rows (repeats across chunks, rows flagged deleted) and merge
        them in one transaction with the quarantine, the cursor and the run log."""
        tables = data_tables()
        result = RunResult(spec.id, run_id, runlog.SUCCEEDED)
        own = stager is None
        stager = stager or self._stager(run_id)
        try:
            removals: list[str] = []
            for name, c in collected.items():
                table = tables[name]
                keys = key_columns(table)
                for good in c.good:  # rows not staged yet (a reprocess run's)
                    self._stage_good(stager, table, c, good)
                c.good = []
                result.duplicates += c.repeats
                if c.overlap or c.deleted or c.snapshot is not None:
                    stager.pour(name)  # keys are matched in the scratch table then
                if c.overlap:
                    self.progress.update(f"de-duplicating {name}", stager.rows[name],
                                         force=True)
                    dropped = stager.drop_repeats(name, keys)
                    result.duplicates += dropped
                    if dropped:
                        self._unsummed(table)
                if c.deleted:
                    flagged = pl.concat(c.deleted, how="vertical_relaxed")
                    settled = flagged.unique(subset=keys, keep="last", maintain_order=True)
                    result.duplicates += flagged.height - settled.height
                    result.deleted += settled.height
                    gone = f"{name}__deleted"
                    stager.stage(table, settled, as_name=gone)
                    if name in stager.staged:  # a key both flagged and not: deleted
                        dropped = stager.drop_keys_of(name, gone, keys)
                        result.duplicates += dropped
                        if dropped:
                            self._unsummed(table)
                    removals.append(name)
                if name not in stager.staged and c.snapshot is not None:
                    raise SourceError(f"the snapshot for {name} is empty; refusing to retire "
                                      "every stored row")
                result.read += c.read
                result.quarantined += c.bad_rows + sum(b.height for b in c.bad)
                result.duplicates += c.skipped
            stager.finish({n: key_columns(tables[n]) for n in collected})
            order = sorted((n for n in collected if n in stager.staged),
                           key=lambda n: 0 if n == divisions.name else 1)
            staged = {name: stager.staged[name] for name in order}
            gone_st = {name: stager.staged[f"{name}__deleted"] for name in removals}
            written: dict[str, int] = {}  # rows inserted or changed, per table
            faultpoint("staged")
            with self.engine.connect() as conn, _conflicts_named(spec.id):
                stager.attach(conn)
                try:
                    wconn = conn.execution_options(sqlite_begin="IMMEDIATE")
                    with wconn.begin():
                        lock.check(wconn)  # the fence: a run whose lock was taken over stops
                        self._commit(wconn, spec, run_id, collected, staged, stager.rows,
                                     result, cursor_out, cursor_in, written)
                        removed = self._delete(wconn, gone_st)
                        if result.inserted or result.updated or result.retired or removed:
                            # last: its row lock is held to the commit, and every run
                            # committing at once takes it (one order: no deadlock)
                            bump_data_version(wconn)
                finally:
                    stager.detach(conn)
            for name, n in written.items():  # after the commit: the new rows are visible
                partitions.refresh_stats(self.engine, tables[name], n)
        finally:
            if own:
                stager.cleanup()
        return result

    def _commit(self, conn: Connection, spec: SourceSpec, run_id: int,
                collected: dict[str, _Collected], staged: dict[str, Table],
                rows: dict[str, int], result: RunResult,
                cursor_out: Any, cursor_in: Any, written: dict[str, int]) -> None:
        tables = data_tables()
        runlog.mark_interrupted(conn, spec.id, run_id)
        arrived: set[str] = set()  # tables to which data arrived: their freshness moves
        for name, stage in staged.items():
            table = tables[name]
            self.progress.update(f"merging {name}", rows.get(name, 0), force=True)
            bulk.settle_direct(conn, table, stage)  # rows sent straight to new months
            bulk.find_changed(conn, table, stage)  # once, for the observers and the merge
            for ob in self.observers:
                ob.before_merge(conn, table, stage)
            counts = bulk.merge(conn, table, stage, lineage={
                "_run_id": run_id, "_ingested_at": utcnow(), "_source": spec.id})
            faultpoint("merging")
            for ob in self.observers:
                ob.after_merge(conn, table, stage, counts)
            result.inserted += counts.inserted
            result.updated += counts.updated
            written[name] = counts.inserted + counts.updated
            result.loaded += counts.loaded
            retired = 0
            snap = collected[name].snapshot
            if snap is not None:
                retired = retire.retire_missing(conn, table, stage, scope=snap.scope,
                                              prefix=snap.prefix, values=snap.values)
                result.retired += retired
            if counts.loaded or retired:  # unchanged rows count: they confirm the data
                arrived.add(name)
        self._store_quarantine(conn, spec, run_id, collected)
        self._keys.commit(conn)
        stamp_loaded(conn, arrived)  # a run that read nothing new leaves the freshness
        assert result.read == (result.loaded + result.quarantined + result.duplicates
                               + result.deleted), result
        faultpoint("before_cursor")
        if cursor_out is not None and cursor_out != cursor_in:
            runlog.put_cursor(conn, spec.id, cursor_out, run_id)
        runlog.finish_run(conn, run_id, runlog.SUCCEEDED, read=result.read,
                          loaded=result.loaded, quarantined=result.quarantined,
                          duplicate=result.duplicates, inserted=result.inserted,
                          updated=result.updated, retired=result.retired,
                          deleted=result.deleted)
        faultpoint("before_commit")

    def _delete(self, conn: Connection, gone: dict[str, Table]) -> int:
        """Remove the rows whose keys the source flagged deleted (same transaction)."""
        tables = data_tables()
        removed = 0
        for name, stage in gone.items():
            for ob in self.observers:
                if hasattr(ob, "before_delete"):
                    ob.before_delete(conn, tables[name], stage)
            n = retire.delete_keys(conn, tables[name], stage)
            for ob in self.observers:
                if hasattr(ob, "after_delete"):
                    ob.after_delete(conn, tables[name], stage, n)
            if n:
                stamp_loaded(conn, {name})  # the table changed: its freshness moves
            removed += n
        return removed

    def _store_quarantine(self, conn: Connection, spec: SourceSpec, run_id: int,
                          collected: dict[str, _Collected]) -> None:
        """Keep the run's quarantined rows (inside its transaction; reprocess overrides)."""
        for name, c in collected.items():
            for bad in c.quarantined():
                runlog.add_quarantine(conn, run_id, spec.id, name, bad)


@contextlib.contextmanager
def _conflicts_named(source_id: str) -> Iterator[None]:
    """A commit the server rolled back for another transaction's sake becomes a typed
    :class:`WriteConflict` (retryable) instead of a driver error."""
    try:
        yield
    except DBAPIError as e:
        why = faults.conflict(e)
        if why is None:
            raise
        raise WriteConflict(f"source {source_id}: the warehouse rolled the commit back after "
                            f"{why}; nothing of this run was kept") from e


R = TypeVar("R", bound=Runner)


@overload
def build_runner(settings: Settings, engine: Engine, *, progress: Progress | None = None,
                 observers: Sequence[RunObserver] | None = None) -> Runner: ...


@overload
def build_runner(settings: Settings, engine: Engine, *, progress: Progress | None = None,
                 observers: Sequence[RunObserver] | None = None, kind: type[R]) -> R: ...


def build_runner(settings: Settings, engine: Engine, *, progress: Progress | None = None,
                 observers: Sequence[RunObserver] | None = None,
                 kind: type[Runner] = Runner) -> Runner:
    """The one way the product builds a runner (``kind``: :class:`Runner` or a subclass such as
    the reprocessor): with the observers of every ``gongzhi.observers`` extension, so no run
    leaves the KPI rollups stale. ``observers`` passes ones already loaded for ``settings``
    (the scheduler loads them once for all its runs)."""
    if observers is None:
        observers = load_observers(settings)
    return kind(settings, engine, progress=progress, observers=observers)


# re-exported: what callers import from here (the reprocessor uses _Collected, _known_codes)
__all__ = ["FAULTPOINT_ENV", "RunResult", "Runner", "_Collected", "_known_codes",
           "build_runner", "dedupe", "faultpoint"]
