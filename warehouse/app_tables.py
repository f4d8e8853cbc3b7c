"""The application's own state: run-now and reprocess requests, accounts, dashboard sessions
and the audit log, on :data:`app_metadata`; re-exported by :mod:`warehouse.schema`."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text

from core.roles import ROLES
from warehouse.columns import OPERATIONAL

# -- the application's own state: accounts, the audit log, run-now requests ---------------------
# On SQLite these live in a file of their own beside the warehouse (``<name>-app.db``): an
# ingestion run holds the warehouse's single write lock for the whole merge, and signing in or
# writing an audit record must not wait for it. On PostgreSQL they sit in the same schema.
app_metadata = MetaData()

run_requests = Table(
    "run_requests",
    app_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("requested_at", DateTime, nullable=False),
    Column("requested_by", String(128)),
    Column("picked_at", DateTime),
    Column("run_id", Integer),
    info={"kind": OPERATIONAL},
)

# "Reprocess the quarantine" asked for on the dashboard, done by the scheduler process (like
# run-now requests: nothing is ingested inside Streamlit).
reprocess_requests = Table(
    "reprocess_requests",
    app_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64)),  # NULL: every source
    Column("reason", String(32)),  # NULL: the retryable reasons
    Column("run_id", Integer),  # NULL: rows of every run
    Column("requested_at", DateTime, nullable=False),
    Column("requested_by", String(128)),
    Column("picked_at", DateTime),
    Column("finished_at", DateTime),
    Column("outcome", Text),
    info={"kind": OPERATIONAL},
)


users = Table(
    "users",
    app_metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", String(128)),
    Column("password_hash", Text),  # argon2id; NULL for accounts that sign in with OIDC only
    Column("role", String(32), nullable=False, info={"enum": ROLES}),
    Column("area_code", String(32), nullable=False),  # the district, a street or a community
    Column("active", Boolean, nullable=False, default=True),
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked_until", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("last_login_at", DateTime),
    info={"kind": OPERATIONAL},
)

# Signed-in dashboard sessions (dashboard/auth.py, warehouse/sessions.py): the browser holds a
# random token in an HttpOnly cookie, the table only its SHA-256, so a copy of this file signs
# nobody in; ending a row signs that session out in every tab.
user_sessions = Table(
    "user_sessions",
    app_metadata,
    Column("id", String(64), primary_key=True),  # random; what a Streamlit session holds
    Column("token_hash", String(64), unique=True),  # the cookie's token, once handed over
    Column("handoff_hash", String(64), unique=True),  # one-time code that sets the cookie
    Column("handoff_until", DateTime),
    Column("username", String(64), nullable=False, index=True),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("ended_at", DateTime),
    Column("end_reason", String(32)),  # signed_out | idle | expired | disabled | password
    info={"kind": OPERATIONAL},
)

audit_log = Table(
    "audit_log",
    app_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("username", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", String(128), nullable=False),
    Column("filters", Text, nullable=False),
    Column("row_count", Integer, nullable=False),
    info={"kind": OPERATIONAL},
)
