"""Every string the dashboard shows, in Chinese (the default) and English.

Pages call :func:`t` with a key; KPI and domain labels come from the KPI catalogue
(``label.zh`` / ``label.en``) and value formatting from :mod:`metrics.format`, so nothing
shown to a person is written in a page module. A test checks that every key has both
languages.

Most Streamlit elements (captions, messages, titles, button, tab and metric labels, help
tooltips) render their text as Markdown. Data put into such text (a division's name, a
source id, an error message) is escaped by :func:`md`, and :func:`t` escapes every value it
fills in, so a community named ``**x**`` or ``[a](javascript:…)`` shows as those characters,
never as markup or a link.

The strings live in one module per area of the dashboard (:mod:`~dashboard.i18n.frame`,
``pages``, ``runs``, ``screen``, ``drill``, ``office``) and are merged here into one table:
:func:`t` stays the single lookup, so a page never needs to know which module holds a key.
"""

from __future__ import annotations

import string
from typing import Any

import streamlit as st

from dashboard.i18n import drill, frame, office, pages, runs, screen

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_KEY = "f_lang"  # the language switch's widget key (and so its session-state key)


def _merged(*parts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    # one key, one home: a key declared in two area modules would silently shadow the other
    out: dict[str, dict[str, str]] = {}
    for part in parts:
        twice = out.keys() & part.keys()
        if twice:
            raise ValueError(f"dashboard.i18n: keys declared twice: {sorted(twice)}")
        out.update(part)
    return out


STRINGS: dict[str, dict[str, str]] = _merged(
    frame.STRINGS, pages.STRINGS, runs.STRINGS, screen.STRINGS, drill.STRINGS, office.STRINGS)


class Markdown(str):
    """Text that is safe to render as Markdown: our own strings, or data through :func:`md`."""

    __slots__ = ()


_PUNCTUATION = frozenset(string.punctuation)  # CommonMark lets any of these be escaped


def md(text: Any) -> Markdown:
    """``text`` as Markdown that shows exactly its characters (data, not markup): every ASCII
    punctuation character is backslash-escaped and line breaks become spaces (a newline
    would start a heading, a list or a new paragraph). Already-safe text is returned as is."""
    if isinstance(text, Markdown):
        return text
    out = []
    for ch in str(text):
        if ch in "\r\n":
            out.append(" ")
        elif ch in _PUNCTUATION:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return Markdown("".join(out))


def lang() -> str:
    """The language of this session: the switch's value, else Chinese."""
    value = st.session_state.get(LANG_KEY)
    return value if value in LANGS else DEFAULT_LANG


def t(key: str, /, **values: Any) -> Markdown:
    """The string ``key`` in the session's language, with ``values`` filled in; text values
    are escaped for Markdown (:func:`md`), numbers keep their format specs."""
    text = STRINGS[key][lang()]
    if not values:
        return Markdown(text)
    safe = {k: md(v) if isinstance(v, str) else v for k, v in values.items()}
    return Markdown(text.format(**safe))


def pick(zh: str, en: str) -> str:
    """One of two catalogue labels (KPI, domain) by the session's language."""
    return en if lang() == "en" else zh
