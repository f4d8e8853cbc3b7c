"""Sending alerts through apprise (DingTalk, WeCom, Feishu, e-mail, JSON webhooks).

Destinations come from a rule's ``notify`` (URLs without secrets) and ``notify_env`` (an
environment variable holding URLs with tokens, separated by spaces, commas or new lines). A
URL is never stored, printed or logged: the warehouse keeps its SHA-256 (to know which
destination a delivery went to) and a masked form (scheme and host only, or ``***`` where the
host is itself the token, as in ``dingtalk://TOKEN``).

Each destination is tried in a daemon thread and waited for at most ``send_timeout_seconds``
all together, so an unreachable destination never holds up an ingestion run; a failed one is
retried at the next check after ``retry_minutes``, up to ``max_attempts``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from core.alertconfig import AlertRule

log = logging.getLogger("gongzhi.alerts")
# apprise's own log lines may quote a destination with its token: they never reach the
# process's log; what failed is recorded by us, scrubbed (Outcome.error)
logging.getLogger("apprise").propagate = False
_HOSTNAME = re.compile(r"^(localhost|[0-9.]+|\[[0-9a-fA-F:]+\]|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$")


@dataclass(frozen=True)
class Destination:
    """One apprise URL of a rule: the URL itself stays in memory only."""

    url: str

    @property
    def key(self) -> str:
        return hashlib.sha256(self.url.encode("utf-8")).hexdigest()

    @property
    def masked(self) -> str:
        return mask(self.url)

    def secrets(self) -> list[str]:
        """Pieces of the URL that may be tokens: scrubbed from any error text kept."""
        parts = urlsplit(self.url)
        pieces = [parts.netloc, parts.username or "", parts.password or "", parts.path,
                  parts.query, *parts.path.split("/"),
                  *(v for kv in parts.query.split("&") for v in kv.split("=")[1:])]
        found = {p for p in pieces if len(p) >= 6} | {unquote(p) for p in pieces if len(p) >= 6}
        if not _HOSTNAME.match(parts.hostname or ""):
            found.add(parts.hostname or "")
        return sorted((p for p in found if p), key=len, reverse=True)


def mask(url: str) -> str:
    """``json://127.0.0.1:8900/hook/TOKEN`` → ``json://127.0.0.1:8900/…``;
    ``dingtalk://TOKEN/`` → ``dingtalk://***``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    scheme = parts.scheme or "?"
    shown = host + port if _HOSTNAME.match(host) else "***"
    rest = "/…" if (parts.path.strip("/") or parts.query) and shown != "***" else ""
    return f"{scheme}://{shown}{rest}"


def destinations(rule: AlertRule, environ: dict[str, str] | None = None
                 ) -> tuple[list[Destination], str | None]:
    """The rule's destinations, and a problem (an unset environment variable) if any."""
    env = os.environ if environ is None else environ
    urls = list(rule.notify)
    problem = None
    if rule.notify_env:
        raw = env.get(rule.notify_env, "")
        if not raw.strip():
            problem = f"environment variable {rule.notify_env} is not set"
        urls += [u for u in re.split(r"[\s,]+", raw) if u]
    seen: dict[str, Destination] = {}
    for u in urls:
        d = Destination(u)
        seen.setdefault(d.key, d)
    return list(seen.values()), problem


def scrub(text: str, dests: list[Destination]) -> str:
    for d in dests:
        for piece in d.secrets():
            text = text.replace(piece, "***")
    return text


@dataclass
class Outcome:
    """What one destination said."""

    ok: bool
    error: str = ""
    finished: bool = True


def send_all(jobs: list[tuple[Destination, str, str, str]], timeout: float
             ) -> list[Outcome]:
    """Send ``(destination, title, body, severity)`` jobs in parallel daemon threads; what
    is not done after ``timeout`` seconds is reported unfinished (and retried later)."""
    outcomes = [Outcome(False, "timed out", finished=False) for _ in jobs]
    threads = []
    for i, (dest, title, body, severity) in enumerate(jobs):
        th = threading.Thread(target=_send_one, args=(dest, title, body, severity, outcomes, i),
                              daemon=True, name=f"alert-send-{i}")
        th.start()
        threads.append(th)
    deadline = _monotonic() + timeout
    for th in threads:
        th.join(max(0.0, deadline - _monotonic()))
    return outcomes


def _monotonic() -> float:
    import time

    return time.monotonic()


def _send_one(dest: Destination, title: str, body: str, severity: str,
              outcomes: list[Outcome], i: int) -> None:
    try:
        import apprise

        a = apprise.Apprise()
        if not a.add(dest.url):
            outcomes[i] = Outcome(False, f"not an apprise URL apprise understands "
                                         f"({dest.masked})")
            return
        kind = apprise.NotifyType.FAILURE if severity == "red" else apprise.NotifyType.WARNING
        with apprise.LogCapture(level=logging.WARNING) as captured:
            ok = bool(a.notify(body=body, title=title, notify_type=kind,
                               body_format=apprise.NotifyFormat.TEXT))
        if ok:
            outcomes[i] = Outcome(True)
        else:
            said = " ".join(line.split(" - ", 2)[-1] for line in
                            str(captured.getvalue()).strip().splitlines()[-2:])
            outcomes[i] = Outcome(False, scrub(said or "not delivered", [dest])[:500])
    except Exception as e:  # a plugin's own failure is this destination's failure
        outcomes[i] = Outcome(False, scrub(f"{type(e).__name__}: {e}", [dest])[:500])


def retry_at(now: dt.datetime, attempts: int, minutes: float) -> dt.datetime:
    """Next try: ``minutes`` after the first failure, doubling up to 6 hours."""
    wait = min(minutes * (2 ** max(0, attempts - 1)), 360.0)
    return now + dt.timedelta(minutes=wait)


def quiet_now(rule: AlertRule | None, default: Any, local_now: dt.datetime) -> bool:
    q = (rule.quiet_hours if rule is not None and rule.quiet_hours is not None else default)
    return q is not None and q.contains(local_now.time())
