"""One active scheduler per warehouse: ``gongzhi schedule`` until SIGTERM/SIGINT.

Several schedulers may be started on one warehouse (one per machine of a cluster, for a
spare): the one holding the cluster's scheduler lock in the database schedules; the others
stand by and take over within ``poll_seconds`` of its process or connection going away.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import traceback
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from core.errors import LockBusy
from ingest.schedule_log import ZoneFormatter
from warehouse.locks import HOST, live_holders, source_lock

if TYPE_CHECKING:
    from ingest.scheduler import SchedulerService

# The lock that makes one scheduler the active one in a cluster (not a source id: those are
# lower-case words, so this name never clashes with one).
CLUSTER_LOCK = "*scheduler"


def serve(service: SchedulerService) -> None:
    """Run ``service`` until SIGTERM/SIGINT, then stop cleanly, waiting for running loads:
    scheduling while it holds the cluster's lock, standing by while another one does."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(ZoneFormatter(service.tz))
    aps = logging.getLogger("apscheduler")
    aps.addHandler(handler)
    aps.setLevel(logging.WARNING)  # misfires and skipped instances, not every job start
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        service.log(f"received {signal.Signals(signum).name}: stopping after running loads")
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        waiting = False
        while not stop.is_set():
            try:
                _lead(service, stop)
                waiting = False
            except LockBusy:
                if not waiting:
                    service.log(f"standing by: scheduler {_leader(service.engine)} runs the "
                                "schedule; this one takes over when it stops")
                    waiting = True
                stop.wait(service.settings.scheduler.poll_seconds)
            except Exception as e:  # the database is away: try again, say so once
                last = traceback.format_exception_only(type(e), e)[-1].strip()
                service.log(f"cannot take the scheduler lock: {last}; retrying")
                stop.wait(service.settings.scheduler.poll_seconds)
    finally:
        for s, h in previous.items():  # a second signal acts as usual
            signal.signal(s, h)
        aps.removeHandler(handler)


def _lead(service: SchedulerService, stop: threading.Event) -> None:
    """Hold the cluster's scheduler lock and schedule until ``stop`` or the lock is lost
    (raises :class:`LockBusy` at once when another scheduler holds it)."""
    conf = service.settings.scheduler
    with source_lock(service.engine, CLUSTER_LOCK, lease_seconds=conf.lease_seconds) as lock:
        service.log(f"active: this scheduler ({HOST}:{os.getpid()}) runs the schedule")
        try:
            service.start()
            check_every = max(1.0, conf.lease_seconds / 3)
            while not stop.wait(check_every):
                if not _still_leading(service.engine, lock.holder.id):
                    service.log("lost the scheduler lock (connection to the warehouse lost "
                                "or taken over): stopping, then standing by")
                    break
        finally:
            service.shutdown(wait=True)


def _leader(engine: Engine) -> str:
    with contextlib.suppress(Exception):
        held = live_holders(engine).get(CLUSTER_LOCK)
        if held is not None:
            return str(held)
    return "elsewhere"


def _still_leading(engine: Engine, holder_id: str) -> bool:
    try:
        held = live_holders(engine).get(CLUSTER_LOCK)
    except Exception:  # the warehouse is away for a moment: each load has its own lock
        return True
    return held is not None and held.id == holder_id
