"""HTTP helpers shared by the API plugins (``rest``, ``open311``): one GET with retries.

Retries cover what may pass on its own: HTTP 429, 5xx, and transport errors (refused or reset
connections, timeouts). The wait is exponential backoff with jitter, or the server's
``Retry-After`` when it sends one, both capped. 401/403 fail at once (a wrong token does not
heal), as do other 4xx. Secrets (tokens) are redacted from every message we build.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from gongzhi.errors import AuthError, SourceError, TransientSourceError

REDACTED = "***"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one request."""

    max_retries: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every (non-empty) secret replaced by ``***``."""
    for s in secrets:
        if s:
            text = text.replace(s, REDACTED)
    return text


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    Returns None when the header is absent or unreadable (the caller then uses its own
    backoff); a date in the past means "now" (0).
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; be lenient with ones that omit it
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(attempt: int, base: float, cap: float,
                  rand: Callable[[], float] = random.random) -> float:
    """Wait before retry number ``attempt`` (0-based): ``base·2^attempt`` capped at ``cap``,
    then jittered into its upper half so that many clients do not retry in lockstep."""
    ceiling = min(cap, base * (2 ** min(attempt, 62)))
    return ceiling / 2 + rand() * ceiling / 2


def is_retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def send_with_retries(
    client: httpx.Client,
    request: httpx.Request,
    *,
    policy: RetryPolicy,
    where: str,
    secrets: Iterable[str | None] = (),
    auth_hint: str = "",
    warn: Callable[[str], None] = lambda message: None,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """Send ``request`` until it gets a 2xx response, retrying what may pass on its own.

    ``where`` names the place in errors (URL and page); it must already be redacted.
    Raises :class:`AuthError` on 401/403, :class:`SourceError` on other 4xx or unexpected
    statuses, :class:`TransientSourceError` once ``policy.max_retries`` retries are spent.
    """
    secrets = list(secrets)
    last = ""
    for attempt in range(policy.max_retries + 1):
        wait: float | None = None
        try:
            response = client.send(request)
        except httpx.TooManyRedirects:
            raise SourceError("too many redirects", location=where) from None
        except httpx.TransportError as e:
            # the exception text may carry the URL; keep only its kind and first line
            detail = redact(str(e).splitlines()[0] if str(e) else "", secrets)
            last = f"{type(e).__name__}" + (f" ({detail})" if detail else "")
        else:
            status = response.status_code
            if 200 <= status <= 299:
                return response
            if status in (401, 403):
                hint = f"; check {auth_hint}" if auth_hint else ""
                raise AuthError(f"the server refused the request (HTTP {status}){hint}",
                                location=where)
            if not is_retryable_status(status):
                raise SourceError(f"HTTP {status}{_snippet(response, secrets)}", location=where)
            last = f"HTTP {status}"
            wait = parse_retry_after(response.headers.get("Retry-After"))
        if attempt == policy.max_retries:
            break
        if wait is None:
            wait = backoff_delay(attempt, policy.backoff_base_s, policy.backoff_max_s)
        wait = min(wait, policy.backoff_max_s)
        warn(f"{where}: {last}; retry {attempt + 1} of {policy.max_retries} in {wait:.1f} s")
        sleep(wait)
    raise TransientSourceError(
        f"still failing after {policy.max_retries} retries; last error: {last}", location=where)


def _snippet(response: httpx.Response, secrets: list[str | None], limit: int = 200) -> str:
    """The start of an error body, which often says what was wrong with the request."""
    try:
        text = " ".join(response.text.split())
    except Exception:  # an undecodable body is no reason to hide the status
        return ""
    if not text:
        return ""
    text = redact(text, secrets)
    return ": " + (text[:limit] + "…" if len(text) > limit else text)
