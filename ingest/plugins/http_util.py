"""HTTP helpers shared by the API plugins (``rest``, ``open311``, and every later HTTP
source): where a source may connect, how fast, and one GET with retries.

Where (:func:`guarded_client`): requests go only to the configured URL's origin and the
origins a source lists in ``allowed_origins`` (``next`` links and redirects included);
credentials go only to the configured origin. Before connecting, the host is resolved and
*every* address checked: link-local and cloud-metadata addresses are always refused, private
ones (RFC 1918, unique-local, shared 100.64/10 and loopback 127/8, ::1) unless the source says
``allow_private = true``; then the connection goes to the address that was checked, so a DNS
answer that changes in between (rebinding) cannot lead elsewhere. Proxies from the
environment are not used: the check must see the real destination.

Retries cover what may pass on its own: HTTP 429, 5xx, and transport errors (refused or reset
connections, timeouts). The wait is exponential backoff with jitter, or the server's
``Retry-After`` when it sends one, both capped. 401/403 fail at once (a wrong token does not
heal), as do other 4xx. Secrets (tokens) are redacted from every message we build.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import re
import socket
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpcore
import httpx
from pydantic import Field, field_validator

from core.errors import (
    AuthError,
    HttpStatusError,
    SourceError,
    TransientSourceError,
    retryable_status,
)
from ingest.contract import PluginConfig

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
    return retryable_status(status)


# -- where a source may connect ----------------------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Instance-metadata services hand out cloud credentials: AWS/GCP/Azure/OpenStack (169.254.
# 169.254, inside link-local anyway), AWS over IPv6, Alibaba Cloud and Tencent Cloud.
METADATA = {ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "169.254.0.23")}
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: private in practice
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class HttpSourceConfig(PluginConfig):
    """Settings every HTTP source has beside its own: where it may connect."""

    allowed_origins: list[str] = Field(
        default_factory=list, description="other origins (scheme://host[:port]) that next "
                                          "links and redirects may lead to; no credentials "
                                          "are sent there")
    allow_private: bool = Field(False, description="allow private and loopback addresses "
                                                   "(an API on the intranet)")
    max_requests_per_minute: float | None = Field(
        None, gt=0, description="at most this many requests a minute (pages, retries and "
                                "redirects included), spaced evenly; none: no limit")
    headers_env: dict[str, str] = Field(
        default_factory=dict, description="HTTP header → environment variable holding its "
                                          "value (e.g. X-API-Key = \"CITY_API_KEY\"); sent to "
                                          "the source's own origin only, never shown")

    @field_validator("headers_env")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name, env in v.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"'{name}' is not an HTTP header name")
            if name.lower() in ("host", "content-length", "transfer-encoding", "connection"):
                raise ValueError(f"'{name}' is set by the connection, not by a source")
            if not _ENV_NAME.fullmatch(env):
                raise ValueError(f"'{env}' (for {name}) is not an environment variable name; "
                                 "give the variable's name, never the secret itself")
        return v

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        out = []
        for item in v:
            try:
                url = httpx.URL(item)
            except httpx.InvalidURL as e:
                raise ValueError(f"'{item}' is not an origin: {e}") from None
            if url.scheme not in ("http", "https") or not url.host or url.path not in ("", "/") \
                    or url.query:
                raise ValueError(f"'{item}' is not an origin (scheme://host[:port], nothing "
                                 "after it)")
            out.append(origin_text(url))
        return out


def origin_of(url: httpx.URL | str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, with the scheme's default port filled in."""
    u = httpx.URL(url) if isinstance(url, str) else url
    port = u.port or (443 if u.scheme == "https" else 80)
    return (u.scheme, u.host.lower(), port)


def origin_text(url: httpx.URL | str) -> str:
    scheme, host, port = origin_of(url)
    return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}"


def address_problem(ip: IPAddress, allow_private: bool) -> str | None:
    """Why a source may not connect to ``ip``, or None when it may."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified or ip.is_multicast or (
            isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("0.0.0.0/8")):
        return "not an address a server can have"
    private = ip.is_loopback or ip.is_private or (
        isinstance(ip, ipaddress.IPv4Address) and ip in SHARED)
    if not private:
        if ip.is_reserved:
            return "not an address a server can have"
        if ip.is_global:
            return None
    if allow_private:
        return None
    kind = "a loopback" if ip.is_loopback else "a private"
    return f"{kind} address; set allow_private = true in the source if the API is on the intranet"


class RefusedDestination(SourceError):
    """A request would go where the source may not connect (origin or address)."""


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal is itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise httpcore.ConnectError(f"cannot resolve {host}: {e}") from None
    out: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if ip not in out:
            out.append(ip)
    return out


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, but it checks every address of a host before connecting,
    then connects to the checked address itself (never resolving the name again)."""

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = resolve(host, port)
        for ip in addresses:
            why = address_problem(ip, self.allow_private)
            if why:
                named = host if host.strip("[]") == str(ip) else f"{host} ({ip})"
                raise RefusedDestination(f"refused to connect to {named}: {why}")
        error: Exception | None = None
        for ip in addresses:  # like socket.create_connection: the first that answers
            try:
                return super().connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as e:
                error = e
        raise error or httpcore.ConnectError(f"no address for {host}")


class Pacer:
    """Spaces requests at least ``60 / per_minute`` seconds apart (the API's rate limit),
    every request the client sends: pages, retries and redirects alike."""

    def __init__(self, per_minute: float | None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._clock, self._sleep = clock, sleep
        self._next: float | None = None

    def __call__(self, request: httpx.Request) -> None:
        if not self.interval:
            return
        now = self._clock()
        if self._next is not None and now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


class OriginHeaders(httpx.Auth):
    """Credential headers (``Authorization: Bearer …``, ``headers_env``) on requests to the
    source's own origin only."""

    def __init__(self, headers: dict[str, str], home: tuple[str, str, int]):
        self._headers, self._home = dict(headers), home

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        for name, value in self._headers.items():
            if origin_of(request.url) == self._home:
                request.headers[name] = value
            else:
                request.headers.pop(name, None)
        yield request


def guarded_client(url: str, cfg: HttpSourceConfig, *, timeout: float,
                   headers: dict[str, str] | None = None,
                   auth_headers: dict[str, str] | None = None,
                   secrets: Iterable[str | None] = ()) -> httpx.Client:
    """The HTTP client of a source whose configured URL is ``url``: only its origin and
    ``cfg.allowed_origins``, addresses checked before connecting, ``auth_headers`` (a bearer
    token, ``headers_env``) sent to its own origin only, requests paced to
    ``cfg.max_requests_per_minute``. Redirects are followed within the same rules. Plugins
    build it through :class:`ingest.plugins.http_source.HttpSession`."""
    home = origin_of(url)
    allowed = {home, *(origin_of(o) for o in cfg.allowed_origins)}
    if home[0] == "http":  # an upgrade of the same host to https is the same server
        allowed.add(("https", home[1], 443))
    hidden = [s for s in secrets if s]
    credentials = ["Authorization", *(auth_headers or {})]

    def check_origin(request: httpx.Request) -> None:
        if origin_of(request.url) not in allowed:
            shown = redact(str(request.url), hidden)
            raise RefusedDestination(
                f"{shown} is not on the source's origin ({origin_text(url)}); list its origin "
                "in allowed_origins to follow it (no credentials are sent there)")
        if origin_of(request.url) != home:  # belt and braces: never cross origins
            for name in credentials:
                request.headers.pop(name, None)

    ssl_context = httpx.create_ssl_context()
    transport = httpx.HTTPTransport(verify=ssl_context, trust_env=False)
    # the same connection pool httpx builds, with the guarded network backend
    limits = httpx.Limits()
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context, max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(cfg.allow_private))
    return httpx.Client(transport=transport, trust_env=False, timeout=timeout,
                        headers=headers or {}, follow_redirects=True,
                        auth=OriginHeaders(auth_headers, home) if auth_headers else None,
                        event_hooks={"request": [check_origin,
                                                 Pacer(cfg.max_requests_per_minute)]})


def send_with_retries(
    client: httpx.Client,
    request: httpx.Request,
    *,
    policy: RetryPolicy,
    where: str,
    secrets: Iterable[str | None] = (),
    auth_hint: str = "",
    describe_body: Callable[[bytes], str] | None = None,
    warn: Callable[[str], None] = lambda message: None,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """Send ``request`` until it gets a 2xx response, retrying what may pass on its own; the
    one retry loop of every HTTP source (``rest``, ``open311``).

    ``where`` names the place in errors (URL and page); it must already be redacted.
    ``describe_body`` turns an error response's body into the server's own words (Open311
    error objects); without it the start of the body is shown. Raises :class:`AuthError`
    (with its ``status``) on 401/403, :class:`HttpStatusError` (with the ``status``) on other
    4xx and unexpected statuses, and :class:`TransientSourceError` once ``policy.max_retries``
    retries are spent, naming the last error and the number of attempts.
    """
    secrets = list(secrets)
    last = ""
    for attempt in range(policy.max_retries + 1):
        wait: float | None = None
        try:
            response = client.send(request)
        except RefusedDestination as e:
            raise RefusedDestination(redact(str(e), secrets), location=where) from None
        except httpx.TooManyRedirects:
            raise SourceError("too many redirects", location=where) from None
        except httpx.TimeoutException:
            timeout = client.timeout.read
            last = f"no answer within {timeout:g} s" if timeout is not None else "no answer"
        except httpx.TransportError as e:
            # the exception text may carry the URL; keep only its kind and first line
            detail = redact(str(e).splitlines()[0] if str(e) else "", secrets)
            last = f"connection failed ({type(e).__name__}" + (f": {detail})" if detail
                                                              else ")")
        except httpx.HTTPError as e:  # undecodable content and the like: retrying won't help
            raise SourceError(redact(f"{type(e).__name__}: {e}", secrets),
                              location=where) from None
        else:
            status = response.status_code
            if 200 <= status <= 299:
                return response
            if status in (401, 403):
                if describe_body is not None:
                    text = redact(describe_body(response.content), secrets)
                    raise AuthError(f"HTTP {status}: {text}", location=where, status=status)
                hint = f"; check {auth_hint}" if auth_hint else ""
                raise AuthError(f"the server refused the request (HTTP {status}){hint}",
                                location=where, status=status)
            if not is_retryable_status(status):
                text = (": " + redact(describe_body(response.content), secrets)
                        if describe_body is not None else _snippet(response, secrets))
                raise HttpStatusError(status, f"HTTP {status}{text}", location=where)
            last = f"HTTP {status}"
            wait = parse_retry_after(response.headers.get("Retry-After"))
        if attempt == policy.max_retries:
            break
        if wait is None:
            wait = backoff_delay(attempt, policy.backoff_base_s, policy.backoff_max_s)
        wait = min(wait, policy.backoff_max_s)
        warn(f"{where}: {last}; retry {attempt + 1} of {policy.max_retries} in {wait:.1f} s")
        sleep(wait)
    attempts = policy.max_retries + 1
    raise TransientSourceError(
        f"still failing after {policy.max_retries} retries; last error: {last} "
        f"(after {attempts} attempt(s))", location=where)


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
