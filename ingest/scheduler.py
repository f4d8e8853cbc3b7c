"""``gongzhi schedule``: the scheduler process (never inside Streamlit).

One APScheduler 3.x cron job per scheduled source, in the configured time zone
(Asia/Shanghai), with ``coalesce``, ``max_instances=1`` and a misfire grace of hours: the 1 s
default silently drops a run that starts late because the machine was busy. Jobs live in
memory and are added once per start, so nothing is "replaced" at start-up; a run missed while
the process was down is found in the run log instead: at start, a source whose last due time
has no run started at or after it is run once (trigger ``catchup``). A poll job takes the
dashboard's run-now requests (trigger ``request``) and reprocess requests (``reprocess``).

Two loads of one source never overlap: the runner takes the per-source database lock
(advisory lock on PostgreSQL, lease row on SQLite) and logs a refused run as ``skipped``; in
this process a source is also reserved while one of its jobs runs, so a request waits instead
of colliding with the scheduled run. On SQLite loads run one at a time (one writer anyway).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, update

from core.cron import cron_trigger, previous_fire_time, schedule_problems
from core.errors import ConfigError, LockBusy, Problem
from core.settings import Settings, SourceSpec
from ingest import reprocess
from ingest.extensions import load_observers
from ingest.progress import Progress
from ingest.runner import Runner, RunObserver, RunResult, build_runner
from warehouse import runlog
from warehouse.engine import app_engine, write_transaction
from warehouse.locks import HOST, live_holders, source_lock
from warehouse.schema import run_requests

CATCHUP, SCHEDULE, REQUEST = "catchup", "schedule", "request"
# The lock that makes one scheduler the active one in a cluster (not a source id: those are
# lower-case words, so this name never clashes with one).
CLUSTER_LOCK = "*scheduler"
LOAD_WORKERS = {"sqlite": 1}  # SQLite has one writer: parallel loads would only wait on it
DEFAULT_LOAD_WORKERS = 4  # each load holds a lock connection; stays inside the default pool


# --- logging ------------------------------------------------------------------------------

class _Log:
    """Timestamped lines on stdout (or ``stream``), one write per line across threads."""

    def __init__(self, clock: Callable[[], datetime], stream: TextIO | None):
        self.clock = clock
        self.stream = stream
        self.lock = threading.Lock()

    def __call__(self, message: str) -> None:
        stream = self.stream or sys.stdout  # resolved per call: tests capture stdout
        with self.lock:
            stream.write(f"{self.clock():%Y-%m-%d %H:%M:%S%z} {message}\n")
            stream.flush()


class _ZoneFormatter(logging.Formatter):
    """APScheduler's warnings (misfires, skipped instances) stamped like our own lines."""

    def __init__(self, tz: tzinfo):
        super().__init__("%(asctime)s %(name)s %(levelname)s: %(message)s")
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return f"{datetime.fromtimestamp(record.created, self.tz):%Y-%m-%d %H:%M:%S%z}"


class _LogProgress(Progress):
    """The runner's start/finish hooks as log lines (with counts); no progress chatter."""

    def __init__(self, log: _Log, trigger: str):
        super().__init__(enabled=False)
        self.log = log
        self.trigger = trigger

    def start(self, source: str) -> None:
        super().start(source)
        self.log(f"[{source}] {self.trigger} run started")

    def done(self, summary: str) -> None:
        if summary.startswith("warning"):
            self.log(f"[{self._source}] {summary}")
        else:
            self.log(f"[{self._source}] {self.trigger} run {summary}")


# --- the service --------------------------------------------------------------------------

class SchedulerService:
    """The ``gongzhi schedule`` process: cron jobs, start-up catch-up, run-now requests."""

    def __init__(self, settings: Settings, engine: Engine, *,
                 observers: Sequence[RunObserver] | None = None,
                 clock: Callable[[], datetime] | None = None, stream: TextIO | None = None,
                 extra_jobs: Sequence[tuple[str, str, Callable[[], Any]]] = ()):
        self.settings = settings
        # (name, cron, function): jobs of other layers the CLI hands in (the monthly
        # bulletin), run by the leading scheduler only, guarded like the loads
        self.extra_jobs = list(extra_jobs)
        self.engine = engine
        conf = settings.scheduler
        try:
            self.tz: tzinfo = ZoneInfo(conf.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError([Problem("[scheduler] timezone",
                                       f"unknown time zone {conf.timezone!r}")]) from None
        self.clock = clock or (lambda: datetime.now(self.tz))
        # loaded once for every run of this process (the rollups are checked once, too)
        self.observers = list(load_observers(settings) if observers is None else observers)
        self.log = _Log(self.clock, stream)
        self.specs = {s.id: s for s in settings.sources}
        self.triggers: dict[str, BaseTrigger] = {}
        for spec in settings.sources:
            if spec.schedule:
                # Validation refuses these already; a config that bypassed it (an API caller)
                # loses that one source's schedule, with a warning, never the other sources.
                problems = schedule_problems(spec.schedule, self.tz, frequent=spec.frequent)
                if problems:
                    self.log(f"[{spec.id}] warning: schedule ignored, the source runs only "
                             f"on request: {'; '.join(problems)}")
                    continue
                self.triggers[spec.id] = cron_trigger(spec.schedule, self.tz)
        self.scheduler: BackgroundScheduler | None = None
        self._busy: set[str] = set()
        self._queued: dict[str, list[int]] = {}  # claimed requests whose run has not begun
        self._reprocess_waiting: set[int] = set()  # claimed reprocess requests not begun
        self._mutex = threading.Lock()
        self._stopping = threading.Event()

    # -- catch-up --

    def last_due(self, spec: SourceSpec, now: datetime | None = None) -> datetime | None:
        """The most recent time ≤ ``now`` at which ``spec``'s schedule fired (None if it has
        no schedule)."""
        trigger = self.triggers.get(spec.id)
        if trigger is None:
            return None
        now = now or self.clock()
        return previous_fire_time(trigger, now if now.tzinfo else now.replace(tzinfo=self.tz))

    def missed(self, now: datetime | None = None) -> list[str]:
        """Scheduled sources with no run started at or after their last due time."""
        now = now or self.clock()
        out = []
        for sid in list(self.triggers):
            try:
                due = self.last_due(self.specs[sid], now)
            except Exception as e:  # one source's schedule never stops the others
                self._drop(sid, e)
                continue
            if due is None:
                continue
            due_utc = due.astimezone(UTC).replace(tzinfo=None)  # the run log is naive UTC
            last = runlog.last_started(self.engine, sid)
            if last is None or last < due_utc:
                self.log(f"[{sid}] missed its run due {due.astimezone(self.tz):%Y-%m-%d %H:%M:%S}"
                         f" (last run started: {_local(last, self.tz)})")
                out.append(sid)
        return out

    def catch_up(self) -> list[RunResult]:
        """Run, once, every scheduled source whose last due run is missing (trigger catchup)."""
        return self._catch_up(self.missed())

    def _catch_up(self, source_ids: list[str]) -> list[RunResult]:
        if not source_ids:
            self.log("catch-up: no missed runs")
            return []
        mine, results = self._reserve(source_ids), []
        try:
            for sid in source_ids:
                if sid not in mine:
                    results.append(self._skip(sid, CATCHUP))
            # One source at a time, division lists first (facts refer to their codes), so a
            # stop request takes effect between sources; the rest is caught up next start.
            for sid in sorted(mine, key=lambda s: 0 if _feeds_divisions(self.specs[s]) else 1):
                if self._stopping.is_set():
                    break
                results += self._runner(CATCHUP).run([sid], trigger=CATCHUP)
        finally:
            self._release(mine)
        return results

    # -- jobs --

    def _run_scheduled(self, source_id: str) -> None:
        if self._stopping.is_set():
            return
        if not self._reserve([source_id]):
            self._skip(source_id, SCHEDULE)
            return
        try:
            self._runner(SCHEDULE).run_source(self.specs[source_id], trigger=SCHEDULE)
        finally:
            self._release([source_id])

    def _poll(self) -> None:
        """Claim run-now requests of sources not loading here and queue one run per source."""
        if self._stopping.is_set() or self.scheduler is None:
            return
        with self._mutex:
            free = [s for s in self.specs if s not in self._busy and s not in self._queued]
        if not free:
            self._poll_reprocess()
            return
        by_source: dict[str, list[int]] = {}
        for row in runlog.take_requests(self.engine, free):
            by_source.setdefault(row["source"], []).append(row["id"])
        for sid, ids in by_source.items():
            self.log(f"[{sid}] run requested (request {', '.join(map(str, ids))})")
            with self._mutex:
                self._queued[sid] = ids
            self.scheduler.add_job(self._guarded, args=(self._run_request, sid),
                                   id=f"request:{sid}:{ids[0]}", name=f"{sid} (run now)",
                                   executor="loads")
        self._poll_reprocess()

    def _poll_reprocess(self) -> None:
        """Claim the dashboard's reprocess requests; each runs as a load job."""
        if self._stopping.is_set() or self.scheduler is None:
            return
        for req in reprocess.take_requests(self.engine):
            self.log(f"reprocess requested (request {req['id']}, by {req['requested_by']})")
            with self._mutex:
                self._reprocess_waiting.add(req["id"])
            self.scheduler.add_job(self._guarded, args=(self._run_reprocess, req),
                                   id=f"reprocess:{req['id']}", name="reprocess",
                                   executor="loads")

    def _run_reprocess(self, req: dict[str, Any]) -> None:
        if self._stopping.is_set():
            return  # shutdown() hands the claimed request back
        with self._mutex:
            self._reprocess_waiting.discard(req["id"])
        sel = reprocess.Selection(req["source"], req["reason"], req["run_id"])
        mine = self._reserve(reprocess.sources_to_reprocess(self.engine, sel))
        try:
            runner = build_runner(self.settings, self.engine,
                                  progress=_LogProgress(self.log, reprocess.TRIGGER),
                                  observers=self.observers, kind=reprocess.Reprocessor)
            reprocess.serve_request(runner, req)
        finally:
            self._release(mine)

    def _run_request(self, source_id: str) -> None:
        if self._stopping.is_set():
            return  # shutdown() hands the claimed requests back
        with self._mutex:
            ids = self._queued.pop(source_id, [])
        if not self._reserve([source_id]):
            result = self._skip(source_id, REQUEST)
        else:
            try:
                result = self._runner(REQUEST).run_source(self.specs[source_id],
                                                          trigger=REQUEST)
            finally:
                self._release([source_id])
        set_request_run(self.engine, ids, result.run_id)

    def _guarded(self, job: Callable[..., Any], *args: Any) -> None:
        """Any error in a job is logged and the scheduler keeps going."""
        try:
            job(*args)
        except Exception as e:
            where = f"[{args[0]}] " if args and isinstance(args[0], str) else ""
            last = traceback.format_exception_only(type(e), e)[-1].strip()
            self.log(f"{where}error in {job.__name__.strip('_').replace('_', ' ')}: {last}")

    # -- life cycle --

    def start(self) -> BackgroundScheduler:
        """Start in the background: catch-up first, then a cron job per scheduled source and
        the request poller. Returns the APScheduler instance (its jobs are inspectable)."""
        conf = self.settings.scheduler
        workers = LOAD_WORKERS.get(self.engine.dialect.name, DEFAULT_LOAD_WORKERS)
        self._stopping.clear()
        sched = BackgroundScheduler(
            timezone=self.tz,
            executors={"loads": ThreadPoolExecutor(workers), "default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": max(1, int(conf.misfire_grace_hours * 3600))},
        )
        # Runs left 'running' by a killed process are marked interrupted first.
        for run_id in runlog.settle_interrupted(self.engine):
            self.log(f"run {run_id} was interrupted (its process is gone): marked so")
        # Decide before any job runs, from the run log alone: re-added jobs never carry a
        # missed run over (APScheduler drops it), so the catch-up is ours to do.
        missed = self.missed()
        if missed:
            sched.add_job(self._guarded, args=(self._catch_up, missed), id="catchup",
                          name="catch-up at start", executor="loads")
        for sid, trigger in list(self.triggers.items()):
            try:
                sched.add_job(self._guarded, trigger, args=(self._run_scheduled, sid),
                              id=f"schedule:{sid}", name=f"{sid} ({self.specs[sid].schedule})",
                              executor="loads")
            except Exception as e:  # one source's schedule never stops the others
                self._drop(sid, e)
        for name, cron, fn in self.extra_jobs:
            try:
                sched.add_job(self._guarded, cron_trigger(cron, self.tz), args=(fn,),
                              id=f"job:{name}", name=f"{name} ({cron})")
            except Exception as e:  # a bad extra job never stops the loads
                self.log(f"[{name}] warning: not scheduled: {e}")
        for i, ob in enumerate(self.observers):  # followers with a schedule of their own
            ob_cron, job = getattr(ob, "schedule", None), getattr(ob, "on_schedule", None)
            if ob_cron and job is not None:
                try:
                    sched.add_job(self._guarded, cron_trigger(ob_cron, self.tz),
                                  args=(job, self.engine), id=f"observer:{i}",
                                  name=f"{type(ob).__name__} ({ob_cron})")
                except Exception as e:  # a bad schedule never stops the sources' jobs
                    self.log(f"warning: {type(ob).__name__} schedule {ob_cron!r} ignored: {e}")
        sched.add_job(self._guarded, IntervalTrigger(seconds=conf.poll_seconds, timezone=self.tz),
                      args=(self._poll,), id="requests", name="run-now requests",
                      next_run_time=datetime.now(self.tz))
        self.scheduler = sched
        sched.start()
        for job in sched.get_jobs():
            if job.id.startswith(("schedule:", "job:")):
                nxt = job.next_run_time
                when = f"{nxt:%Y-%m-%d %H:%M:%S %Z}" if nxt is not None else "never"
                self.log(f"scheduled {job.name}, next run {when}")
        catching = f"catching up {', '.join(missed)}" if missed else "no missed runs"
        self.log(f"scheduler started ({HOST}:{os.getpid()}): {len(self.triggers)} scheduled "
                 f"source(s), time zone {conf.timezone}, {catching}")
        return sched

    def shutdown(self, wait: bool = True) -> None:
        """Stop: jobs not yet begun are dropped (the next start catches them up), running
        loads finish when ``wait``; claimed requests that never ran go back to pending."""
        self._stopping.set()
        sched, self.scheduler = self.scheduler, None
        if sched is not None and sched.running:
            sched.shutdown(wait=wait)
        with self._mutex:
            ids = [i for q in self._queued.values() for i in q]
            self._queued.clear()
            waiting, self._reprocess_waiting = self._reprocess_waiting, set()
        for rid in waiting:  # the next start (or another scheduler) takes them
            reprocess.release_request(self.engine, rid)
        if ids:
            with write_transaction(app_engine(self.engine)) as conn:
                conn.execute(update(run_requests).where(run_requests.c.id.in_(ids),
                                                        run_requests.c.run_id.is_(None))
                             .values(picked_at=None))
        self.log("scheduler stopped")

    def serve_forever(self) -> None:
        """Run until SIGTERM/SIGINT, then stop cleanly, waiting for running loads.

        Several schedulers may be started on one warehouse (one per machine of a cluster, for
        a spare): the one holding the cluster's scheduler lock in the database schedules;
        the others stand by and take over within ``poll_seconds`` of its process or
        connection going away."""
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_ZoneFormatter(self.tz))
        aps = logging.getLogger("apscheduler")
        aps.addHandler(handler)
        aps.setLevel(logging.WARNING)  # misfires and skipped instances, not every job start
        stop = threading.Event()

        def on_signal(signum: int, _frame: Any) -> None:
            self.log(f"received {signal.Signals(signum).name}: stopping after running loads")
            stop.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            waiting = False
            while not stop.is_set():
                try:
                    self._lead(stop)
                    waiting = False
                except LockBusy:
                    if not waiting:
                        self.log(f"standing by: scheduler {self._leader()} runs the schedule; "
                                 "this one takes over when it stops")
                        waiting = True
                    stop.wait(self.settings.scheduler.poll_seconds)
                except Exception as e:  # the database is away: try again, say so once
                    last = traceback.format_exception_only(type(e), e)[-1].strip()
                    self.log(f"cannot take the scheduler lock: {last}; retrying")
                    stop.wait(self.settings.scheduler.poll_seconds)
        finally:
            for s, h in previous.items():  # a second signal acts as usual
                signal.signal(s, h)
            aps.removeHandler(handler)

    def _lead(self, stop: threading.Event) -> None:
        """Hold the cluster's scheduler lock and schedule until ``stop`` or the lock is lost
        (raises :class:`LockBusy` at once when another scheduler holds it)."""
        conf = self.settings.scheduler
        with source_lock(self.engine, CLUSTER_LOCK, lease_seconds=conf.lease_seconds) as lock:
            self.log(f"active: this scheduler ({HOST}:{os.getpid()}) runs the schedule")
            try:
                self.start()
                check_every = max(1.0, conf.lease_seconds / 3)
                while not stop.wait(check_every):
                    if not self._still_leading(lock.holder.id):
                        self.log("lost the scheduler lock (connection to the warehouse lost "
                                 "or taken over): stopping, then standing by")
                        break
            finally:
                self.shutdown(wait=True)

    def _leader(self) -> str:
        with contextlib.suppress(Exception):
            held = live_holders(self.engine).get(CLUSTER_LOCK)
            if held is not None:
                return str(held)
        return "elsewhere"

    def _still_leading(self, holder_id: str) -> bool:
        try:
            held = live_holders(self.engine).get(CLUSTER_LOCK)
        except Exception:  # the warehouse is away for a moment: each load has its own lock
            return True
        return held is not None and held.id == holder_id

    # -- helpers --

    def _drop(self, source_id: str, e: Exception) -> None:
        """Take a source whose schedule fails off the timetable, saying why."""
        self.triggers.pop(source_id, None)
        last = traceback.format_exception_only(type(e), e)[-1].strip()
        self.log(f"[{source_id}] warning: schedule ignored, the source runs only on request: "
                 f"{last}")

    def _runner(self, trigger: str) -> Runner:
        # One per job: Progress keeps the current source, so it is not shared across threads.
        return build_runner(self.settings, self.engine,
                            progress=_LogProgress(self.log, trigger), observers=self.observers)

    def _reserve(self, source_ids: Sequence[str]) -> list[str]:
        with self._mutex:
            got = [s for s in source_ids if s not in self._busy]
            self._busy.update(got)
        return got

    def _release(self, source_ids: Sequence[str]) -> None:
        with self._mutex:
            self._busy.difference_update(source_ids)

    def _skip(self, source_id: str, trigger: str) -> RunResult:
        """Log a run refused because this process is already loading the source."""
        msg = (f"source '{source_id}' is being loaded by this scheduler "
               f"({HOST}:{os.getpid()}), or queued to be; this {trigger} run was skipped")
        run_id = runlog.start_run(self.engine, source_id, trigger)
        runlog.fail_run(self.engine, run_id, msg, status=runlog.SKIPPED)
        self.log(f"[{source_id}] {trigger} run skipped: already loading here")
        return RunResult(source_id, run_id, runlog.SKIPPED, error=msg)


def set_request_run(engine: Engine, request_ids: Sequence[int], run_id: int | None) -> None:
    """Record which run served the run-now requests (the dashboard shows it)."""
    if not request_ids or run_id is None:
        return
    with write_transaction(app_engine(engine)) as conn:
        conn.execute(update(run_requests).where(run_requests.c.id.in_(list(request_ids)))
                     .values(run_id=run_id))


def _feeds_divisions(spec: SourceSpec) -> bool:
    return spec.plugin == "divisions" or spec.table == "divisions"


def _local(t: datetime | None, tz: tzinfo) -> str:
    if t is None:
        return "never"
    return f"{t.replace(tzinfo=UTC).astimezone(tz):%Y-%m-%d %H:%M:%S}"
