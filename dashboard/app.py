"""Gongzhi dashboard entry point (``gongzhi serve`` runs it): navigation, filters, errors.

Every run: read the URL's filters (first run of a session), draw the language switch and the
street → community → grid and period filters in the sidebar, build the view the pages read,
write the filters back to the URL, then run the chosen page. A page failure becomes a clear
message, never a traceback in the browser.
"""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from core.errors import ConfigError, NoDivisions, WarehouseError
from dashboard import auth, data, i18n, state
from dashboard.components import bigscreen, domain, filters, outage, screen_style
from dashboard.i18n import Markdown, t
from metrics import semantic
from metrics.access import AccessDenied, Viewer
from metrics.areas import AreaMismatch

log = logging.getLogger("gongzhi.dashboard")

st.set_page_config(page_title=i18n.STRINGS["app.page_title"]["zh"], page_icon="🏙️",
                   layout="wide")

# Pages of the 督办/预警 workflow, not of a semantic-layer domain: after the domain pages,
# before the data page, and kept when the layer is broken (they read the warehouse only).
WORK_PAGES = [("tasks", "screens/tasks.py", ":material/assignment:"),
              ("alerts", "screens/alerts.py", ":material/notifications:")]
# The 首屏 wall, last: a fixed page (its path is code, bigscreen.PATH, and ?screen=1 routes to
# it), kept when the layer is broken like the data page (it says so on the wall instead).
SCREEN_PAGE = (bigscreen.PATH, "screens/screen.py", ":material/tv:")


def _pages() -> list[tuple[str, str, str]]:
    """The overview and the data page, with one page per semantic-layer page between them
    (config/semantic: title, icon, order, domains; screens/domain.py unless it names a
    script), then the 督办 and 预警记录 pages, the data page and the 首屏 wall. A broken layer
    leaves the fixed pages only, and says why."""
    try:
        domains = [(p.name, p.script, p.icon) for p in semantic.load().ordered_pages()]
    except ConfigError as e:
        log.warning("semantic layer: %s", e)
        st.error(t("err.config", detail=str(e)))
        return [*WORK_PAGES, ("data", "screens/runs.py", ":material/database:"), SCREEN_PAGE]
    return [("overview", "screens/overview.py", ":material/dashboard:"), *domains,
            *WORK_PAGES, ("data", "screens/runs.py", ":material/database:"), SCREEN_PAGE]


def _title(name: str) -> str:
    page = semantic.load(check=False).pages.get(name)
    return i18n.pick(page.zh, page.en) if page else str(t(f"nav.{name}"))


def _prepare(user: Viewer, wall: bool = False) -> None:
    """Filters and the view; without a division list the KPI pages report 'no data'. The
    big screen (``wall``) takes its area from the link and the sign-in, with no sidebar."""
    key = data.key(user)
    data.allowed_scope(key)  # raises when the warehouse has no district yet
    units = data.unit_index(key)
    state.open_on_data(key)
    state.sanitize(units, user)
    if not wall:
        with st.sidebar:
            filters.sidebar(units, data.names(key), user.level)
    state.raise_misfit()  # a link naming areas that do not nest: say so, show no figures
    state.build_view(user, key)


def _explain(e: Exception) -> Markdown:
    if outage.unreachable(e):
        return outage.message()
    if isinstance(e, state.NoData | NoDivisions):
        return t("err.no_data")
    if isinstance(e, AccessDenied):
        return t("err.access")
    if isinstance(e, AreaMismatch):
        bad = e.misfit
        return t("err.areas", inner_level=t(f"level.{bad.inner.level}").lower(),
                 inner=bad.inner.name, outer_level=t(f"level.{bad.outer.level}").lower(),
                 outer=bad.outer.name,
                 actual=bad.actual.name if bad.actual else "—")
    if isinstance(e, ConfigError):
        return t("err.config", detail=str(e))
    if isinstance(e, SQLAlchemyError | WarehouseError):
        return t("err.warehouse", detail=str(getattr(e, "orig", None) or e).splitlines()[0])
    return t("err.page", kind=type(e).__name__)


def _show(e: Exception) -> None:
    """The error for people (never a traceback); an outage also retries by itself."""
    st.error(_explain(e))
    if outage.unreachable(e):
        outage.retry_when_back()


def main() -> None:
    state.load_from_url()
    wall = bigscreen.requested()  # the 首屏 big screen: no sidebar, menus or chrome
    if wall:
        screen_style.wall()
    else:
        screen_style.phone()
        with st.sidebar:
            filters.language()
    try:
        user = auth.current_user()
    except Exception as e:  # no warehouse or config: say so instead of a sign-in form
        log.warning("sign-in unavailable: %s", e)
        _show(e)
        return
    # built before sign-in too (hidden): the page asked for is where a sign-in returns
    pages = _pages()
    # /?screen=1 makes the wall the default page (a default page's own path would not be
    # found: /screen keeps the first page as the default); the menu is hidden on the wall
    default = (bigscreen.PATH if wall and bigscreen.at_root([p[0] for p in pages])
               else pages[0][0])
    listed = [st.Page(path, title=_title(name), icon=icon, url_path=name,
                      default=name == default) for name, path, icon in pages]
    nav = st.navigation(listed,
                        position="sidebar" if user is not None and not wall else "hidden")
    # links to pages (each KPI card's) reuse these; the domain pages share one script, so a
    # path maps to its first page (every domain page stays in the list above)
    built: dict[str, Any] = {}
    for (_, path, _), page in zip(pages, listed, strict=True):
        built.setdefault(path, page)
    st.session_state[state.PAGES] = built
    if user is None:
        auth.sign_in_page(nav.url_path)
        return
    state.forget_view()
    try:
        if not wall:
            st.sidebar.caption(t("user.signed_in", name=auth.display_name(user),
                                 area=t(f"role.{user.role}")))
            if auth.open_access():
                st.sidebar.caption(t("auth.open"))
            elif st.sidebar.button(t("auth.sign_out"), key="auth_sign_out"):
                auth.sign_out()  # stops the run: the browser goes to the sign-in page
        _prepare(user, wall)
    except Exception as e:  # the KPI pages say what is wrong; the data page still works
        log.warning("dashboard filters unavailable: %s", e)
        auth.record_denial(user, e)
        state.fail(e)
    if not wall:  # the wall keeps the link it was given (its period, or none: the latest)
        state.write_url()
    st.session_state[state.KPI_USED] = False
    st.session_state[domain.PAGE_KEY] = nav.url_path  # which page screens/domain.py draws
    try:
        nav.run()
    except Exception as e:
        if outage.unreachable(e):  # an outage, not a bug: one line in the log, no traceback
            log.warning("dashboard page: database unreachable: %s", e)
        else:
            log.exception("dashboard page failed")
            auth.record_denial(user, e)
        _show(e)
    if not wall and not st.session_state.get(state.KPI_USED):
        state.set_param("kpi", state.NONE)

main()
