"""Reprocess requests: the dashboard asks, the scheduler process does (like run-now requests,
nothing is ingested inside Streamlit). Kept beside the accounts and the audit log (on SQLite in
``<warehouse>-app.db``), so asking never waits for a running load."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select, update

from warehouse.engine import app_engine, utcnow, write_transaction
from warehouse.schema import reprocess_requests

rq = reprocess_requests.c


def request_reprocess(engine: Engine, *, source: str | None, reason: str | None,
                      run_id: int | None, requested_by: str) -> int:
    """Ask the scheduler process to reprocess quarantined rows; returns the request's id
    (the caller checks the reason: ``core.reasons.check_reprocessable``)."""
    with write_transaction(app_engine(engine)) as conn:
        res = conn.execute(insert(reprocess_requests).values(
            source=source, reason=reason, run_id=run_id, requested_at=utcnow(),
            requested_by=requested_by).returning(rq.id))
        return int(res.scalar_one())


def take_reprocess(engine: Engine) -> list[dict[str, Any]]:
    """Claim the pending requests (marks them picked)."""
    with write_transaction(app_engine(engine)) as conn:
        rows = [dict(m) for m in conn.execute(
            select(rq.id, rq.source, rq.reason, rq.run_id, rq.requested_by)
            .where(rq.picked_at.is_(None)).order_by(rq.id)).mappings()]
        if rows:
            conn.execute(update(reprocess_requests).where(rq.id.in_([r["id"] for r in rows]))
                         .values(picked_at=utcnow()))
    return rows


def release_reprocess(engine: Engine, request_id: int) -> None:
    """Hand a claimed request back (the scheduler stopped before doing it)."""
    with write_transaction(app_engine(engine)) as conn:
        conn.execute(update(reprocess_requests)
                     .where(rq.id == request_id, rq.finished_at.is_(None))
                     .values(picked_at=None))


def finish_reprocess(engine: Engine, request_id: int, outcome: str) -> None:
    """Record what a request did (shown on the dashboard)."""
    with write_transaction(app_engine(engine)) as conn:
        conn.execute(update(reprocess_requests).where(rq.id == request_id)
                     .values(finished_at=utcnow(), outcome=outcome))


def recent_reprocess(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    """The latest requests, newest first."""
    with app_engine(engine).connect() as conn:
        return [dict(m) for m in conn.execute(
            select(rq.id, rq.source, rq.reason, rq.run_id, rq.requested_at, rq.requested_by,
                   rq.picked_at, rq.finished_at, rq.outcome)
            .order_by(rq.id.desc()).limit(limit)).mappings()]
