"""The 首屏 big screen of a command hall: ``/screen`` or ``?screen=1`` on any page's URL.

A dark, full-window 16:9 wall (no sidebar, menus or Streamlit chrome): a title bar (area,
the domain in rotation, date and time, data freshness), three columns of sections (left,
centre, right) and a ticker of the latest events at the foot. Sections are the functions
registered in :data:`screen_sections.SECTIONS`; one with nothing to show is left out and the
remaining columns share the width.

The domains take turns every ``[screen] rotate_seconds`` (a fragment reruns the wall, not the
app); a new run redraws it without a reload (:func:`dashboard.components.cards.watch`, as
the live cards). The wall shows the signed-in viewer's area (a street hall's screen its
street; a leader may name one with ``?street=…``), through the same cached, viewer-keyed
loaders as every page. A failure is a sentence that goes away by itself, never a traceback:
a wall runs unattended for days.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from urllib.parse import urlparse

import streamlit as st

from core.errors import ConfigError, Problem
from core.screen_settings import ScreenSettings
from core.timezone import LOCAL
from dashboard import auth, data, state
from dashboard.components import cards, outage, screen_style
from dashboard.components.screen_sections import SECTIONS, Drawer, Frame, domain_label
from dashboard.i18n import md, t
from metrics import format as fmt
from warehouse.engine import utcnow

log = logging.getLogger("gongzhi.dashboard.screen")

WEIGHTS = {"left": 3.0, "centre": 5.0, "right": 3.0}  # the columns' widths when all are there
_SLOT = "gz_screen_slot"  # (index of the domain on the wall, monotonic time it came up)
PATH = "screen"


def _path() -> str:
    try:
        return urlparse(st.context.url or "").path.rstrip("/")
    except Exception:  # no browser context (AppTest)
        return ""


def requested() -> bool:
    """Whether this run is for the wall: ``?screen=1``, or the ``/screen`` path."""
    return st.query_params.get("screen") == "1" or _path().endswith(f"/{PATH}")


def at_root(pages: list[str]) -> bool:
    """Whether the wall was asked for on the app's own URL (``/?screen=1``, a base path
    behind a proxy too), not on one of the ``pages``' paths."""
    return _path().rsplit("/", 1)[-1] not in pages


def domains(cfg: ScreenSettings) -> list[str]:
    """The domains that rotate: ``[screen] domains`` in its order, else the catalogue's."""
    known = list(data.catalog().domains)
    if not cfg.domains:
        return known
    bad = [d for d in cfg.domains if d not in known]
    if bad:
        raise ConfigError([Problem("[screen] domains", f"unknown domain(s) {', '.join(bad)}; "
                                                       f"known: {', '.join(known)}")])
    return list(cfg.domains)


def current_index(count: int, seconds: float) -> int:
    """The domain on the wall: the next one once ``seconds`` have passed since the last
    turn (a redraw for new data in between keeps the domain)."""
    now = time.monotonic()
    index, since = st.session_state.get(_SLOT, (-1, 0.0))
    if index < 0 or index >= count:
        index, since = 0, now
    elif now - since >= seconds * 0.9:  # the fragment's timer is not exact
        index, since = (index + 1) % count, now
    st.session_state[_SLOT] = (index, since)
    return index


def screen_period(view: state.View) -> str:
    """The period on the wall: the link's, else the latest month with data, re-read on
    every turn so that a wall left on for days moves to the new month by itself."""
    named = st.query_params.get("period")
    if named:
        return view.period
    calendar = state.default_period()
    return data.opening_month(view.key, view.scope, calendar) or calendar


def main() -> None:
    """The page: theme, the rotating wall, the ticker and the data-version watch."""
    view = state.current()
    cfg = data.settings().screen
    screen_style.wall()
    names = data.names(view.key)
    shown = [d for d in domains(cfg) if _has_figures(view, d, screen_period(view))]
    if not shown:
        st.info(t("err.no_data"))
        cards.watch(view.key.version)
        return
    st.fragment(run_every=cfg.rotate_seconds)(_wall)(shown, names, cfg)
    frame = _frame(view, shown[st.session_state[_SLOT][0]], names, cfg)
    _draw_slot([s for s in _built(frame) if s[0] == "bottom"], 1.0)
    cards.watch(view.key.version)


def _has_figures(view: state.View, domain: str, period: str) -> bool:
    page = data.domain_page(view.key, domain, view.scope, period)
    kpis = data.applicable(page.kpis, view.scope.level)
    return any(v is not None for v in kpis["value"].to_list())


def _frame(view: state.View, domain: str, names: dict[str, str],
           cfg: ScreenSettings) -> Frame:
    period = screen_period(view)
    return Frame(view=view, period=period, domain=domain,
                 page=data.domain_page(view.key, domain, view.scope, period), names=names,
                 settings=cfg)


def _built(frame: Frame) -> list[tuple[str, Drawer]]:
    """(slot, drawer) of every section that has something to show, in registry order."""
    out: list[tuple[str, Drawer]] = []
    for section in SECTIONS:
        drawer = section.build(frame)
        if drawer is not None:
            out.append((section.slot, drawer))
    return out


def _draw_slot(drawers: list[tuple[str, Drawer]], share: float) -> None:
    for _, draw in drawers:
        draw(share)


def _wall(shown: list[str], names: dict[str, str], cfg: ScreenSettings) -> None:
    """The title bar and the three columns, for the domain whose turn it is."""
    view = state.current()
    try:
        if auth.current_user() != view.user:  # signed out, timed out or disabled meanwhile
            st.rerun(scope="app")
        index = current_index(len(shown), cfg.rotate_seconds)
        frame = _frame(view, shown[index], names, cfg)
        _title(frame, cfg, index, len(shown))
        built = [s for s in _built(frame) if s[0] != "bottom"]
        slots = [slot for slot in ("left", "centre", "right") if any(s == slot for s, _ in built)]
        total = sum(WEIGHTS[s] for s in slots)
        with st.container(key="screen_body"):
            cols = st.columns([WEIGHTS[s] for s in slots], gap="medium")
            for col, slot in zip(cols, slots, strict=True):
                with col, st.container(key=f"screen_col_{slot}"):
                    _draw_slot([s for s in built if s[0] == slot], WEIGHTS[slot] / total)
    except Exception as e:  # a wall never shows a traceback; the next turn tries again
        if outage.unreachable(e):
            log.warning("big screen: database unreachable: %s", e)
        else:
            log.exception("big screen failed")
        st.warning(t("screen.unavailable"))  # (st.rerun's exception is a BaseException)


def _title(frame: Frame, cfg: ScreenSettings, index: int, count: int) -> None:
    now = dt.datetime.now(LOCAL)
    lang = frame.view.lang
    when = data.last_update()
    with st.container(key="screen_title"):
        left, mid, right = st.columns([4, 3, 3])
        with left, st.container(key="screen_name"):
            st.markdown(md(cfg.title) if cfg.title
                        else t("screen.title", area=frame.view.scope.name))
        with mid, st.container(key="screen_domain"):
            st.markdown(t("screen.domain", domain=domain_label(frame.domain), i=index + 1,
                          n=count) + " · " + t("screen.period", period=frame.period))
        with right, st.container(key="screen_clock"):
            st.markdown(md(now.strftime("%Y-%m-%d %H:%M")))
            st.caption(t("data.never_loaded") if when is None else t(
                "data.updated", when=fmt.fresh(when, lang), ago=fmt.ago(when, utcnow(), lang)))
