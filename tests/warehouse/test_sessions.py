"""Server-side sessions (warehouse/sessions.py) on both engines, and sign-in failures that all
look and cost the same (warehouse/accounts.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select, update

from warehouse import accounts, sessions
from warehouse.engine import app_engine, sqlite_path, write_transaction
from warehouse.schema import user_sessions

PW = "district-leader-2024"


@pytest.fixture
def boss(engine: Engine) -> Engine:
    accounts.add_user(engine, "boss", PW, "leader", "420606000000", "区领导")
    return engine


def live(engine: Engine, sid: str, idle: float = 1800, max_age: float = 43200) -> object:
    return sessions.check(engine, sid, idle=idle, max_age=max_age)


def test_a_code_is_traded_once_for_a_token_that_finds_the_session(boss: Engine) -> None:
    sid, code = sessions.start(boss, "boss")
    token = sessions.claim(boss, code)
    assert token and sessions.by_token(boss, token) == sid
    assert sessions.claim(boss, code) is None  # one time only
    assert live(boss, sid) == sessions.Live("boss", "区领导", "leader", "420606000000")
    stale_sid, stale = sessions.start(boss, "boss")
    with write_transaction(app_engine(boss)) as c:  # a code older than its minute
        c.execute(update(user_sessions).where(user_sessions.c.id == stale_sid).values(
            handoff_until=dt.datetime(2000, 1, 1)))
    assert sessions.claim(boss, stale) is None
    assert sessions.claim(boss, "") is None and sessions.by_token(boss, "x") is None


def test_sessions_end_on_sign_out_disable_password_change_idle_and_age(boss: Engine) -> None:
    a, _ = sessions.start(boss, "boss")
    b, code = sessions.start(boss, "boss")
    token = sessions.claim(boss, code)
    assert token is not None
    sessions.end_by_token(boss, token)
    assert live(boss, b) == sessions.Ended(sessions.SIGNED_OUT)
    assert sessions.by_token(boss, token) is None  # a copied cookie opens nothing
    assert isinstance(live(boss, a), sessions.Live)  # another browser's session goes on
    accounts.set_password(boss, "boss", "a-new-password-2024")
    assert live(boss, a) == sessions.Ended(sessions.PASSWORD)
    c, _ = sessions.start(boss, "boss")
    assert live(boss, c, idle=0) == sessions.Ended(sessions.IDLE)
    assert live(boss, c) == sessions.Ended(sessions.IDLE)  # ended for good, not just refused
    d, _ = sessions.start(boss, "boss")
    assert live(boss, d, max_age=0) == sessions.Ended(sessions.EXPIRED)
    assert live(boss, d) == sessions.Ended(sessions.EXPIRED)
    e, _ = sessions.start(boss, "boss")
    accounts.disable_user(boss, "boss")
    assert live(boss, e) == sessions.Ended(sessions.DISABLED)
    assert sessions.check(boss, "no-such-session", idle=1, max_age=1) == sessions.Ended(
        sessions.SIGNED_OUT)


def test_activity_is_recorded_at_most_once_a_minute(boss: Engine) -> None:
    sid, _ = sessions.start(boss, "boss")
    old = dt.datetime(2026, 1, 1, 8, 0)
    with write_transaction(app_engine(boss)) as c:
        c.execute(update(user_sessions).values(last_seen_at=old, created_at=old))
    assert isinstance(live(boss, sid, idle=1e9, max_age=1e9), sessions.Live)
    with app_engine(boss).connect() as c:
        seen = c.execute(select(user_sessions.c.last_seen_at)).scalar_one()
    assert seen > old
    live(boss, sid, idle=1e9, max_age=1e9)
    with app_engine(boss).connect() as c:
        assert c.execute(select(user_sessions.c.last_seen_at)).scalar_one() == seen


def test_only_digests_of_tokens_and_codes_are_stored(sqlite_url: str) -> None:
    from warehouse.engine import open_warehouse

    eng = open_warehouse(sqlite_url)
    accounts.add_user(eng, "boss", PW, "leader", "420606000000")
    _, code = sessions.start(eng, "boss")
    _, code2 = sessions.start(eng, "boss")
    token = sessions.claim(eng, code2)
    sid, _ = sessions.start(eng, "boss")
    sessions.check(eng, sid, idle=0, max_age=1)  # ends it: in the one app file
    accounts.disable_user(eng, "boss")
    app_engine(eng).dispose()
    db = sqlite_path(eng)
    assert db is not None and token is not None
    assert sorted(p.name for p in db.parent.glob("*.db")) == ["warehouse-app.db",
                                                               "warehouse.db"]
    stored = b"".join(p.read_bytes() for p in db.parent.glob("*-app.db*"))
    assert stored and code.encode() not in stored and token.encode() not in stored


class CountingHasher(PasswordHasher):
    calls = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        CountingHasher.calls += 1
        return super().verify(hash, password)


def test_every_failed_sign_in_says_the_same_after_the_same_work(
        boss: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_HASHER",
                        CountingHasher(time_cost=2, memory_cost=19_456, parallelism=1))
    accounts.add_user(boss, "gone", "disabled-account-pw", "leader", "420606000000")
    accounts.disable_user(boss, "gone")
    accounts.add_user(boss, "sso", None, "leader", "420606000000")  # OIDC only: no password
    attempts = [("boss", "wrong")] * accounts.MAX_FAILURES + [
        ("boss", PW), ("nobody", "x"), ("gone", "disabled-account-pw"), ("sso", "")]
    reasons = []
    for name, pw in attempts:
        before = CountingHasher.calls
        with pytest.raises(accounts.SignInFailed) as e:
            accounts.verify(boss, name, pw)
        assert str(e.value) == accounts.FAILED
        assert CountingHasher.calls - before == 1, (name, e.value.reason)  # one argon2 check
        reasons.append(e.value.reason)
    assert reasons == [accounts.WRONG] * accounts.MAX_FAILURES + [
        accounts.LOCKED, accounts.UNKNOWN, accounts.DISABLED, accounts.WRONG]
