"""A person at the dashboard, speaking Streamlit's own websocket protocol instead of running a
browser: what ``make bench-load`` uses to measure the server, not the browsers.

The messages are the protobufs that ship with Streamlit (``streamlit.proto``), sent as the
frontend sends them: connect to ``/_stcore/stream`` (sub-protocol ``streamlit``, the cookies
of the site), send a ``BackMsg.rerun_script`` holding the query string, the page and the
widget states, and read ``ForwardMsg``s until ``script_finished``. The widgets are found in
the deltas the server sent (their ids, labels and options), as the frontend knows them.

One person (:func:`visit`): opens the dashboard (the sign-in form), signs in (the form's
widget states; the server answers with the cookie hand-off, ``auth_redirect``, which is
followed over HTTP like a browser: the ``gz_session`` cookie comes back), opens the
overview with that cookie on a new websocket, changes the street filter, then stays (the
cards' live fragment ticking as the frontend would make it tick) until told to leave. Each
step's time runs from sending the message to the matching ``script_finished``. An error is a
failed step, a page with an exception or an error box, or an overview without its cards.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

STEP_TIMEOUT_S = 60.0
FINISHED_FRAGMENT = ForwardMsg.ScriptFinishedStatus.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
EARLY = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN


class StepFailed(Exception):
    """A step did not end as a person would expect."""


@dataclass
class Run:
    """What one script run sent: its elements by kind, and where it sent the browser."""

    elements: list[tuple[str, Any]] = field(default_factory=list)
    redirect: str | None = None
    status: int | None = None
    fragments: list[str] = field(default_factory=list)  # ids of fragments that auto-rerun

    def of(self, kind: str) -> list[Any]:
        return [e for k, e in self.elements if k == kind]

    def widget(self, kind: str, label: str) -> Any:
        found = [e for e in self.of(kind) if e.label == label]
        if not found:
            raise StepFailed(f"no {kind} labelled {label!r} on the page")
        return found[0]

    def problems(self) -> list[str]:
        """Exceptions and error boxes shown (what a person would read as broken)."""
        out = [f"exception: {e.message[:120]}" for e in self.of("exception")]
        out += [f"error box: {e.body[:120]}" for e in self.of("alert") if e.format == 1]
        return out


class Session:
    """One websocket session with a Streamlit server."""

    def __init__(self, base: str, cookies: dict[str, str]):
        self.base = base
        self.cookies = cookies
        self.ws: Any = None
        self.page_hash = ""

    async def open(self) -> None:
        url = self.base.replace("http", "ws", 1) + "/_stcore/stream"
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers = {"Origin": self.base, **({"Cookie": cookie} if cookie else {})}
        self.ws = await websockets.connect(url, subprotocols=["streamlit"],  # type: ignore[list-item]
                                           additional_headers=headers, max_size=None,
                                           open_timeout=STEP_TIMEOUT_S, ping_interval=None)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def rerun(self, query: str, widgets: list[Any] | None = None,
                    fragment: str = "") -> tuple[Run, float]:
        """Send one rerun; return what the run drew and the seconds until it finished."""
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = query
        cs.page_script_hash = self.page_hash
        if fragment:
            cs.fragment_id = fragment
            cs.is_auto_rerun = True
        for w in widgets or []:
            cs.widget_states.widgets.append(w)
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        run = await asyncio.wait_for(self._until_finished(fragment), STEP_TIMEOUT_S)
        return run, time.perf_counter() - t0

    async def _until_finished(self, fragment: str) -> Run:
        run = Run()
        while True:
            data = await self.ws.recv()
            fm = ForwardMsg()
            fm.ParseFromString(data)
            kind = fm.WhichOneof("type")
            if kind == "new_session":
                self.page_hash = fm.new_session.page_script_hash or self.page_hash
            elif kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                el = fm.delta.new_element
                which = el.WhichOneof("type")
                if which:
                    run.elements.append((which, getattr(el, which)))
            elif kind == "auth_redirect":
                run.redirect = fm.auth_redirect.url
            elif kind == "auto_rerun":
                run.fragments.append(fm.auto_rerun.fragment_id)
            elif kind == "script_finished":
                if fm.script_finished == EARLY:
                    continue  # a newer run of ours (or a callback's) follows
                if (fm.script_finished == FINISHED_FRAGMENT) != bool(fragment):
                    continue  # a fragment tick while we wait for the page, or the reverse
                run.status = fm.script_finished
                return run


def text_state(widget: Any, value: str) -> Any:
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    s = WidgetState(id=widget.id)
    s.string_value = value
    return s


def trigger_state(widget: Any) -> Any:
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    s = WidgetState(id=widget.id)
    s.trigger_value = True
    return s


async def follow(base: str, path: str) -> dict[str, str]:
    """GET the cookie hand-off as the browser does (same site, no redirects followed);
    returns the cookies it set."""
    async with httpx.AsyncClient(base_url=base, timeout=STEP_TIMEOUT_S) as client:
        r = await client.get(path, headers={"Sec-Fetch-Site": "same-origin"})
        if r.status_code not in (302, 303):
            raise StepFailed(f"the cookie hand-off answered {r.status_code}")
        return dict(r.cookies)


@dataclass
class Visit:
    user: str
    server: str
    sign_in_form_s: float | None = None
    sign_in_s: float | None = None
    overview_s: float | None = None
    filter_s: float | None = None
    error: str | None = None
    cards: list[str] = field(default_factory=list)  # card values drawn by the overview
    street_cards: list[str] = field(default_factory=list)  # … after the street was picked
    street: str = ""

    def times(self) -> list[float]:
        """The script runs a person waited for (sign-in form, signing in, overview, filter
        change)."""
        return [t for t in (self.sign_in_form_s, self.sign_in_s, self.overview_s, self.filter_s)
                if t is not None]


async def visit(base: str, user: str, password: str, query: str, leave: asyncio.Event,
                tick_s: float = 30.0, on_ready: Callable[[], None] | None = None) -> Visit:
    """One person's visit (see the module docstring); stays until ``leave`` is set
    (``on_ready`` is called once the steps are done and the tab just stays open)."""
    v = Visit(user, base)
    sessions: list[Session] = []
    try:
        first = Session(base, {})
        sessions.append(first)
        await first.open()
        form, v.sign_in_form_s = await first.rerun(query)
        states = [text_state(form.widget("text_input", "用户名"), user),
                  text_state(form.widget("text_input", "密码"), password),
                  trigger_state(form.widget("button", "登录"))]
        answer, v.sign_in_s = await first.rerun(query, states)
        if not answer.redirect:
            raise StepFailed("signing in did not hand the cookie over: "
                             + "; ".join(answer.problems() or ["wrong password?"]))
        cookies = await follow(base, answer.redirect)
        if "gz_session" not in cookies:
            raise StepFailed("the hand-off set no session cookie")
        await first.close()
        page = Session(base, cookies)  # the browser loads the page again, with the cookie
        sessions.append(page)
        await page.open()
        overview, v.overview_s = await page.rerun(query)
        bad = overview.problems()
        if bad or len(overview.of("metric")) < 3:
            raise StepFailed("; ".join(bad) or "the overview drew no cards")
        v.cards = [m.body for m in overview.of("metric")]
        street = overview.widget("selectbox", "街道")
        choice = street.options[1] if len(street.options) > 1 else street.options[0]
        v.street = choice
        changed, v.filter_s = await page.rerun(query, [text_state(street, choice)])
        v.street_cards = [m.body for m in changed.of("metric")]
        bad = changed.problems()
        if bad or len(changed.of("metric")) < 3:
            raise StepFailed("after the filter change: " + ("; ".join(bad) or "no cards"))
        fragments = changed.fragments or overview.fragments
        if on_ready is not None:
            on_ready()
        while not leave.is_set():  # the open tab's live cards tick as the frontend's would
            try:
                await asyncio.wait_for(leave.wait(), tick_s)
            except TimeoutError:
                for fid in fragments:
                    await page.rerun(query, fragment=fid)
    except Exception as e:
        v.error = f"{type(e).__name__}: {str(e)[:160]}"
    finally:
        for s in sessions:
            with contextlib.suppress(Exception):
                await s.close()
    return v
