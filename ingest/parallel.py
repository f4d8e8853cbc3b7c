"""Independent sources at the same time: ``gongzhi ingest --jobs N`` and ``[ingest]
parallel_runs`` (issue 15: a city's first load of several big sources uses every core).

A run is Python-bound (polars casting, hashing, the COPY feeders), so each source runs in a
process of its own (``spawn``: no copy of the parent's connections or threads), which builds
its own engine and runner and runs :meth:`Runner.run_source` for one source. Every guarantee
of a run holds there as in a sequential batch: all or nothing, the source's own lock, read =
loaded + quarantined + duplicates; one failing source never stops the others, and a process
that dies (killed) is a failed run with the reason, not a hang.

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
from ingest.run_steps import _feeds_divisions
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


@dataclass
class _Child:
    spec: SourceSpec
    tables: frozenset[str]
    process: Any  # multiprocessing.Process (spawn context)
    pipe: Pipe
    result: RunResult | None = None


def run_parallel(runner: Any, source_ids: Sequence[str] | None, jobs: int, *,
                 trigger: str = "manual") -> list[RunResult]:
    """Run the sources of a batch ``jobs`` at a time (see the module's docstring) with
    ``runner`` (an :class:`ingest.runner.Runner`: its settings, engine, progress and
    observers); returns one result per source in the batch's order."""
    from ingest.run_steps import _cleanup_stale_stages

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
            progress.note(f"[ingest] {len(rest)} source(s), {jobs} at a time, each in a "
                          "process of its own")
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


def _pool(runner: Any, todo: list[tuple[SourceSpec, frozenset[str]]], jobs: int,
          trigger: str, coupled: dict[str, set[str]]) -> list[RunResult]:
    """Start, watch and collect the child runs, never two clashing ones at once."""
    ctx = multiprocessing.get_context("spawn")
    pending = list(todo)
    running: list[_Child] = []
    done: list[RunResult] = []
    show = runner.progress.enabled
    try:
        while pending or running:
            for spec, tables in list(pending):
                if len(running) >= jobs:
                    break
                ahead = [t for s, t in pending[:[s.id for s, _ in pending].index(spec.id)]]
                if any(clash(tables, c.tables, coupled) for c in running) or any(
                        clash(tables, t, coupled) for t in ahead):
                    continue  # after the run it clashes with (configured order kept)
                pending = [(s, t) for s, t in pending if s.id != spec.id]
                parent_end, child_end = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child_main, name=f"gongzhi-ingest-{spec.id}",
                                   args=(runner.settings, spec.id, trigger, show, child_end))
                proc.start()
                child_end.close()  # the parent's copy: EOF once the child is gone
                running.append(_Child(spec, tables, proc, parent_end))
            ready = wait([c.pipe for c in running] + [c.process.sentinel for c in running])
            for child in list(running):
                if child.pipe in ready and child.result is None:
                    child.result = _receive(child)
                if child.process.sentinel in ready or not child.process.is_alive():
                    child.process.join()
                    if child.result is None:
                        child.result = _receive(child) or _died(runner, child)
                    child.pipe.close()
                    running.remove(child)
                    done.append(child.result)
    finally:
        for child in running:  # the parent is stopping (Ctrl-C): its children stop with it
            if child.process.is_alive():
                child.process.terminate()
            child.process.join()
    return done


def _receive(child: _Child) -> RunResult | None:
    try:
        if child.pipe.poll():
            got = child.pipe.recv()
            return got if isinstance(got, RunResult) else None
    except (EOFError, OSError):
        pass
    return None


def _died(runner: Any, child: _Child) -> RunResult:
    """A child that ended without a result (killed, crashed): a failed run with the reason,
    logged on the run it had started (its transaction died with its connection)."""
    code = child.process.exitcode
    how = (f"killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
           else f"exit code {code}")
    error = (f"the run's process (pid {child.process.pid}) ended without finishing ({how}); "
             "nothing of the run was kept")
    run_id = runlog.fail_dead_run(runner.engine, child.spec.id, child.process.pid, error)
    runner.progress.start(child.spec.id)
    runner.progress.done(f"failed: {error}")
    return RunResult(child.spec.id, run_id, runlog.FAILED, error=error)


def _child_main(settings: Settings, source_id: str, trigger: str, show: bool,
                pipe: Pipe) -> None:
    """One source's run in a process of its own: its own engine and runner (with the
    observers of every installed extension, as :func:`build_runner` gives every runner)."""
    from ingest.runner import build_runner
    from warehouse import partitions
    from warehouse.engine import open_warehouse

    spec = next(s for s in settings.sources if s.id == source_id)
    progress = Progress(enabled=show)
    progress.tty = False  # lines of several runs interleave: none is rewritten in place
    engine = None
    try:
        engine = open_warehouse(settings.warehouse_url, partition=settings.warehouse_partition)
        runner = build_runner(settings, engine, progress=progress)
        runner._deferred = True  # the parent calls after_run once, for the whole batch
        result = runner.run_source(spec, trigger=trigger)
    except Exception as e:  # the warehouse or an extension failed before the run began
        result = RunResult(source_id, None, runlog.FAILED, error=_describe(e))
        progress.start(source_id)
        progress.done(f"failed: {result.error}")
    pipe.send(result)
    pipe.close()
    partitions.wait_for_stats()  # the ANALYZE after the commit, before the process goes
    if engine is not None:
        engine.dispose()
