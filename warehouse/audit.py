"""The audit log: who exported or viewed person-level rows, when, with which filters and how
many rows; who signed in (dashboard and CLI), who failed to, and who was denied what.
Append-only: the warehouse refuses UPDATE and DELETE on it (triggers on both engines; on
PostgreSQL also no UPDATE/DELETE/TRUNCATE grant for the application's roles)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text

from warehouse.engine import app_engine, utcnow, write_transaction
from warehouse.schema import audit_log

EXPORT, VIEW_ROWS, SIGN_IN, DENIED = "export", "view_rows", "sign_in", "denied"
SIGN_IN_FAILED = "sign_in_failed"  # the name as typed; the reason (for leaders) in filters


def record(engine: Engine, *, username: str, role: str, action: str, target: str,
           filters: dict[str, Any], row_count: int) -> None:
    """Append one audit record (its own transaction: it stays even if the caller fails)."""
    engine = app_engine(engine)
    with write_transaction(engine) as conn:
        conn.execute(insert(audit_log).values(
            at=utcnow(), username=username, role=role, action=action, target=target,
            filters=json.dumps(filters, ensure_ascii=False, sort_keys=True, default=str),
            row_count=row_count))


def entries(engine: Engine, *, limit: int = 200, offset: int = 0,
            username: str | None = None) -> list[dict[str, Any]]:
    engine = app_engine(engine)
    a = audit_log.c
    stmt = select(a.id, a.at, a.username, a.role, a.action, a.target, a.filters, a.row_count)
    if username:
        stmt = stmt.where(a.username == username)
    stmt = stmt.order_by(a.id.desc()).limit(limit).offset(offset)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def protect(conn: Connection) -> None:
    """Make the audit log append-only (idempotent; called by the migrations)."""
    if conn.dialect.name == "sqlite":
        for op in ("UPDATE", "DELETE"):
            conn.execute(text(
                f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{op.lower()} BEFORE {op} ON "
                f"audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"))
        return
    conn.execute(text("""
        CREATE OR REPLACE FUNCTION gongzhi_audit_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"""))
    conn.execute(text("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log"))
    conn.execute(text("""
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
        ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION gongzhi_audit_append_only()"""))
    conn.execute(text("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC"))


def grant_app_role(conn: Connection, role: str) -> None:
    """What a deployment grants the dashboard's database role on the audit log: read and
    append, nothing else."""
    from sqlalchemy.sql import quoted_name

    r = conn.dialect.identifier_preparer.quote(quoted_name(role, quote=True))
    conn.execute(text(f"GRANT SELECT, INSERT ON audit_log TO {r}"))
    conn.execute(text(f"GRANT USAGE ON SEQUENCE audit_log_id_seq TO {r}"))
    conn.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {r}"))
