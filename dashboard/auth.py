"""Who is looking: the one place the dashboard asks for the current user.

The user is a :class:`metrics.access.Viewer` (role and area). Every data call in
:mod:`dashboard.data` takes it, checks the asked-for area and puts it in the cache key.

Sign-in is required unless the config says ``[dashboard] sign_in = "open"`` (the demo): local
accounts (``gongzhi users add``; argon2 hashes, lock-out after repeated failures; one answer
for every failure) and, when ``[auth]`` configures an OpenID Connect provider, ``st.login``,
whose e-mail must match an account.

A sign-in is a server-side session (:mod:`warehouse.sessions`), checked on every run, so it
ends in every tab at once on sign-out, when the account is disabled or its password changed,
after ``[auth] session_minutes`` (default 30) idle, or ``session_max_hours`` (default 12) in
all. The browser holds it in an HttpOnly, SameSite=Strict cookie (:mod:`dashboard.cookie`),
so a reload, a shared link or a new tab stays signed in. ``st.user`` is read in one helper
only: it raises where no provider is configured (AppTest).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import streamlit as st

from core.settings import AuthSettings
from dashboard import cookie, data
from dashboard.i18n import t
from metrics.access import AccessDenied, Viewer, leader
from warehouse import accounts, audit, sessions

SESSION = "gz_session_id"  # the server-side session this Streamlit session belongs to
VIA_OIDC = "gz_via_oidc"  # that session came from st.login (its cookie is st.login's)
OIDC_ENDED = "gz_oidc_ended"  # signed out: st.user still says who, but that no longer counts
NOTICE = "gz_auth_notice"
ENDED_NOTICE = {sessions.IDLE: "auth.timed_out", sessions.EXPIRED: "auth.expired"}


def _auth_cfg() -> AuthSettings:
    return data.settings().auth


def open_access() -> bool:
    return data.settings().dashboard.open


def oidc_configured() -> bool:
    return _auth_cfg().oidc


def session_seconds() -> float:
    return _auth_cfg().session_minutes * 60


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


def _viewer(acc: accounts.Account | sessions.Live) -> Viewer:
    role: Any = acc.role  # one of ROLES: the users table checks it on creation
    return Viewer(acc.username, role, acc.area_code, acc.display_name)


def _cookie_token() -> str:
    try:
        return str(st.context.cookies.get(cookie.COOKIE) or "")
    except Exception:  # no browser context (AppTest): no cookie
        return ""


def _oidc_session(engine: Any) -> str | None:
    """A session for the person st.login signed in, if their account may sign in."""
    if st.session_state.get(OIDC_ENDED):
        return None
    ident = oidc_identity()
    if not ident or not ident.get("email"):
        return None
    acc = accounts.get_account(engine, str(ident["email"]))
    if acc is None or not acc.active:
        st.session_state[NOTICE] = "auth.no_account"
        return None
    sid, _ = sessions.start(engine, acc.username)
    st.session_state[VIA_OIDC] = True
    audit.record(engine, username=acc.username, role=acc.role, action=audit.SIGN_IN,
                 target="dashboard:oidc", filters={}, row_count=0)
    return sid


def current_user() -> Viewer | None:
    """The viewer of this session, or None when someone must sign in first."""
    if open_access():
        return leader(data.district_code(), username="demo")
    engine = data.metrics().engine
    ss = st.session_state
    sid: str | None = ss.get(SESSION)
    if sid is None:  # a new page, tab or reload: the cookie, else single sign-on
        sid = sessions.by_token(engine, _cookie_token()) or _oidc_session(engine)
        if sid is None:
            return None
        ss[SESSION] = sid
    state = sessions.check(engine, sid, idle=session_seconds(),
                           max_age=cookie.max_age_seconds(_auth_cfg()))
    if isinstance(state, sessions.Ended):
        ss.pop(SESSION, None)
        ss[NOTICE] = ENDED_NOTICE.get(state.reason, "auth.ended")
        if ss.pop(VIA_OIDC, False):
            ss[OIDC_ENDED] = True
        return None
    return _viewer(state)


def sign_out() -> None:
    """End this session everywhere (every tab holding it) and forget the browser's cookie;
    stops the run: the browser is on its way to the sign-in page."""
    engine = data.metrics().engine
    ss = st.session_state
    sid = ss.pop(SESSION, None)
    if sid is not None:
        sessions.end(engine, sid)
    if ss.pop(VIA_OIDC, False):
        ss[OIDC_ENDED] = True
        if oidc_identity() is not None:
            st.logout()  # clears st.login's cookie and goes back to the start page
            st.stop()
    navigate(cookie.SIGNOUT_PATH)
    st.stop()


def navigate(url: str) -> None:
    """Send the browser to ``url`` (a path on this site). Streamlit has no public call for
    it; this is the message ``st.login``/``st.logout`` send (the page sets
    ``window.location``), pinned with Streamlit 1.67 and covered by the Chromium tests."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return
    msg = ForwardMsg()
    msg.auth_redirect.url = url
    ctx.enqueue(msg)


def _here(page: str) -> str:
    """The page and filters someone asked for, to return to after signing in."""
    query = urlencode({k: st.query_params.get(k) for k in st.query_params})
    return f"/{page}" + (f"?{query}" if query else "")


def sign_in_page(page: str = "") -> None:
    """The sign-in form (and the OIDC button when a provider is configured); ``page`` is
    the url path of the page asked for, where a successful sign-in returns."""
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
        name = username.strip()
        try:
            acc = accounts.verify(engine, name, password)
        except accounts.SignInFailed as e:
            # one answer whatever the reason; the reason goes to the audit log only
            audit.record(engine, username=name[:128] or "-", role="-",
                         action=audit.SIGN_IN_FAILED, target="dashboard",
                         filters={"reason": e.reason}, row_count=0)
            st.error(t("auth.failed"))
        else:
            sid, code = sessions.start(engine, acc.username)
            st.session_state[SESSION] = sid
            st.session_state.pop(OIDC_ENDED, None)
            audit.record(engine, username=acc.username, role=acc.role, action=audit.SIGN_IN,
                         target="dashboard", filters={}, row_count=0)
            # the browser fetches its cookie and comes back to the page it asked for
            navigate(f"{cookie.HANDOFF_PATH}?code={quote(code)}&next={quote(_here(page))}")
            st.info(t("auth.signing_in"))
            st.stop()
    if oidc_configured():
        st.divider()
        if st.button(t("auth.oidc"), key="auth_oidc"):
            st.session_state.pop(OIDC_ENDED, None)
            st.login()


def record_denial(viewer: Viewer, error: Exception) -> None:
    """Put a refused request (:class:`AccessDenied`) in the audit log, as the CLI does."""
    if isinstance(error, AccessDenied):
        audit.record(data.metrics().engine, username=viewer.username, role=viewer.role,
                     action=audit.DENIED, target="dashboard", filters={"why": str(error)},
                     row_count=0)


def display_name(viewer: Viewer) -> str:
    return viewer.display_name or viewer.username
