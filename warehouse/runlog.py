"""The run log, cursors, quarantine and run-now requests: reads and writes of the operational
tables, shared by the runner, the scheduler, the CLI and the dashboard's data page.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, case, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from core.privacy import redact
from warehouse.engine import SQLITE_BUSY_TIMEOUT_S, app_engine, utcnow, write_transaction
from warehouse.locks import Holder, live_holders
from warehouse.schema import ingest_runs, ingest_state, quarantine, run_requests

RUNNING, SUCCEEDED, FAILED, SKIPPED = "running", "succeeded", "failed", "skipped"
# no_input: the source offered nothing to read (no file matched; a full read came back empty);
# interrupted: the process running it stopped (killed, machine restarted) before it finished
NO_INPUT, INTERRUPTED = "no_input", "interrupted"
# the runs that say something about a source's state; skipped and interrupted ones do not
DECISIVE = (SUCCEEDED, FAILED, NO_INPUT)
INTERRUPTED_MESSAGE = ("interrupted: the process stopped (killed, or its machine restarted) "
                       "before the run finished; nothing from it was kept")
_BUSY_TIMEOUT_0 = "PRAGMA busy_timeout = 0"
_BUSY_TIMEOUT_BACK = f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}"
_PG_NO_WAIT = "SET LOCAL lock_timeout = '500ms'"


def start_run(engine: Engine, source: str, trigger: str) -> int:
    """Record a run as started; returns its id (committed at once so it shows while running)."""
    with write_transaction(engine) as conn:
        res = conn.execute(
            insert(ingest_runs).values(
                source=source, trigger=trigger, started_at=utcnow(), status=RUNNING,
                host=socket.gethostname(), pid=os.getpid(),
            ).returning(ingest_runs.c.run_id)
        )
        return int(res.scalar_one())


def finish_run(conn: Connection, run_id: int, status: str, *, error: str | None = None,
               **counts: int) -> None:
    """Close a run with its status and counts (inside the caller's transaction)."""
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "error": error}
    values.update({f"rows_{k}": v for k, v in counts.items()})
    conn.execute(update(ingest_runs).where(ingest_runs.c.run_id == run_id).values(**values))


def fail_run(engine: Engine, run_id: int, error: str, status: str = FAILED) -> None:
    with write_transaction(engine) as conn:
        finish_run(conn, run_id, status, error=error)


def mark_interrupted(conn: Connection, source: str, except_run: int) -> int:
    """Runs of ``source`` still 'running' while we hold its lock were killed: say so."""
    res = conn.execute(
        update(ingest_runs)
        .where(ingest_runs.c.source == source, ingest_runs.c.status == RUNNING,
               ingest_runs.c.run_id != except_run)
        .values(status=INTERRUPTED, finished_at=utcnow(), error=INTERRUPTED_MESSAGE)
    )
    return int(res.rowcount or 0)


def settle_interrupted(engine: Engine) -> list[int]:
    """Runs logged as 'running' whose process is gone are marked ``interrupted``; returns
    their ids. Called by every reader of the run log (``runs``, the dashboard, the scheduler).

    A run is alive exactly while its process holds the source's lock (the run row is written
    after the lock is taken and closed before it is released), so liveness is the lock's:
    pid and process start on this host, lease or advisory lock otherwise. Reads first; writes
    only when a run has died, and never waits for a busy warehouse: the caller shows the ids
    as interrupted anyway and the next reader writes them."""
    r = ingest_runs.c
    with engine.connect() as conn:
        running = conn.execute(select(r.run_id, r.source, r.host, r.pid)
                               .where(r.status == RUNNING)).all()
    if not running:
        return []
    holders = live_holders(engine)  # read after the runs: a run that finished meanwhile is
    dead = [row.run_id for row in running  # no longer 'running' below, and stays as it is
            if not _held_by(holders.get(row.source), row.host, row.pid)]
    if dead:
        _mark_without_waiting(engine, dead)
    return dead


def fail_dead_run(engine: Engine, source: str, pid: int | None, error: str) -> int | None:
    """The run of ``source`` that process ``pid`` of this host left 'running' when it died
    (``gongzhi ingest --jobs``: a child killed) is logged failed with ``error``; returns its
    id (None when the process died before it started one). Never waits for a busy warehouse:
    the run is then left to :func:`settle_interrupted`, which the next reader calls."""
    r = ingest_runs.c
    with engine.connect() as conn:
        run_id = conn.execute(select(func.max(r.run_id)).where(
            r.source == source, r.status == RUNNING, r.host == socket.gethostname(),
            r.pid == pid)).scalar_one_or_none()
    if run_id is not None:
        _mark_without_waiting(engine, [run_id], status=FAILED, error=error)
    return run_id


def _held_by(holder: Holder | None, host: str | None, pid: int | None) -> bool:
    return holder is not None and holder.host == host and holder.pid == pid


def _mark_without_waiting(engine: Engine, run_ids: list[int], *, status: str = INTERRUPTED,
                          error: str = INTERRUPTED_MESSAGE) -> None:
    stmt = (update(ingest_runs)
            .where(ingest_runs.c.run_id.in_(run_ids), ingest_runs.c.status == RUNNING)
            .values(status=status, finished_at=utcnow(), error=error))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        raw: Any = conn.connection.driver_connection  # pragmas outside any transaction
        if sqlite:
            raw.execute(_BUSY_TIMEOUT_0)
        try:
            with conn.execution_options(sqlite_begin="IMMEDIATE").begin():
                if not sqlite:
                    conn.execute(text(_PG_NO_WAIT))
                conn.execute(stmt)
        except DBAPIError:
            pass  # busy (a merge holds the write lock) or read-only: the next reader writes it
        finally:
            if sqlite:
                raw.execute(_BUSY_TIMEOUT_BACK)


def get_cursor(engine: Engine, source: str) -> Any:
    with engine.connect() as conn:
        raw = conn.execute(
            select(ingest_state.c.cursor).where(ingest_state.c.source == source)
        ).scalar_one_or_none()
    return json.loads(raw) if raw else None


def put_cursor(conn: Connection, source: str, cursor: Any, run_id: int) -> None:
    """Store the cursor inside the data's transaction: it moves only with the data."""
    text = json.dumps(cursor, ensure_ascii=False, default=str)
    res = conn.execute(
        update(ingest_state).where(ingest_state.c.source == source)
        .values(cursor=text, run_id=run_id, updated_at=utcnow())
    )
    if not res.rowcount:
        conn.execute(insert(ingest_state).values(source=source, cursor=text, run_id=run_id,
                                                 updated_at=utcnow()))


def add_quarantine(conn: Connection, run_id: int, source: str, table: str,
                   bad: pl.DataFrame) -> None:
    if bad.is_empty():
        return
    now = utcnow()
    rows = bad.with_columns(
        pl.lit(run_id).alias("run_id"), pl.lit(source).alias("source"),
        pl.lit(table).alias("table_name"), pl.lit(now).alias("created_at"),
    ).to_dicts()
    for i in range(0, len(rows), 5000):
        conn.execute(insert(quarantine), rows[i:i + 5000])


RUN_COLUMNS = ("run_id", "source", "trigger", "status", "started_at", "finished_at", "read",
               "loaded", "quarantined", "duplicates", "inserted", "updated", "retired",
               "deleted", "error")


def list_runs(engine: Engine, *, source: str | None = None, limit: int = 50,
              offset: int = 0) -> list[dict[str, Any]]:
    """Newest runs first, with counts under their short names (read, loaded, …); runs whose
    process is gone show as interrupted (and are marked so when the warehouse is free)."""
    dead = set(settle_interrupted(engine))
    r = ingest_runs.c
    stmt = select(
        r.run_id, r.source, r.trigger, r.status, r.started_at, r.finished_at,
        r.rows_read.label("read"), r.rows_loaded.label("loaded"),
        r.rows_quarantined.label("quarantined"), r.rows_duplicate.label("duplicates"),
        r.rows_inserted.label("inserted"), r.rows_updated.label("updated"),
        r.rows_retired.label("retired"), r.rows_deleted.label("deleted"), r.error,
    ).order_by(r.run_id.desc()).limit(limit).offset(offset)
    if source:
        stmt = stmt.where(r.source == source)
    with engine.connect() as conn:
        rows = [dict(m) for m in conn.execute(stmt).mappings()]
    for row in rows:
        if row["run_id"] in dead and row["status"] == RUNNING:  # not written yet: busy
            row.update(status=INTERRUPTED, error=INTERRUPTED_MESSAGE)
    return rows


def last_success(engine: Engine) -> dict[str, datetime]:
    """Latest finish time of a successful run, per source: how fresh each source's data is."""
    r = ingest_runs.c
    stmt = select(r.source, func.max(r.finished_at)).where(r.status == SUCCEEDED).group_by(
        r.source)
    with engine.connect() as conn:
        return {s: t for s, t in conn.execute(stmt)}


def source_states(engine: Engine) -> dict[str, dict[str, Any]]:
    """Per source: ``checked`` (the last successful run: the source answered), ``arrived``
    (the last run that brought data: rows loaded, unchanged ones included, or retired) and
    the latest decisive run's ``status``, ``at`` and ``message`` (skipped and interrupted
    runs say nothing about the source). ``warning`` holds the message when that run found
    no input, so every place that shows freshness can say so."""
    r = ingest_runs.c
    brought = (r.rows_loaded > 0) | (r.rows_retired > 0)
    agg = select(
        r.source,
        func.max(case((r.status == SUCCEEDED, r.finished_at))).label("checked"),
        func.max(case(((r.status == SUCCEEDED) & brought, r.finished_at))).label("arrived"),
        func.max(case((r.status.in_(DECISIVE), r.run_id))).label("latest"),
    ).group_by(r.source)
    with engine.connect() as conn:
        states = {row.source: {"checked": row.checked, "arrived": row.arrived,
                               "latest": row.latest} for row in conn.execute(agg)}
        ids = [v["latest"] for v in states.values() if v["latest"] is not None]
        latest = {row.source: row for row in conn.execute(
            select(r.source, r.status, r.finished_at, r.error).where(r.run_id.in_(ids)))}
    for source, state in states.items():
        row = latest.get(source)
        state.update(status=row.status if row else None, at=row.finished_at if row else None,
                     message=row.error if row else None)
        state["warning"] = state["message"] if state["status"] == NO_INPUT else None
        del state["latest"]
    return states


def last_started(engine: Engine, source: str, *, triggers: Sequence[str] | None = None
                 ) -> datetime | None:
    r = ingest_runs.c
    stmt = select(func.max(r.started_at)).where(r.source == source)
    if triggers:
        stmt = stmt.where(r.trigger.in_(list(triggers)))
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one_or_none()


def last_run(engine: Engine, source: str) -> dict[str, Any] | None:
    """The latest run of a source (status, error, started_at), or None."""
    r = ingest_runs.c
    with engine.connect() as conn:
        row = conn.execute(select(r.run_id, r.status, r.error, r.started_at)
                           .where(r.source == source).order_by(r.run_id.desc()).limit(1)
                           ).mappings().first()
    return dict(row) if row is not None else None


def list_quarantine(engine: Engine, *, source: str | None = None, run_id: int | None = None,
                    reason: str | None = None, limit: int = 100, offset: int = 0,
                    resolved: bool = False) -> list[dict[str, Any]]:
    """Quarantined rows, newest first: the open ones (``resolved``: the ones a reprocess run
    loaded). Raw rows and messages were redacted when stored, column by column (codes kept:
    a 15-digit grid code looks like an old ID number); file names pass the step again."""
    q = quarantine.c
    stmt = select(q.id, q.run_id, q.source, q.table_name, q.origin, q.sheet, q.row_number,
                  q.column_name, q.reason, q.message, q.raw, q.created_at, q.resolved_run_id)
    stmt = stmt.where(q.resolved_run_id.is_not(None) if resolved else q.resolved_run_id.is_(None))
    if source:
        stmt = stmt.where(q.source == source)
    if run_id is not None:
        stmt = stmt.where(q.run_id == run_id)
    if reason:
        stmt = stmt.where(q.reason == reason)
    stmt = stmt.order_by(q.id.desc()).limit(limit).offset(offset)
    with engine.connect() as conn:
        rows = [dict(m) for m in conn.execute(stmt).mappings()]
    for r in rows:
        if r["origin"]:
            r["origin"] = redact(r["origin"])
    return rows


def request_run(engine: Engine, source: str, requested_by: str | None = None) -> int:
    """Ask the scheduler process to run ``source`` soon (the dashboard's "run now")."""
    engine = app_engine(engine)
    with write_transaction(engine) as conn:
        res = conn.execute(insert(run_requests).values(
            source=source, requested_at=utcnow(), requested_by=requested_by
        ).returning(run_requests.c.id))
        return int(res.scalar_one())


def take_requests(engine: Engine, sources: Iterable[str]) -> list[dict[str, Any]]:
    """Claim the pending run-now requests for ``sources`` (marks them picked)."""
    engine = app_engine(engine)
    rq = run_requests.c
    with write_transaction(engine) as conn:
        rows = [dict(m) for m in conn.execute(
            select(rq.id, rq.source, rq.requested_by).where(
                rq.picked_at.is_(None), rq.source.in_(list(sources))).order_by(rq.id)
        ).mappings()]
        if rows:
            conn.execute(update(run_requests).where(rq.id.in_([r["id"] for r in rows]))
                         .values(picked_at=utcnow()))
    return rows


def pending_requests(engine: Engine) -> list[dict[str, Any]]:
    engine = app_engine(engine)
    rq = run_requests.c
    with engine.connect() as conn:
        return [dict(m) for m in conn.execute(
            select(rq.id, rq.source, rq.requested_at, rq.requested_by, rq.picked_at, rq.run_id)
            .order_by(rq.id.desc()).limit(50)).mappings()]
