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

Its log lines are :mod:`ingest.schedule_log`'s; which of several schedulers is the active one
is :mod:`ingest.standby`'s.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, update

from core.cron import cron_trigger, previous_fire_time, schedule_problems
from core.errors import ConfigError, Problem
from core.settings import Settings, SourceSpec
from ingest import reprocess, standby
from ingest.extensions import RunObserver, load_observers
from ingest.runner import Runner, RunResult, build_runner
from ingest.schedule_log import LineLog, LogProgress
from warehouse import runlog
from warehouse.engine import app_engine, write_transaction
from warehouse.locks import HOST
from warehouse.schema import run_requests

CATCHUP, SCHEDULE, REQUEST = "catchup", "schedule", "request"
LOAD_WORKERS = {"sqlite": 1}  # SQLite has one writer: parallel loads would only wait on it
DEFAULT_LOAD_WORKERS = 4  # each load holds a lock connection; stays inside the default pool


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
        self.log = LineLog(self.clock, stream)
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
            latest = runlog.last_run(self.engine, sid) if last is not None else None
            if latest is not None and warehouse_failed(latest["status"], latest["error"]):
                # the warehouse failed that run (e.g. the server restarted while this
                # scheduler stood by or was stopped): it is caught up like a missed one
                self.log(f"[{sid}] its last run failed in the warehouse: running it again")
                out.append(sid)
            elif last is None or last < due_utc:
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
        self._retry_later(results)
        return results

    # -- jobs --

    def _run_scheduled(self, source_id: str) -> None:
        if self._stopping.is_set():
            return
        if not self._reserve([source_id]):
            self._skip(source_id, SCHEDULE)
            return
        try:
            result = self._runner(SCHEDULE).run_source(self.specs[source_id], trigger=SCHEDULE)
        finally:
            self._release([source_id])
        self._retry_later([result])

    def _retry_later(self, results: Sequence[RunResult], attempt: int = 0) -> None:
        """Runs the warehouse failed (a server restart, a lost connection, a full disk) are
        tried again after ``retry_seconds``, doubling, up to ``retries`` times."""
        conf = self.settings.scheduler
        sched = self.scheduler
        if sched is None or self._stopping.is_set():
            return
        for r in results:
            if not warehouse_failed(r.status, r.error):
                continue
            if attempt >= conf.retries:
                self.log(f"[{r.source}] the warehouse failed {attempt + 1} runs in a row: "
                         "no more retries until its next scheduled run")
                continue
            when = datetime.now(self.tz) + timedelta(seconds=conf.retry_seconds * 2**attempt)
            self.log(f"[{r.source}] run {r.run_id} failed in the warehouse; trying again at "
                     f"{when:%H:%M:%S} (retry {attempt + 1} of {conf.retries})")
            sched.add_job(self._guarded, DateTrigger(when, timezone=self.tz),
                          args=(self._run_retry, r.source, attempt + 1),
                          id=f"retry:{r.source}", replace_existing=True, executor="loads")

    def _run_retry(self, source_id: str, attempt: int) -> None:
        if self._stopping.is_set():
            return  # the next start catches it up (its last run failed in the warehouse)
        if not self._reserve([source_id]):
            return  # a run of it is going on here already
        try:
            result = self._runner(SCHEDULE).run_source(self.specs[source_id], trigger=SCHEDULE)
        finally:
            self._release([source_id])
        self._retry_later([result], attempt)

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
                                  progress=LogProgress(self.log, reprocess.TRIGGER),
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
        """Run until SIGTERM/SIGINT, then stop cleanly, waiting for running loads; the active
        scheduler of the warehouse, or a spare standing by (:func:`ingest.standby.serve`)."""
        standby.serve(self)

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
                            progress=LogProgress(self.log, trigger), observers=self.observers)

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


def warehouse_failed(status: str | None, error: str | None) -> bool:
    """Whether a run failed because of the warehouse (not its source): worth retrying."""
    return status == runlog.FAILED and (error or "").startswith("WarehouseError")


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
