"""Local accounts: argon2id password hashes, lock-out after repeated failures.

Sign-in gives one answer for every failure: a wrong password, an unknown name, a disabled
account and a locked one (:data:`FAILED`), and each costs the same argon2 check (an unknown
name, or an account without a password, is checked against a dummy hash), so neither the
words nor the time of the answer tell who has an account. Why it failed is kept for the
audit log (:attr:`SignInFailed.reason`), which only leaders read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, insert, select, update

from core.errors import GongzhiError
from core.roles import ROLES
from warehouse import sessions
from warehouse.engine import app_engine, utcnow, write_transaction
from warehouse.schema import users

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 10
# argon2id at OWASP's recommended minimum (19 MiB, 2 passes): a sign-in costs tens of
# milliseconds instead of the library default's 64 MiB, which matters when an office signs
# in at nine o'clock. Existing hashes keep their own parameters (they are in the hash).
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


class AccountError(GongzhiError):
    """An account could not be created, changed or used."""

    phase = "access"


FAILED = "wrong name or password, or the account is locked or disabled"
WRONG, UNKNOWN, DISABLED, LOCKED = "wrong_password", "unknown_name", "disabled", "locked"


class SignInFailed(AccountError):
    """Wrong name or password, a disabled account, or one locked after failures: one message
    for all (:data:`FAILED`); ``reason`` says which, for the audit log only."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(FAILED)


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    role: str
    area_code: str
    active: bool


def add_user(engine: Engine, username: str, password: str | None, role: str, area_code: str,
             display_name: str = "") -> None:
    engine = app_engine(engine)
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
    with write_transaction(engine) as conn:
        if conn.execute(select(users.c.username).where(users.c.username == username)).first():
            raise AccountError(f"user '{username}' exists already")
        conn.execute(insert(users).values(
            username=username, display_name=display_name or username,
            password_hash=_HASHER.hash(password) if password else None, role=role,
            area_code=area_code, active=True, failed_attempts=0, created_at=utcnow()))


def set_password(warehouse: Engine, username: str, password: str) -> None:
    engine = app_engine(warehouse)
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
    with write_transaction(engine) as conn:
        res = conn.execute(update(users).where(users.c.username == username).values(
            password_hash=_HASHER.hash(password), failed_attempts=0, locked_until=None))
        if not res.rowcount:
            raise AccountError(f"no user '{username}'")
    sessions.end_all(warehouse, username, sessions.PASSWORD)  # signed out everywhere


def disable_user(warehouse: Engine, username: str) -> None:
    engine = app_engine(warehouse)
    with write_transaction(engine) as conn:
        res = conn.execute(update(users).where(users.c.username == username)
                           .values(active=False))
        if not res.rowcount:
            raise AccountError(f"no user '{username}'")
    sessions.end_all(warehouse, username, sessions.DISABLED)  # out of every open dashboard


def list_users(engine: Engine) -> list[dict[str, Any]]:
    engine = app_engine(engine)
    u = users.c
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(u.username, u.display_name, u.role, u.area_code, u.active, u.failed_attempts,
                   u.locked_until, u.last_login_at).order_by(u.username)).mappings()]


def get_account(engine: Engine, username: str) -> Account | None:
    engine = app_engine(engine)
    u = users.c
    with engine.connect() as conn:
        row = conn.execute(select(u.username, u.display_name, u.role, u.area_code, u.active)
                           .where(u.username == username)).first()
    return Account(*row) if row else None


def verify(engine: Engine, username: str, password: str) -> Account:
    """Check a password; count failures and lock the account after ``MAX_FAILURES``.

    Every failure raises :class:`SignInFailed` with the same message, after the same work.
    """
    engine = app_engine(engine)
    now = utcnow()
    with write_transaction(engine) as conn:
        row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
        stored = row["password_hash"] if row is not None else None
        # one argon2 check on every path (a dummy hash when there is nothing to check): an
        # unknown name must not answer faster than a known one
        matches = _password_ok(stored or _dummy_hash(), password) and bool(stored)
        if row is None:
            reason: str | None = UNKNOWN
        elif not row["active"]:
            reason = DISABLED
        elif row["locked_until"] is not None and row["locked_until"] > now:
            reason = LOCKED
        elif not matches:
            reason = WRONG
            failures = int(row["failed_attempts"] or 0) + 1
            locked = now + timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILURES else None
            conn.execute(update(users).where(users.c.username == username).values(
                failed_attempts=0 if locked else failures, locked_until=locked))
        else:
            reason = None
            conn.execute(update(users).where(users.c.username == username).values(
                failed_attempts=0, locked_until=None, last_login_at=now))
    if reason is not None or row is None:
        raise SignInFailed(reason or UNKNOWN)
    return Account(row["username"], row["display_name"] or row["username"], row["role"],
                   row["area_code"], True)


@cache
def _dummy_hash() -> str:
    """A hash with the same parameters as real ones, for checks that must cost the same."""
    return _HASHER.hash("gongzhi: no such account")


def _password_ok(stored: str | None, password: str) -> bool:
    if not stored:
        return False  # OIDC-only account: no local password
    try:
        return bool(_HASHER.verify(stored, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
