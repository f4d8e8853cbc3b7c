"""Signed-in dashboard sessions, kept server-side (``user_sessions`` in the app database).

A sign-in starts a session row. The browser gets it as a random token in an HttpOnly,
SameSite=Strict cookie, set by a small route of the dashboard's server in exchange for a
one-time code (:func:`start` makes the code, :func:`claim` trades it for the token once,
within :data:`HANDOFF_SECONDS`). The table keeps only SHA-256 digests of codes and tokens.
Every page run checks its session here (:func:`check`): ended on sign-out (in every tab at
once), after ``idle`` seconds without activity, after ``max_age`` seconds in all, and as soon
as the account is disabled or its password changed (:func:`end_all`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from warehouse.engine import app_engine, utcnow, write_transaction
from warehouse.schema import user_sessions, users

HANDOFF_SECONDS = 60
SIGNED_OUT, IDLE, EXPIRED, DISABLED, PASSWORD = (
    "signed_out", "idle", "expired", "disabled", "password")


@dataclass(frozen=True)
class Live:
    """A session that may go on: whose it is (the account as it is now)."""

    username: str
    display_name: str
    role: str
    area_code: str


@dataclass(frozen=True)
class Ended:
    """A session that is over, and why (one of the reasons above)."""

    reason: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def start(engine: Engine, username: str) -> tuple[str, str]:
    """A new session for ``username``: its id (for the Streamlit session that signed in) and
    a one-time code that the cookie route trades for the browser's token."""
    engine = app_engine(engine)
    sid, code = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    with write_transaction(engine) as conn:
        conn.execute(insert(user_sessions).values(
            id=sid, handoff_hash=_digest(code),
            handoff_until=now + dt.timedelta(seconds=HANDOFF_SECONDS), username=username,
            created_at=now, last_seen_at=now))
    return sid, code


def claim(engine: Engine, code: str) -> str | None:
    """Trade a one-time code for the session's browser token (once, while fresh and live);
    None for an unknown, used, stale or ended one."""
    if not code:
        return None
    engine = app_engine(engine)
    s = user_sessions.c
    now = utcnow()
    token = secrets.token_urlsafe(32)
    with write_transaction(engine) as conn:
        res = conn.execute(update(user_sessions).where(
            s.handoff_hash == _digest(code), s.handoff_until >= now, s.ended_at.is_(None),
        ).values(token_hash=_digest(token), handoff_hash=None, handoff_until=None))
        return token if res.rowcount == 1 else None


def by_token(engine: Engine, token: str) -> str | None:
    """The id of the live session a browser token belongs to, or None."""
    if not token:
        return None
    engine = app_engine(engine)
    s = user_sessions.c
    with engine.connect() as conn:
        return conn.execute(select(s.id).where(s.token_hash == _digest(token),
                                               s.ended_at.is_(None))).scalar_one_or_none()


def check(engine: Engine, sid: str, *, idle: float, max_age: float,
          touch_after: float = 60.0) -> Live | Ended:
    """Whether session ``sid`` may go on. Ends it when it has been idle longer than ``idle``
    seconds, lived longer than ``max_age``, or its account is gone or disabled; otherwise
    records the activity (at most every ``touch_after`` seconds: one small write a minute)."""
    app = app_engine(engine)
    s, u = user_sessions.c, users.c
    now = utcnow()
    stmt = (select(s.ended_at, s.end_reason, s.created_at, s.last_seen_at, u.username,
                   u.display_name, u.role, u.area_code, u.active)
            .select_from(user_sessions.outerjoin(users, u.username == s.username))
            .where(s.id == sid))
    with app.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        return Ended(SIGNED_OUT)
    if row.ended_at is not None:
        return Ended(row.end_reason or SIGNED_OUT)
    reason = None
    if row.username is None or not row.active:
        reason = DISABLED
    elif (now - row.last_seen_at).total_seconds() > idle:
        reason = IDLE
    elif (now - row.created_at).total_seconds() > max_age:
        reason = EXPIRED
    if reason is not None:
        end(engine, sid, reason)  # the warehouse's engine: end() finds the app file itself
        return Ended(reason)
    if (now - row.last_seen_at).total_seconds() >= touch_after:
        with write_transaction(app) as conn:
            conn.execute(update(user_sessions).where(s.id == sid, s.ended_at.is_(None))
                         .values(last_seen_at=now))
    return Live(row.username, row.display_name or row.username, row.role, row.area_code)


def end(engine: Engine, sid: str, reason: str = SIGNED_OUT) -> None:
    """End one session (every tab and cookie that holds it)."""
    engine = app_engine(engine)
    s = user_sessions.c
    with write_transaction(engine) as conn:
        conn.execute(update(user_sessions).where(s.id == sid, s.ended_at.is_(None)).values(
            ended_at=utcnow(), end_reason=reason, handoff_hash=None, handoff_until=None))


def end_by_token(engine: Engine, token: str, reason: str = SIGNED_OUT) -> None:
    """End the session a browser token belongs to (the sign-out route)."""
    sid = by_token(engine, token)
    if sid is not None:
        end(engine, sid, reason)


def end_all(engine: Engine, username: str, reason: str) -> int:
    """End every session of ``username`` (account disabled, password changed)."""
    engine = app_engine(engine)
    s = user_sessions.c
    with write_transaction(engine) as conn:
        res = conn.execute(update(user_sessions).where(
            s.username == username, s.ended_at.is_(None)).values(
            ended_at=utcnow(), end_reason=reason, handoff_hash=None, handoff_until=None))
        return int(res.rowcount or 0)
