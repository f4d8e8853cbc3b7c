"""Sign-in and areas in the dashboard: local accounts, lock-out, session timeout, and staff
who cannot reach another area through URL parameters or session state."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP, GAOZHUANG, HANJIANG, PERIOD, WANGZHAI
from tests.dashboard.test_app import cards
from warehouse import accounts, audit
from warehouse.engine import open_warehouse

PASSWORD = "hanjiang-staff-2024"


@pytest.fixture
def secured(case_config: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the case warehouse whose dashboard requires sign-in, with two accounts."""
    folder = tmp_path / "secured"
    shutil.copytree(case_config.parent, folder)
    cfg = folder / "gongzhi.toml"
    text = cfg.read_text(encoding="utf-8").replace('sign_in = "open"', 'sign_in = "required"')
    text = text.replace(str(case_config.parent), str(folder))  # the copy's own warehouse
    cfg.write_text(text + '\n[auth]\nsession_minutes = 30\n', encoding="utf-8")
    eng = open_warehouse(f"sqlite:///{folder / 'warehouse.db'}")
    accounts.add_user(eng, "hj", PASSWORD, "street_staff", HANJIANG, "汉江街道 小王")
    accounts.add_user(eng, "boss", "district-leader-2024", "leader", "420606000000")
    eng.dispose()
    yield cfg


def app_for(cfg: Path, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    monkeypatch.setenv("GONGZHI_CONFIG", str(cfg))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["period"] = PERIOD
    for k, v in params.items():
        at.query_params[k] = v
    return at


def sign_in(at: AppTest, user: str, password: str) -> AppTest:
    """Submit the form; on success the browser would fetch its cookie and reload the page,
    here the next run is that reload (the session state holds the session)."""
    at.run()
    at.text_input(key="auth_username").set_value(user)
    at.text_input(key="auth_password").set_value(password)
    at.button[0].click().run()
    return at if at.error else at.run()


def test_nothing_is_shown_before_sign_in(secured: Path, monkeypatch) -> None:
    at = app_for(secured, monkeypatch).run()
    assert not at.exception
    assert at.title[0].value == "登录共治" and not at.metric


FAILED = "登录失败：用户名或密码错误，或账户已锁定、已停用。"


def test_every_failed_sign_in_gets_the_same_answer(secured: Path, monkeypatch) -> None:
    """Wrong password, unknown name, locked and disabled accounts: one answer, so the form
    does not tell who has an account; the audit log keeps the reason for leaders."""
    at = app_for(secured, monkeypatch)
    for _ in range(accounts.MAX_FAILURES):
        sign_in(at, "hj", "not-the-password")
        assert at.error[0].value == FAILED and not at.metric
    sign_in(at, "hj", PASSWORD)  # right password, but locked now
    assert at.error[0].value == FAILED and not at.metric
    sign_in(at, "nobody-here", "whatever-password")
    assert at.error[0].value == FAILED
    eng = open_warehouse(f"sqlite:///{secured.parent / 'warehouse.db'}")
    accounts.disable_user(eng, "boss")
    sign_in(at, "boss", "district-leader-2024")
    assert at.error[0].value == FAILED and not at.metric
    failed = [e for e in audit.entries(eng) if e["action"] == audit.SIGN_IN_FAILED]
    assert [(e["username"], json.loads(e["filters"])["reason"]) for e in failed[:3]] == [
        ("boss", "disabled"), ("nobody-here", "unknown_name"), ("hj", "locked")]
    eng.dispose()


def test_staff_see_only_their_street_even_with_another_in_the_url(secured: Path,
                                                                 monkeypatch) -> None:
    at = app_for(secured, monkeypatch, street=WANGZHAI)
    sign_in(at, "hj", PASSWORD)
    assert not at.exception and not at.error
    assert at.query_params.get("street") == HANJIANG  # pinned: the foreign one was dropped
    own = cards(at)
    assert own["网办率"] == "25.0%"  # 汉江街道's May figure, not 王寨街道's (100.0%)
    street_box = next(s for s in at.selectbox if s.key.startswith("f_street"))
    assert set(street_box.options) <= {"汉江街道"}
    # tampering with the session's filter state does not widen the view either
    at.session_state["f_street"] = WANGZHAI
    at.run()
    assert cards(at)["网办率"] == "25.0%" and at.query_params.get("street") == HANJIANG
    at.session_state["f_community"] = GAOZHUANG
    at.run()
    assert cards(at)["网办率"] == "50.0%"  # inside the street: allowed


def test_leader_sign_in_is_audited_and_session_times_out(secured: Path, monkeypatch) -> None:
    at = app_for(secured, monkeypatch)
    sign_in(at, "boss", "district-leader-2024")
    assert cards(at)["网办率"] == "40.0%"
    eng = open_warehouse(f"sqlite:///{secured.parent / 'warehouse.db'}")
    assert audit.entries(eng)[0]["action"] == audit.SIGN_IN
    eng.dispose()
    short = secured.with_name("short.toml")  # a second config: settings are cached per file
    short.write_text(secured.read_text(encoding="utf-8").replace(
        "session_minutes = 30", "session_minutes = 0"), encoding="utf-8")
    at2 = app_for(short, monkeypatch)
    sign_in(at2, "boss", "district-leader-2024")  # idle limit 0: the rerun after sign-in
    assert at2.title[0].value == "登录共治"
    assert "已自动退出" in at2.warning[0].value


def test_a_refused_request_is_audited(secured: Path, monkeypatch) -> None:
    """An AccessDenied that reaches the page (here forced: the filters never let staff ask for
    another area) is shown as such and recorded in the audit log, as the CLI does."""
    from dashboard import data
    from metrics.access import AccessDenied

    at = app_for(secured, monkeypatch)
    sign_in(at, "hj", PASSWORD)
    assert cards(at)["网办率"] == "25.0%"

    def refuse(*_a, **_k):
        raise AccessDenied(f"hj (street_staff) may not see street {WANGZHAI}")

    monkeypatch.setattr(data, "allowed_scope", refuse)
    at.run()
    assert not at.metric
    eng = open_warehouse(f"sqlite:///{secured.parent / 'warehouse.db'}")
    last = audit.entries(eng)[0]
    eng.dispose()
    assert (last["username"], last["action"], last["target"]) == ("hj", audit.DENIED,
                                                                   "dashboard")
    assert WANGZHAI in json.loads(last["filters"])["why"]
