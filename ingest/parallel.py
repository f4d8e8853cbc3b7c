"""Independent sources at the same time: ``gongzhi ingest --jobs N`` and ``[ingest]
parallel_runs`` (issue 15: a city's first load of several big sources uses every core).

A run is Python-bound (polars casting, hashing, the COPY feeders), so sources run in worker
processes (``spawn``: no copy of the parent's connections or threads), at most N, each with
its own engine and runner, running :meth:`Runner.run_source` for one source at a time (a
worker is kept for the next source: starting a process costs seconds, and a city has a few
big sources and many small ones). Every guarantee
of a run holds there as in a sequential batch: all or nothing, the source's own lock, read =
loaded + quarantined + duplicates; one failing source never stops the others, and a worker
that dies (killed) fails the run it was doing with the reason, not a hang; the sources still
waiting go to a new worker.

Order and apartness (what keeps the result the same as one run after another):

- Division lists and code registers (facts check their codes) run first, alone, in this
  process, as :meth:`Runner.run` runs them first.
- Two sources that feed the same table, or coupled tables (a table whose KPI rollups are
  recomputed from another's rows: cases and the item catalogue, volunteer services and
  volunteers; :meth:`coupled_tables` of the observers), never run at once, and keep their
  configured order; any other two may.
- The results come back in the configured order; the ``after_run`` observers (alerts) are
  called once, for the whole batch.

SQLite has one writer and a merge holds it for as long as it takes (minutes at district scale,
longer than the busy timeout another run would wait), so on SQLite the sources run one after
another and the progress output says so.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from multiprocessing.connection import wait
from typing import Any

from core.errors import SourceError
from core.settings import Settings, SourceSpec
from ingest.contract import SourceContext
from ingest.progress import Progress
from ingest.registry import build_source
from ingest.run_result import RunResult, _describe
from ingest.run_steps import _cleanup_stale_stages, _feeds_divisions
from warehouse import runlog
from warehouse.schema import data_tables, divisions


def ordered(settings: Settings, source_ids: Sequence[str] | None) -> list[SourceSpec]:
    """The sources a batch runs, in its order: the named ones (all when None) as configured,
    division lists first (facts refer to their codes)."""
    specs = settings.sources
    if source_ids:
        wanted = list(source_ids)
        unknown = [s for s in wanted if s not in {x.id for x in specs}]
        if unknown:
            raise SourceError(f"unknown source(s): {', '.join(unknown)}")
        specs = [s for s in specs if s.id in wanted]
    return sorted(specs, key=lambda s: 0 if _feeds_divisions(s) else 1)


def source_tables(spec: SourceSpec) -> frozenset[str] | None:
    """The tables ``spec`` feeds, or None when its plugin cannot say (it is run alone then)."""
    try:
        return frozenset(build_source(spec, SourceContext()).target_tables()) or None
    except Exception:  # a bad source: its own run reports why
        return None


def reference_tables() -> frozenset[str]:
    """Tables whose codes the facts of other tables are checked against: the division list
    and the registers below the grid (a table declaring ``registry``, e.g. buildings)."""
    return frozenset({divisions.name} | {t.name for t in data_tables().values()
                                        if t.info.get("registry")})


def coupling(observers: Sequence[Any]) -> dict[str, set[str]]:
    """Table → the tables its rollups are recomputed from, by every observer that says."""
    out: dict[str, set[str]] = {}
    for ob in observers:
        hook = getattr(ob, "coupled_tables", None)
        if hook is None:
            continue
        for table, others in hook().items():
            out.setdefault(table, set()).update(others)
    return out


def clash(a: frozenset[str], b: frozenset[str], coupled: dict[str, set[str]]) -> bool:
    """Whether runs feeding ``a`` and ``b`` may not commit at once: a shared table, or a
    table of one whose rollups are recomputed from a table of the other."""
    if a & b:
        return True
    return any(coupled.get(x, set()) & b for x in a) or any(coupled.get(y, set()) & a
                                                          for y in b)


def run_parallel(runner: Any, source_ids: Sequence[str] | None, jobs: int, *,
                 trigger: str = "manual") -> list[RunResult]:
    """Run the sources of a batch ``jobs`` at a time (see the module's docstring) with
    ``runner`` (an :class:`ingest.runner.Runner`: its settings, engine, progress and
    observers); returns one result per source in the batch's order."""
    specs = ordered(runner.settings, source_ids)
    progress: Progress = runner.progress
    _cleanup_stale_stages(runner.engine)
    first: list[SourceSpec] = []
    rest: list[tuple[SourceSpec, frozenset[str]]] = []
    refs = reference_tables()
    for spec in specs:
        tables = source_tables(spec)
        if tables is None or tables & refs:
            first.append(spec)
        else:
            rest.append((spec, tables))
    results: dict[str, RunResult] = {}
    runner._deferred = True  # after_run waits for the whole batch
    try:
        for spec in first:
            results[spec.id] = runner.run_source(spec, trigger=trigger)
        if rest:
            progress.note(f"[ingest] {len(rest)} source(s), {jobs} at a time, in worker "
                          "processes of their own")
            # the children's runners get the observers of every installed extension: their
            # couplings count, and those of observers this runner was given
            from ingest.extensions import load_observers

            coupled = coupling([*runner.observers, *load_observers(runner.settings)])
            for r in _pool(runner, rest, jobs, trigger, coupled):
                results[r.source] = r
    finally:
        runner._deferred = False
    out = [results[s.id] for s in specs]
    if out:
        runner._after_run(out)
    return out


@dataclass
class _Worker:
    """A process that runs the sources it is handed, one at a time, with one engine and one
    runner (a process costs seconds to start: imports, the schema check, the rollups' check;
    a city has a few big sources and many small ones)."""

    process: Any  # multiprocessing.Process (spawn context)
    pipe: Pipe  # duplex: source ids in, RunResults out
    task: tuple[SourceSpec, frozenset[str]] | None = None  # the source it is running


def _pool(runner: Any, todo: list[tuple[SourceSpec, frozenset[str]]], jobs: int,
          trigger: str, coupled: dict[str, set[str]]) -> list[RunResult]:
    """Hand the sources to at most ``jobs`` worker processes, never two clashing ones at
    once and clashing ones in their configured order; collect the results."""
    ctx = multiprocessing.get_context("spawn")
    pending = list(todo)
    workers: list[_Worker] = []
    done: list[RunResult] = []
    show = runner.progress.enabled

    def startable() -> tuple[SourceSpec, frozenset[str]] | None:
        busy = [w.task[1] for w in workers if w.task is not None]
        for n, (spec, tables) in enumerate(pending):
            if not any(clash(tables, t, coupled) for t in busy) and not any(
                    clash(tables, t, coupled) for _, t in pending[:n]):
                return spec, tables
        return None

    try:
        while pending or any(w.task is not None for w in workers):
            while pending:
                nxt = startable()
                if nxt is None:
                    break
                idle = next((w for w in workers if w.task is None), None)
                if idle is None:
                    if len(workers) >= jobs:
                        break
                    here, there = ctx.Pipe(duplex=True)
                    proc = ctx.Process(target=_worker_main, name="gongzhi-ingest-worker",
                                       args=(runner.settings, trigger, show, there))
                    proc.start()
                    there.close()  # the parent's copy: EOF once the worker is gone
                    idle = _Worker(proc, here)
                    workers.append(idle)
                pending = [(s, t) for s, t in pending if s.id != nxt[0].id]
                idle.task = nxt
                idle.pipe.send(nxt[0].id)
            busy = [w for w in workers if w.task is not None]
            ready = wait([w.pipe for w in busy] + [w.process.sentinel for w in busy])
            for w in busy:
                if w.pipe not in ready and w.process.sentinel not in ready:
                    continue
                got = _receive(w)
                assert w.task is not None
                if got is None:  # the worker died during the run
                    w.process.join()
                    got = _died(runner, w)
                    w.pipe.close()
                    workers.remove(w)
                w.task = None
                done.append(got)
    finally:
        for w in workers:
            if w.task is None:
                with contextlib.suppress(OSError):
                    w.pipe.send(None)  # no more work: it waits for its ANALYZEs and goes
            elif w.process.is_alive():  # the parent is stopping (Ctrl-C): so does the run
                w.process.terminate()
        for w in workers:
            w.process.join()
            w.pipe.close()
    return done


def _receive(w: _Worker) -> RunResult | None:
    try:
        got = w.pipe.recv()
    except (EOFError, OSError):
        return None
    return got if isinstance(got, RunResult) else None


def _died(runner: Any, w: _Worker) -> RunResult:
    """A worker that ended during a run (killed, crashed): a failed run with the reason,
    logged on the run it had started (its transaction died with its connection)."""
    assert w.task is not None
    spec = w.task[0]
    code = w.process.exitcode
    how = (f"killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
           else f"exit code {code}")
    error = (f"the run's process (pid {w.process.pid}) ended without finishing ({how}); "
             "nothing of the run was kept")
    run_id = runlog.fail_dead_run(runner.engine, spec.id, w.process.pid, error)
    runner.progress.start(spec.id)
    runner.progress.done(f"failed: {error}")
    return RunResult(spec.id, run_id, runlog.FAILED, error=error)


def _worker_main(settings: Settings, trigger: str, show: bool, pipe: Pipe) -> None:
    """A worker process: its own engine and runner (with the observers of every installed
    extension, as :func:`build_runner` gives every runner), then one source's run per id
    received, its result sent back, until None or the parent's end of the pipe closes."""
    from ingest.runner import build_runner
    from warehouse import partitions
    from warehouse.engine import open_warehouse

    progress = Progress(enabled=show)
    progress.tty = False  # lines of several runs interleave: none is rewritten in place
    engine = runner = None
    setup_error = None
    try:
        engine = open_warehouse(settings.warehouse_url, partition=settings.warehouse_partition)
        runner = build_runner(settings, engine, progress=progress)
        runner._deferred = True  # the parent calls after_run once, for the whole batch
    except Exception as e:  # the warehouse or an extension failed before any run began
        setup_error = _describe(e)
    while True:
        try:
            source_id = pipe.recv()
        except (EOFError, OSError):
            break
        if source_id is None:
            break
        if runner is None:
            result = RunResult(source_id, None, runlog.FAILED, error=setup_error)
            progress.start(source_id)
            progress.done(f"failed: {setup_error}")
        else:
            result = runner.run_source(settings.source(source_id), trigger=trigger)
        pipe.send(result)
    pipe.close()
    partitions.wait_for_stats()  # the ANALYZEs after the commits, before the process goes
    if engine is not None:
        engine.dispose()
