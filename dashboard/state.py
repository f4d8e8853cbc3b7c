"""The filter state: street → community → grid, period and language, kept in the URL.

Query parameters (``?street=…&community=…&grid=…&period=2024-05&lang=en``) are read once
when a session starts, held in session state under ``KEYS`` (the widgets mirror them, see
:func:`bound`) and written back to the URL on every run, so a copied link reproduces the view
and the filters survive a page switch (Streamlit clears the query string when the page
changes). The deepest of street, community and grid that is set is the drill-down level;
a click on a ranking bar or row sets it (:func:`drill_to`). Codes, not names, go in the URL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core import divisions
from core.errors import ConfigError
from core.timezone import LOCAL
from dashboard import data, i18n
from metrics.access import Viewer
from metrics.areas import AreaMismatch, misfit
from metrics.compiler import Scope
from metrics.periods import Grain, Period, at, latest_complete, parse

LEVELS: tuple[str, ...] = divisions.AREA_LEVELS  # the filters (the district has none)
KEYS = {"street": "f_street", "community": "f_community", "grid": "f_grid",
        "period": "f_period", "lang": i18n.LANG_KEY}
GRAIN_KEY = "f_grain"
GRAINS: tuple[Grain, ...] = ("month", "quarter", "year", "ytd")  # ytd: 累计, Jan-month
HISTORY = {"month": 36, "quarter": 12, "year": 5, "ytd": 36}  # periods the picker offers
_LOADED = "_url_loaded"
_VIEW = "_view"
_ERROR = "_view_error"
_AUTO = "_period_auto"  # the link named no period: open on the latest month with data
_OPENED = "_period_opened"  # (month opened on, calendar month) for the caption
_MISFIT = "_area_misfit"  # a link named areas that do not nest (reported once, then dropped)
KPI_USED = "_kpi_param_used"  # a page showed a KPI picker this run (else `kpi` leaves the URL)
NONE = ""  # the "all" choice of a filter select
PAGES = "_pages"  # this run's st.Page objects by script path (app.py registers them)


@dataclass(frozen=True)
class View:
    """What the current run shows: for whom, where, when, in which language."""

    user: Viewer
    key: data.Key
    allowed: Scope
    scope: Scope
    period: str
    lang: str

    @property
    def child_level(self) -> str | None:
        return {"district": "street", "street": "community", "community": "grid"}.get(
            self.scope.level)


def today() -> dt.date:
    """Today in Asia/Shanghai (the district's calendar)."""
    return dt.datetime.now(LOCAL).date()


def default_period() -> str:
    return latest_complete("month", today()).label


def _valid_period(text: str | None) -> Period | None:
    if not text:
        return None
    try:
        p = parse(text)
    except ConfigError:
        return None
    return p if p.grain in GRAINS else at("month", p.last_day)


# -- reading the URL ---------------------------------------------------------------------------


def load_from_url() -> None:
    """On a session's first run, copy the URL's filters into session state."""
    ss = st.session_state
    if ss.get(_LOADED):
        return
    qp = st.query_params
    for param, skey in KEYS.items():
        value = qp.get(param)
        if value:
            ss[skey] = value
    p = _valid_period(ss.get(KEYS["period"]))
    if p is None:  # a period in the link wins; without one, :func:`open_on_data` picks it
        ss[_AUTO] = True
        p = parse(default_period())
    ss[KEYS["period"]] = p.label
    ss[GRAIN_KEY] = p.grain
    if ss.get(i18n.LANG_KEY) not in i18n.LANGS:
        ss[i18n.LANG_KEY] = i18n.DEFAULT_LANG
    ss[_LOADED] = True


def open_on_data(key: data.Key) -> None:
    """On a session's first run without a period in the link: open on the latest month with
    data in the viewer's area when the calendar's last month has none (a district whose
    history ends in 2024-06 opens on 2024-06, not on 无数据), and remember it for the
    caption (:func:`opened_note`)."""
    ss = st.session_state
    if not ss.get(_AUTO):
        return
    calendar = default_period()
    month = opening_period(key)
    if month != calendar:
        ss[KEYS["period"]] = month
        ss[GRAIN_KEY] = "month"
        ss[_OPENED] = (month, calendar)
    ss.pop(_AUTO, None)


def opening_period(key: data.Key) -> str:
    """The month a session without a period in its link opens on: the calendar's last
    complete month, or the latest month with data in the viewer's area when that one has
    none (also what the server warms: dashboard/warm.py)."""
    calendar = default_period()
    return data.opening_month(key, data.allowed_scope(key), calendar) or calendar


def opened_note() -> i18n.Markdown | None:
    """Why the page shows an older month than the calendar's, while it still does."""
    ss = st.session_state
    opened = ss.get(_OPENED)
    if not opened or ss.get(KEYS["period"]) != opened[0]:
        return None
    return i18n.t("period.opened_on_data", month=opened[0], calendar=opened[1])


def sanitize(units: data.Units, viewer: Viewer | None = None) -> None:
    """Drop filter values that are unknown or not under their parent; fill a missing parent
    from a child (a link with only ``community=…`` selects its street too). Staff are pinned
    to their own street (and community): they have no wider choice to make."""
    ss = st.session_state
    if viewer is not None and viewer.level in ("street", "community"):
        ss[KEYS["street"]] = divisions.code_at(viewer.area, "street")
        if viewer.level == "community":
            ss[KEYS["community"]] = viewer.area
    parent, level = units.parent, units.level
    codes = {lv: ss.get(KEYS[lv]) or NONE for lv in LEVELS}
    for lv in LEVELS:
        if codes[lv] and level.get(codes[lv]) != lv:
            codes[lv] = NONE
    # a child without its parent names the parent
    if codes["grid"] and not codes["community"]:
        codes["community"] = parent.get(codes["grid"], NONE)
    if codes["community"] and not codes["street"]:
        codes["street"] = parent.get(codes["community"], NONE)
    # a child under another parent (a link naming 汉江街道 with a community of 屏襄门街道) is
    # an error naming both, shown instead of figures (:func:`raise_misfit`); the filters keep
    # the outer area so the next choice starts from there
    chosen = [Scope(lv, codes[lv], units.label[codes[lv]]) for lv in LEVELS if codes[lv]]
    problem = misfit(units.frame, chosen) if len(chosen) > 1 else None
    if problem is not None:
        ss[_MISFIT] = problem
        for lv in LEVELS[LEVELS.index(problem.inner.level):]:
            codes[lv] = NONE
    for lv in LEVELS:
        ss[KEYS[lv]] = codes[lv]
    if not _valid_period(ss.get(KEYS["period"])):
        ss[KEYS["period"]] = default_period()


def raise_misfit() -> None:
    """Raise :class:`AreaMismatch` (once) when :func:`sanitize` found areas that do not
    nest: the page then names both areas instead of showing figures."""
    problem = st.session_state.pop(_MISFIT, None)
    if problem is not None:
        raise AreaMismatch(problem)


def write_url() -> None:
    """Put the filters into the URL (only what changed, so the browser is not spammed)."""
    ss = st.session_state
    want = {lv: ss.get(KEYS[lv]) or NONE for lv in LEVELS}
    want["period"] = ss.get(KEYS["period"]) or default_period()
    lang = ss.get(i18n.LANG_KEY)
    want["lang"] = lang if lang and lang != i18n.DEFAULT_LANG else NONE
    for param, value in want.items():
        set_param(param, value)


def set_param(param: str, value: str) -> None:
    """Set (or with '' remove) one query parameter when it differs from the URL."""
    qp = st.query_params
    if value:
        if qp.get(param) != value:
            qp[param] = value
    elif param in qp:
        del qp[param]


def page(path: str) -> Any:
    """This run's registered ``st.Page`` for a script path, or the path itself: a link to
    the Page object costs Streamlit no path resolution (a system call per part, for every
    KPI card's link), a link to the path does."""
    return st.session_state.get(PAGES, {}).get(path, path)


def url_param(param: str) -> str | None:
    return st.query_params.get(param) or None


# -- callbacks (run before the script, so they may set widget keys) ------------------------------


def on_street_change() -> None:
    """A street change clears the community and grid: they were under the old street."""
    st.session_state[KEYS["community"]] = NONE
    st.session_state[KEYS["grid"]] = NONE


def on_community_change() -> None:
    st.session_state[KEYS["grid"]] = NONE


def on_grain_change() -> None:
    """A new period type keeps the time in view: the period of that type holding its end."""
    ss = st.session_state
    old = _valid_period(ss.get(KEYS["period"])) or parse(default_period())
    grain: Grain = ss.get(GRAIN_KEY) or "month"
    ss[KEYS["period"]] = at(grain, old.last_day).label


def drill_to(code: str, level: str) -> None:
    """Narrow the view to the division ``code`` of ``level`` (a click on a bar or a row).

    Only that level is set; :func:`sanitize` fills in its parents on the run that follows.
    """
    ss = st.session_state
    for lv in LEVELS:
        ss[KEYS[lv]] = code if lv == level else NONE


def drill_up(level: str) -> None:
    """Widen the view back to ``level`` ('district', 'street' or 'community')."""
    ss = st.session_state
    keep = {"district": 0, "street": 1, "community": 2}[level]
    for lv in LEVELS[keep:]:
        ss[KEYS[lv]] = NONE


def on_chart_select(widget_key: str, level: str) -> None:
    """``on_select`` of a ranking chart or map: the clicked bar's (area's) area becomes the
    filter, whichever of the chart's point selections holds it."""
    event: Any = st.session_state.get(widget_key)
    for picked in ((event or {}).get("selection") or {}).values():
        if isinstance(picked, list) and picked and isinstance(picked[0], dict) \
                and picked[0].get("key"):
            drill_to(str(picked[0]["key"]), level)
            return


def on_table_select(widget_key: str, codes: list[str], level: str) -> None:
    """``on_select`` of a ranking table: the selected row's area becomes the filter."""
    event: Any = st.session_state.get(widget_key)
    rows = (event or {}).get("selection", {}).get("rows") or []
    if rows and rows[0] < len(codes):
        drill_to(codes[rows[0]], level)


# -- widgets whose labels change with the language --------------------------------------------


def widget_key(state_key: str) -> str:
    """The key of the widget showing ``state_key`` in the session's language.

    A select's value travels as its formatted label, so a widget whose labels change with the
    language would lose its value on a switch; each language gets its own widget, and the
    value itself lives under ``state_key``, independent of the language.
    """
    return f"{state_key}__{i18n.lang()}"


def bound(widget: Callable[..., Any], label: str, options: list[Any], state_key: str, *,
          on_change: Callable[[], None] | None = None, **kw: Any) -> Any:
    """Draw ``widget`` (st.selectbox, st.segmented_control…) for the value in
    ``session_state[state_key]``; a change is copied back before the next run."""
    ss = st.session_state
    wkey = widget_key(state_key)
    if ss.get(state_key) not in options:
        ss[state_key] = options[0]
    ss[wkey] = ss[state_key]
    fmt = kw.pop("format_func", str)
    labels = {o: fmt(o) for o in options}  # formatted now, in this run's language

    def changed() -> None:
        ss[state_key] = ss[wkey]
        if on_change is not None:
            on_change()

    return widget(label, options, key=wkey, on_change=changed, format_func=labels.__getitem__,
                  **kw)


# -- the current view --------------------------------------------------------------------------


def period_options(grain: Grain, current: str) -> list[str]:
    """Periods of ``grain`` from this one back; the current choice is always among them."""
    p = at(grain, today())
    out = []
    for _ in range(HISTORY[grain] + 1):
        out.append(p.label)
        p = p.previous()
    if current not in out and _valid_period(current) and parse(current).grain == grain:
        out.append(current)
        out.sort(reverse=True)
    return out


def build_view(user: Viewer, key: data.Key) -> View:
    """The scope and period the filters select, checked against the user's area."""
    ss = st.session_state
    allowed = data.allowed_scope(key)
    scope = allowed
    for lv in LEVELS:
        code = ss.get(KEYS[lv]) or NONE
        if code:
            scope = data.unit_scope(key, code)
    period = ss.get(KEYS["period"]) or default_period()
    view = View(user=user, key=key, allowed=allowed, scope=scope, period=period,
                lang=i18n.lang())
    ss[_VIEW] = view
    return view


class NoData(Exception):
    """The warehouse has no division list yet (nothing was ingested)."""


def forget_view() -> None:
    st.session_state.pop(_VIEW, None)
    st.session_state.pop(_ERROR, None)


def fail(error: Exception) -> None:
    """Remember why no view could be built, for the page to report (and show no figures)."""
    st.session_state.pop(_VIEW, None)
    st.session_state[_ERROR] = error


def current() -> View:
    """The view the entry point built for this run (pages call this)."""
    view = st.session_state.get(_VIEW)
    if view is None:
        raise st.session_state.get(_ERROR) or NoData()
    return view
