"""The sign-in cookie: two small routes beside Streamlit's own (``dashboard/server.py``).

Streamlit cannot set cookies from a script (``st.context.cookies`` only reads them), so after
a sign-in the page sends the browser to :data:`HANDOFF_PATH` with a one-time code; the route
trades it for the session's token (:func:`warehouse.sessions.claim`), sets it as an
``HttpOnly; SameSite=Strict`` cookie (``Secure`` over https) and sends the browser back where
it was. Every later page load, reload or new tab sends the cookie with the websocket
handshake, and :mod:`dashboard.auth` finds the session from it. :data:`SIGNOUT_PATH` ends the
session and deletes the cookie. Both routes refuse requests that another site started
(``Sec-Fetch-Site``), so a link elsewhere can neither sign someone in as another person nor
sign them out; both only redirect within this site.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from core.settings import AuthSettings, Settings, load_settings
from warehouse import sessions

COOKIE = "gz_session"
HANDOFF_PATH = "/gz/session"
SIGNOUT_PATH = "/gz/signout"


@cache
def _settings() -> Settings:
    return load_settings(os.environ.get("GONGZHI_CONFIG"))


@cache
def _engine() -> Any:  # a sqlalchemy Engine (pages and routes hold no SQL)
    from warehouse.engine import make_engine

    return make_engine(_settings().warehouse_url)


def max_age_seconds(auth: AuthSettings) -> float:
    """How long a session may last in all, from ``[auth] session_max_hours``."""
    return auth.session_max_hours * 3600


def safe_next(target: str | None) -> str:
    """A path on this site to go back to (never another site: ``//x``, ``https://x``)."""
    if not target or "\\" in target or "\r" in target or "\n" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _from_this_site(request: Request) -> bool:
    # Browsers say who started a navigation; our own page's script gives "same-origin". A
    # browser too old to send the header gets the benefit of the doubt: the one-time code,
    # valid for a minute, is what protects the hand-off.
    return request.headers.get("sec-fetch-site") in (None, "same-origin")


def _refused() -> Response:
    return PlainTextResponse("refused: this address is only followed from the dashboard",
                             status_code=403)


def handoff(request: Request) -> Response:
    """Trade the one-time code for the session cookie and go back to the page."""
    if not _from_this_site(request):
        return _refused()
    token = sessions.claim(_engine(), request.query_params.get("code", ""))
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    response.headers["Cache-Control"] = "no-store"
    if token:
        response.set_cookie(COOKIE, token, path="/", httponly=True, samesite="strict",
                            secure=request.url.scheme == "https",
                            max_age=int(max_age_seconds(_settings().auth)))
    return response


def sign_out(request: Request) -> Response:
    """End the cookie's session (if the page has not already) and delete the cookie."""
    if not _from_this_site(request):
        return _refused()
    token = request.cookies.get(COOKIE)
    if token:
        sessions.end_by_token(_engine(), token)
    response = RedirectResponse("/", status_code=303)
    response.headers["Cache-Control"] = "no-store"
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    return response


# plain functions: Starlette runs them in its thread pool (they touch the database)
ROUTES = [Route(HANDOFF_PATH, handoff, methods=["GET"]),
          Route(SIGNOUT_PATH, sign_out, methods=["GET"])]
