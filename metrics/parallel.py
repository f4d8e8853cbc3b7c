"""A computation's independent statements side by side on a few connections (issue 15:
overview after a fresh ingest ≤ 3 s at 100M cases).

The overview asks about a hundred statements, each waiting on the server while the others
could run: on PostgreSQL each connection is a server process of its own, so two of them use
two cores (measured on 750k cases: 0.59 s of the 1.4 s cold overview in the server, one
statement after another). The caller works through the statements itself and, with
``threads`` > 1, lends the rest to the process's helper threads: at most ``threads`` − 1 of
them, shared by every computation of the process, so a dashboard server under load opens no
more than that many connections besides its users' own, and a computation never waits for a
helper (when the helpers are busy, its own thread does every statement).

SQLite defaults to one thread: the caller's one connection then takes every statement, so
a computation reads one snapshot (SQLite's read transaction lasts as long as the
connection's), as it always did; an in-memory warehouse is one connection anyway.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import Connection, Engine

Unit = Callable[[Connection], None]
POSTGRES_THREADS = 2  # connections one computation uses at most, by default, on PostgreSQL

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def default_threads(engine: Engine) -> int:
    """Connections one computation uses by default: 2 on PostgreSQL, 1 elsewhere."""
    return POSTGRES_THREADS if engine.dialect.name == "postgresql" else 1


def _helpers(size: int) -> ThreadPoolExecutor:
    """The process's helper threads (``size`` of them; grown, never shrunk, when a later
    computation asks for more)."""
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < size:
            old, _pool, _pool_size = _pool, ThreadPoolExecutor(
                size, thread_name_prefix="gongzhi-query"), size
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def run_all(engine: Engine, units: Sequence[Unit], threads: int,
            conn: Connection | None = None) -> None:
    """Run every unit (each given a connection of ``engine``), on up to ``threads``
    connections at once; the first error raised by one is raised here, after the units
    already started have ended (the rest are not started). ``conn``: the caller's own
    connection, which its thread uses (with one thread, every unit: one snapshot on SQLite,
    whose read transaction lasts as long as the connection's)."""
    if not units:
        return
    todo: queue.SimpleQueue[Unit] = queue.SimpleQueue()
    for u in units:
        todo.put(u)
    failed: list[BaseException] = []

    def work(c: Connection) -> None:
        while not failed:
            try:
                unit = todo.get_nowait()
            except queue.Empty:
                return
            try:
                unit(c)
            except BaseException as e:
                failed.append(e)
                raise

    def drain() -> None:
        if todo.empty():  # a helper that starts late: nothing left, no connection taken
            return
        with engine.connect() as c:
            work(c)

    helpers = min(threads, len(units)) - 1
    futures: list[Future[None]] = []
    if helpers > 0:
        pool = _helpers(threads - 1)
        futures = [pool.submit(drain) for _ in range(helpers)]
    try:
        if conn is not None:
            work(conn)
        else:
            drain()
    finally:
        for f in futures:
            # a helper still queued behind other computations' is not waited for
            if not f.cancel():
                f.exception()
    if failed:
        raise failed[0]
