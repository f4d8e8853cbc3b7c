"""One loader per source at a time, across processes: schedulers, manual runs, run-now.

PostgreSQL: a session advisory lock, released by the server if the holder dies.
Embedded SQLite: a lease row (holder, host, pid, expiry) renewed by a heartbeat thread; a lease
whose holder process is gone on this host, or whose expiry has passed, may be taken over, so a
run killed with SIGKILL does not block the next one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import Engine, delete, insert, select, text, update

from gongzhi.errors import LockBusy
from warehouse.engine import utcnow, write_transaction
from warehouse.schema import ingest_locks

HOST = socket.gethostname()


def _advisory_key(source_id: str) -> int:
    digest = hashlib.sha256(f"gongzhi:source:{source_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def source_lock(engine: Engine, source_id: str, *, lease_seconds: float = 120.0) -> Iterator[None]:
    """Hold the per-source lock for the body; raise :class:`LockBusy` if another holds it."""
    if engine.dialect.name == "postgresql":
        with _advisory(engine, source_id):
            yield
    else:
        with _lease(engine, source_id, lease_seconds):
            yield


# Two keys: the warehouse (database and schema, so installations sharing a server do not
# block each other) and the source.
_SPACE = "hashtext(current_database() || '.' || current_schema())"


@contextmanager
def _advisory(engine: Engine, source_id: str) -> Iterator[None]:
    key = _advisory_key(source_id) % 2**31
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        got = conn.execute(text(f"SELECT pg_try_advisory_lock({_SPACE}, :k)"),
                           {"k": key}).scalar_one()
        if not got:
            raise LockBusy(f"source '{source_id}' is being loaded by another process")
        try:
            yield
        finally:
            # a lost connection has released the lock already: nothing to undo then
            with contextlib.suppress(Exception):
                conn.execute(text(f"SELECT pg_advisory_unlock({_SPACE}, :k)"), {"k": key})


@contextmanager
def _lease(engine: Engine, source_id: str, lease_seconds: float) -> Iterator[None]:
    holder = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    lease = timedelta(seconds=lease_seconds)
    t = ingest_locks
    with write_transaction(engine) as conn:
        row = conn.execute(select(t).where(t.c.source == source_id)).mappings().first()
        now = utcnow()
        if row is not None:
            stale = row["expires_at"] < now or (row["host"] == HOST and not pid_alive(row["pid"]))
            if not stale:
                raise LockBusy(
                    f"source '{source_id}' is being loaded by {row['holder']} "
                    f"(since {row['acquired_at']:%Y-%m-%d %H:%M:%S} UTC)"
                )
            conn.execute(delete(t).where(t.c.source == source_id))
        conn.execute(
            insert(t).values(source=source_id, holder=holder, host=HOST, pid=os.getpid(),
                             acquired_at=now, expires_at=now + lease)
        )

    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(lease_seconds / 3):
            try:
                with write_transaction(engine) as c:
                    c.execute(update(t).where(t.c.source == source_id, t.c.holder == holder)
                              .values(expires_at=utcnow() + lease))
            except Exception:  # a busy database delays one beat; the lease still has time
                pass

    beat = threading.Thread(target=heartbeat, name=f"lease-{source_id}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()
        with write_transaction(engine) as conn:
            conn.execute(delete(t).where(t.c.source == source_id, t.c.holder == holder))
