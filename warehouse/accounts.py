"""Local accounts: argon2id password hashes, lock-out after repeated failures.

Sign-in answers the same "wrong name or password" for an unknown name and a wrong password,
so the form cannot be used to find out who has an account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, insert, select, update

from gongzhi.errors import GongzhiError
from warehouse.engine import app_engine, utcnow, write_transaction
from warehouse.schema import ROLES, users

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


class SignInFailed(AccountError):
    """Wrong name or password, a disabled account, or one locked after failures."""


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


def set_password(engine: Engine, username: str, password: str) -> None:
    engine = app_engine(engine)
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
    with write_transaction(engine) as conn:
        res = conn.execute(update(users).where(users.c.username == username).values(
            password_hash=_HASHER.hash(password), failed_attempts=0, locked_until=None))
        if not res.rowcount:
            raise AccountError(f"no user '{username}'")


def disable_user(engine: Engine, username: str) -> None:
    engine = app_engine(engine)
    with write_transaction(engine) as conn:
        res = conn.execute(update(users).where(users.c.username == username)
                           .values(active=False))
        if not res.rowcount:
            raise AccountError(f"no user '{username}'")


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
    """Check a password; count failures and lock the account after ``MAX_FAILURES``."""
    engine = app_engine(engine)
    now = utcnow()
    failure: SignInFailed | None = None
    with write_transaction(engine) as conn:
        row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
        if row is None:
            _HASHER.hash(password)  # same work as a real check: no timing hint
            failure = SignInFailed("wrong name or password")
        elif not row["active"]:
            failure = SignInFailed("this account is disabled")
        elif row["locked_until"] is not None and row["locked_until"] > now:
            failure = SignInFailed("too many failed attempts: the account is locked for "
                                   f"{LOCK_MINUTES} minutes")
        elif not _password_ok(row["password_hash"], password):
            failures = int(row["failed_attempts"] or 0) + 1
            locked = now + timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILURES else None
            conn.execute(update(users).where(users.c.username == username).values(
                failed_attempts=0 if locked else failures, locked_until=locked))
            failure = SignInFailed("wrong name or password")
        else:
            conn.execute(update(users).where(users.c.username == username).values(
                failed_attempts=0, locked_until=None, last_login_at=now))
    if failure is not None or row is None:
        raise failure or SignInFailed("wrong name or password")
    return Account(row["username"], row["display_name"] or row["username"], row["role"],
                   row["area_code"], True)


def _password_ok(stored: str | None, password: str) -> bool:
    if not stored:
        return False  # OIDC-only account: no local password
    try:
        return bool(_HASHER.verify(stored, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
