"""When the database the dashboard reads is down (a standby being restarted, a cut network).

An outage is not a bug: people get a sentence saying what is wrong and that the page will come
back by itself, never a traceback, and the server log gets one line. Told apart from other
failures by the driver's own error class (:func:`warehouse.engine.explain`), not by text.
"""

from __future__ import annotations

import os

import streamlit as st

from dashboard import data
from dashboard.i18n import Markdown, t
from warehouse.engine import LOST, explain

# How often a page that could not reach the database tries again (small in tests).
RETRY_SECONDS = float(os.environ.get("GONGZHI_RETRY_SECONDS", "10"))


def unreachable(e: BaseException) -> bool:
    """The database (the standby the dashboard reads, or the warehouse) is down or cut off."""
    return explain(e) == LOST


def where() -> Markdown:
    """Which database: the standby (``[warehouse] read_url``) or the warehouse."""
    try:
        return t("err.where_standby" if data.reading_standby() else "err.where_warehouse")
    except Exception:  # no config at all: the plain word
        return t("err.where_warehouse")


def message() -> Markdown:
    """The page's message during an outage."""
    return t("err.unreachable", where=where())


def cards_note() -> Markdown:
    """The line under cards already drawn when the database went away."""
    return t("card.unreachable", where=where())


@st.fragment(run_every=RETRY_SECONDS)
def retry_when_back() -> None:
    """Shown with :func:`message`: once the database answers again, the whole page is drawn
    anew, without the person having to reload it."""
    try:
        data.version()
    except Exception:
        return
    st.rerun(scope="app")
