"""Who is looking: the one place the dashboard asks for the current user.

The user is a :class:`metrics.access.Viewer` (role and area). Every data call in
:mod:`dashboard.data` takes it, checks the asked-for area and puts it in the cache key.

Sign-in is required unless the config says ``[dashboard] sign_in = "open"`` (the demo): local
accounts (``gongzhi users add``; argon2 hashes, lock-out after repeated failures) and, when
``[auth]`` configures an OpenID Connect provider, ``st.login``, whose e-mail must match an
account. A session idle for longer than ``[auth] session_minutes`` (default 30) signs out.
``st.user`` is read in one helper only: it raises where no provider is configured (AppTest).
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from dashboard import data
from dashboard.i18n import t
from metrics.access import Viewer, leader
from warehouse import accounts, audit

SESSION = "gz_viewer"
ACTIVE = "gz_last_active"
NOTICE = "gz_auth_notice"


def _dashboard_cfg() -> dict[str, Any]:
    return dict(data.settings().raw.get("dashboard") or {})


def _auth_cfg() -> dict[str, Any]:
    return dict(data.settings().raw.get("auth") or {})


def open_access() -> bool:
    return str(_dashboard_cfg().get("sign_in", "required")) == "open"


def oidc_configured() -> bool:
    return bool(_auth_cfg().get("server_metadata_url"))


def session_seconds() -> float:
    return float(_auth_cfg().get("session_minutes", 30)) * 60


def oidc_identity() -> dict[str, Any] | None:
    """The OIDC user (``st.user``) if one is signed in; None otherwise or without a provider."""
    if not oidc_configured():
        return None
    try:
        user = st.user
        if not user.is_logged_in:
            return None
        return {"email": user.get("email"), "name": user.get("name")}
    except Exception:  # no [auth] secrets (AppTest, a misconfigured server): nobody
        return None


def _viewer(acc: accounts.Account) -> Viewer:
    role: Any = acc.role
    return Viewer(acc.username, role, acc.area_code, acc.display_name)


def current_user() -> Viewer | None:
    """The viewer of this session, or None when someone must sign in first."""
    if open_access():
        return leader(data.district_code(), username="demo")
    now = time.monotonic()
    viewer: Viewer | None = st.session_state.get(SESSION)
    last = st.session_state.get(ACTIVE, now)
    if viewer is not None and now - last > session_seconds():
        sign_out(notice="auth.timed_out")
        return None
    if viewer is None:
        ident = oidc_identity()
        if ident and ident.get("email"):
            acc = accounts.get_account(data.metrics().engine, str(ident["email"]))
            if acc is None or not acc.active:
                st.session_state[NOTICE] = "auth.no_account"
                return None
            viewer = _viewer(acc)
            st.session_state[SESSION] = viewer
    if viewer is not None:
        st.session_state[ACTIVE] = now
    return viewer


def sign_out(notice: str | None = None) -> None:
    st.session_state.pop(SESSION, None)
    st.session_state.pop(ACTIVE, None)
    if notice:
        st.session_state[NOTICE] = notice
    if oidc_identity() is not None:
        st.logout()


def sign_in_page() -> None:
    """The sign-in form (and the OIDC button when a provider is configured)."""
    st.title(t("auth.title"))
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.warning(t(notice))
    engine = data.metrics().engine
    if not accounts.list_users(engine):
        st.info(t("auth.no_accounts"))
    with st.form("sign_in"):
        username = st.text_input(t("auth.username"), key="auth_username")
        password = st.text_input(t("auth.password"), type="password", key="auth_password")
        submitted = st.form_submit_button(t("auth.submit"), type="primary")
    if submitted:
        try:
            acc = accounts.verify(engine, username.strip(), password)
        except accounts.SignInFailed as e:
            st.error(t("auth.failed", reason=_reason(str(e))))
        else:
            viewer = _viewer(acc)
            st.session_state[SESSION] = viewer
            st.session_state[ACTIVE] = time.monotonic()
            audit.record(engine, username=viewer.username, role=viewer.role,
                         action=audit.SIGN_IN, target="dashboard", filters={}, row_count=0)
            st.rerun()
    if oidc_configured():
        st.divider()
        if st.button(t("auth.oidc"), key="auth_oidc"):
            st.login()


def _reason(message: str) -> str:
    if "locked" in message:
        return t("auth.locked")
    if "disabled" in message:
        return t("auth.disabled")
    return t("auth.wrong")


def display_name(viewer: Viewer) -> str:
    return viewer.display_name or viewer.username
