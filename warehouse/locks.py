"""One loader per source at a time, across processes: schedulers, manual runs, run-now.

Two parts, so that at most one run of a source ever commits:

* **The lock.** PostgreSQL: a session advisory lock, released by the server when its holder's
  connection goes. Embedded SQLite: a lease row in ``ingest_locks`` naming its holder by host,
  pid and process start time (the start time tells a live holder from a new process that
  reuses its pid). On the holder's own host the lease is taken over only when that process is
  gone, however long ago it was renewed: a holder whose heartbeat is blocked (another writer
  holds SQLite's write lock longer than the lease, the process is paused) is alive and keeps
  it. Only a holder on another host, whose process cannot be seen, loses the lease once it
  expires.
* **The fence.** Each acquisition writes a fresh holder id into the source's ``ingest_locks``
  row (on both engines). The run's commit transaction first checks that the row still names
  it (:meth:`SourceLock.check`; SQLite holds the write lock from ``BEGIN IMMEDIATE``,
  PostgreSQL locks the row ``FOR UPDATE``), so a run whose lock was taken over, or whose
  advisory lock went with a lost connection, fails instead of committing a second time.
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
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    cast,
    column,
    delete,
    func,
    insert,
    select,
    table,
    update,
)

from core.errors import LockBusy, LockLost
from warehouse.engine import utcnow, write_transaction
from warehouse.schema import ingest_locks

HOST = socket.gethostname()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@cache
def _boot_id() -> str:
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    return ""


def process_start(pid: int) -> str | None:
    """An identity of process ``pid``'s start: boot id and start time in clock ticks since
    boot (Linux ``/proc``), immune to wall-clock changes. None when there is no such process;
    ``""`` where the platform cannot tell (then the pid alone is trusted)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return "" if pid_alive(pid) else None
    # the command name (field 2) may hold spaces and ')': the fields after its last ')'
    fields = stat.rsplit(")", 1)[1].split()
    return f"{_boot_id()}-{fields[19]}"  # field 22 of the line: starttime


def _my_start() -> str:
    return process_start(os.getpid()) or ""


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a lock: host, pid and process start, plus a nonce per acquisition
    (the fencing id)."""

    host: str
    pid: int
    start: str
    nonce: str

    @property
    def id(self) -> str:
        return f"{self.pid}:{self.start}:{self.nonce}"

    @classmethod
    def mine(cls) -> Holder:
        return cls(HOST, os.getpid(), _my_start(), uuid.uuid4().hex[:12])

    @classmethod
    def from_row(cls, host: str, pid: int, holder: str) -> Holder:
        parts = holder.split(":")
        if len(parts) == 3 and parts[0] == str(pid):
            return cls(host, pid, parts[1], parts[2])
        return cls(host, pid, "", holder)  # written by an older release: pid only

    def alive(self) -> bool | None:
        """True or False for a holder on this host; None (cannot tell) on another host."""
        if self.host != HOST:
            return None
        now = process_start(self.pid)
        if now is None:
            return False
        return not self.start or not now or now == self.start

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"


class SourceLock:
    """A held lock on one source; :meth:`check` is the fence its commit passes through."""

    def __init__(self, source: str, holder: Holder):
        self.source = source
        self.holder = holder

    def check(self, conn: Connection) -> None:
        """Inside the run's commit transaction: raise :class:`LockLost` unless this lock is
        still the source's current one."""
        t = ingest_locks.c
        stmt = select(t.holder, t.host, t.pid).where(t.source == self.source)
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()  # a newcomer's takeover waits for this commit
        row = conn.execute(stmt).first()
        if row is None or row.holder != self.holder.id or row.host != self.holder.host:
            now = (f"now held by {row.host}:{row.pid}" if row is not None
                   else "taken over by another run, which has finished")
            raise LockLost(
                f"source '{self.source}' lost its lock while this run was loading ({now}); "
                "nothing from this run was kept, so the rows are counted once")


@contextmanager
def source_lock(engine: Engine, source_id: str, *, lease_seconds: float = 120.0
                ) -> Iterator[SourceLock]:
    """Hold the per-source lock for the body; raise :class:`LockBusy` if another holds it."""
    if engine.dialect.name == "postgresql":
        with _advisory(engine, source_id) as lock:
            yield lock
    else:
        with _lease(engine, source_id, lease_seconds) as lock:
            yield lock


def _advisory_key(source_id: str) -> int:
    digest = hashlib.sha256(f"gongzhi:source:{source_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True) % 2**31


def _space() -> Any:
    """The first key: the warehouse (database and schema), so installations sharing a server
    do not block each other."""
    return func.hashtext(func.concat(func.current_database(), ".", func.current_schema()))


@contextmanager
def _advisory(engine: Engine, source_id: str) -> Iterator[SourceLock]:
    key = _advisory_key(source_id)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        got = conn.execute(select(func.pg_try_advisory_lock(_space(), key))).scalar_one()
        if not got:
            raise LockBusy(f"source '{source_id}' is being loaded by another process")
        lock = SourceLock(source_id, Holder.mine())
        try:
            with write_transaction(engine) as w:
                _write_row(w, lock, timedelta(days=3650))  # held until the server says not
            yield lock
        finally:
            # a lost connection has released the lock already: nothing to undo then
            with contextlib.suppress(Exception):
                conn.execute(select(func.pg_advisory_unlock(_space(), key)))
            with contextlib.suppress(Exception):
                _delete_row(engine, lock)


def _write_row(conn: Connection, lock: SourceLock, lease: timedelta) -> None:
    t, h, now = ingest_locks, lock.holder, utcnow()
    conn.execute(delete(t).where(t.c.source == lock.source))
    conn.execute(insert(t).values(source=lock.source, holder=h.id, host=h.host, pid=h.pid,
                                  acquired_at=now, expires_at=now + lease))


def _delete_row(engine: Engine, lock: SourceLock) -> None:
    t = ingest_locks
    with write_transaction(engine) as conn:
        conn.execute(delete(t).where(t.c.source == lock.source, t.c.holder == lock.holder.id))


@contextmanager
def _lease(engine: Engine, source_id: str, lease_seconds: float) -> Iterator[SourceLock]:
    lock = SourceLock(source_id, Holder.mine())
    lease = timedelta(seconds=lease_seconds)
    t = ingest_locks
    with write_transaction(engine) as conn:
        row = conn.execute(select(t).where(t.c.source == source_id)).mappings().first()
        if row is not None and not _stale(row, utcnow()):
            raise LockBusy(
                f"source '{source_id}' is being loaded by {row['host']}:{row['pid']} "
                f"(since {row['acquired_at']:%Y-%m-%d %H:%M:%S} UTC)")
        _write_row(conn, lock, lease)

    stop = threading.Event()

    def heartbeat() -> None:
        # Renewal matters only to processes on other hosts, which cannot see this one: on
        # this host the process itself is the proof of life. The fence guards the rest.
        while not stop.wait(lease_seconds / 3):
            try:
                with write_transaction(engine) as c:
                    c.execute(update(t).where(t.c.source == source_id,
                                              t.c.holder == lock.holder.id)
                              .values(expires_at=utcnow() + lease))
            except Exception:  # a busy database delays one beat
                pass

    beat = threading.Thread(target=heartbeat, name=f"lease-{source_id}", daemon=True)
    beat.start()
    try:
        yield lock
    finally:
        stop.set()
        beat.join()
        _delete_row(engine, lock)


def _stale(row: Any, now: datetime) -> bool:
    """A lease may be taken over when its holder is gone: on this host, when the process
    (pid and start) no longer runs; on another host, when it has not been renewed in time."""
    alive = Holder.from_row(row["host"], row["pid"], row["holder"]).alive()
    if alive is None:
        return bool(row["expires_at"] < now)
    return not alive


_PG_LOCKS = table("pg_locks", column("locktype"), column("classid"), column("objid"),
                  column("objsubid"), column("granted"))


def live_holders(engine: Engine) -> dict[str, Holder]:
    """Per source, the holder of its lock if that holder is alive now (read only).

    SQLite: the lease row, alive as :func:`_stale` decides. PostgreSQL: the row's holder
    while the source's advisory lock is granted to someone (the server drops it with the
    holder's connection, whatever host it is on)."""
    t = ingest_locks.c
    now = utcnow()
    with engine.connect() as conn:
        rows = conn.execute(select(t.source, t.holder, t.host, t.pid, t.expires_at)
                            ).mappings().all()
        if not rows:
            return {}
        if conn.dialect.name != "postgresql":
            return {r["source"]: Holder.from_row(r["host"], r["pid"], r["holder"])
                    for r in rows if not _stale(r, now)}
        space = conn.execute(select(_space())).scalar_one() & 0xFFFFFFFF
        p = _PG_LOCKS.c
        held = {int(k) for k in conn.execute(
            select(cast(p.objid, BigInteger)).where(
                p.locktype == "advisory", cast(p.classid, BigInteger) == space,
                p.objsubid == 2, p.granted.is_(True))).scalars()}
    return {r["source"]: Holder.from_row(r["host"], r["pid"], r["holder"])
            for r in rows if _advisory_key(r["source"]) in held}
