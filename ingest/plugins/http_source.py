"""The one HTTP source base of every API plugin (``rest``, ``open311``, each later one):
credentials from environment variables, the guarded client (origins, addresses, rate limit:
:mod:`ingest.plugins.http_util`), one GET through the shared retry loop, and page iteration in
the styles APIs use.

Credentials are never in the config file: a bearer token, extra headers (``headers_env``,
e.g. ``X-API-Key``) and query parameters (Open311's ``api_key``) each name an environment
variable. Their values are redacted from every message, and a query secret is left out of the
URL the rows and errors name (the place a reader sees), so nothing we show carries them.

Paging styles (:class:`Paging`):

- ``single``: one request.
- ``next``: the response names the next page, by a token (sent as ``token_param``) or a URL
  (followed as it is); a token or URL seen before is a loop.
- ``page``: a page number (``page_param``, from ``first_page``), optionally with a page size.
- ``offset``: a record offset (``offset_param``, from 0) advanced by the records read.

Every style ends on an empty page; ``page``/``offset`` with a page size also end on a short
one. More than ``max_pages`` pages, or a page that repeats the previous one (an API that
ignores the paging parameter), is a :class:`PaginationError`, never a silent cut or an endless
read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from core.errors import PaginationError, SourceError
from ingest.plugins.http_util import (
    HttpSourceConfig,
    RetryPolicy,
    guarded_client,
    redact,
    send_with_retries,
)

Style = Literal["single", "next", "page", "offset"]
Query = Mapping[str, str | None]
# the response of one page → (its parsed body, its records); raises SourceError on a bad page
Reader = Callable[[httpx.Response, str], tuple[Any, list[Any]]]

MISSING = object()  # what dig() returns for a path the data lacks


def dig(data: Any, path: str | None) -> Any:
    """The value at a dotted path (``data.items``; digits index lists); ``MISSING`` if absent.
    An empty path is the data itself."""
    if not path:
        return data
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return MISSING
    return data


def json_kind(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def env_secret(env: str | None, what: str, location: str) -> str | None:
    """The secret in environment variable ``env`` (None when no variable is named); a named
    but unset or empty variable is an error naming the variable, never its value."""
    if not env:
        return None
    value = os.environ.get(env)
    if not value:
        raise SourceError(f"environment variable {env} ({what}) is not set", location=location)
    return value


@dataclass(frozen=True)
class Paging:
    """How an API pages (see the module docstring); ``size_param``/``size`` ask for a page
    size and, for ``page``/``offset``, let a short page end the read."""

    style: Style = "single"
    next_path: str | None = None
    token_param: str = "cursor"
    page_param: str = "page"
    first_page: int = 1
    offset_param: str = "offset"
    size_param: str | None = None
    size: int | None = None
    max_pages: int = 10_000
    label_pages: bool = True  # "… page 2" in the place errors name
    # {n} is max_pages; each plugin words it for its readers (and its tests)
    too_many_pages: str = ("more than max_pages = {n} pages; the API may page endlessly, or "
                           "raise max_pages")


@dataclass(frozen=True)
class Page:
    """One page read: its number (1-based), the URL shown for it (no secrets), the place
    errors name, the parsed body and its records."""

    number: int
    url: str
    where: str
    body: Any
    records: list[Any]


class HttpSession:
    """One run's connection to an HTTP source: use as a context manager.

    ``url`` is the configured URL (its origin is the source's home: the only one that gets
    credentials). ``bearer_env`` names the variable of a bearer token, ``query_env`` maps a
    query parameter to the variable of its secret value; ``cfg.headers_env`` adds headers.
    """

    def __init__(self, url: str, cfg: HttpSourceConfig, *, timeout: float, policy: RetryPolicy,
                 headers: Mapping[str, str] | None = None, bearer_env: str | None = None,
                 bearer_what: str = "the API token", query_env: Mapping[str, str] | None = None,
                 location: str | None = None, auth_hint: str = "",
                 describe_body: Callable[[bytes], str] | None = None,
                 warn: Callable[[str], None] = lambda message: None) -> None:
        place = location or url
        token = env_secret(bearer_env, bearer_what, place)
        self.query_secrets: dict[str, str] = {}
        for param, env in (query_env or {}).items():
            value = env_secret(env, f"the {param} parameter", place)
            if value is not None:
                self.query_secrets[param] = value
        auth: dict[str, str] = {}
        for header, env in cfg.headers_env.items():
            value = env_secret(env, f"the {header} header of headers_env", place)
            if value is not None:
                auth[header] = value
        if token is not None:
            auth["Authorization"] = f"Bearer {token}"
        self.secrets: list[str] = [s for s in (token, *auth.values(),
                                               *self.query_secrets.values()) if s]
        self.policy = policy
        self._auth_hint = auth_hint or _hint(bearer_env, cfg.headers_env, query_env)
        self._describe_body = describe_body
        self._warn = warn
        self.client = guarded_client(url, cfg, timeout=timeout, headers=dict(headers or {}),
                                     auth_headers=auth, secrets=self.secrets)

    def __enter__(self) -> HttpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    @staticmethod
    def target(url: str, params: Query | None) -> httpx.URL:
        """``url`` with ``params`` (as httpx builds a request: they replace the URL's own
        query; none given, the URL is followed as it is)."""
        return httpx.URL(url, params=dict(params)) if params else httpx.URL(url)

    def shown(self, url: str, params: Query | None) -> str:
        """The URL of a request as messages and rows name it: query secrets left out, every
        other secret redacted."""
        return redact(str(self.target(url, params)), self.secrets)

    def request(self, url: str, params: Query | None) -> httpx.Request:
        """The GET of ``url`` with ``params`` and the query secrets (added last)."""
        target = self.target(url, params)
        if self.query_secrets:
            target = target.copy_merge_params(self.query_secrets)
        return self.client.build_request("GET", target)

    def send(self, request: httpx.Request, where: str) -> httpx.Response:
        """``request`` through the shared retry loop (http_util.send_with_retries)."""
        return send_with_retries(self.client, request, policy=self.policy, where=where,
                                 secrets=self.secrets, auth_hint=self._auth_hint,
                                 describe_body=self._describe_body, warn=self._warn)

    def get(self, url: str, params: Query | None = None) -> tuple[httpx.Response, str]:
        """One GET; returns the response and the URL shown for it."""
        shown = self.shown(url, params)
        return self.send(self.request(url, params), shown), shown

    def pages(self, url: str, params: Query | None, paging: Paging, read: Reader
              ) -> Iterator[Page]:
        """Every page of ``url``, in order, read by ``read`` (see the module docstring)."""
        base = dict(params or {})
        # the page size goes after the page number, unless the caller placed it already
        sized = {paging.size_param: str(paging.size)} if paging.size_param and \
            paging.size is not None and paging.size_param not in base else {}
        current_url, query = url, {**base, **sized}
        seen_next: dict[str, str] = {}  # next tokens/URLs given so far → which page gave them
        requested: dict[str, str] = {}  # URLs requested so far → which page: a repeat loops
        previous: list[Any] | None = None
        offset = 0
        number = 0
        while True:
            number += 1
            if paging.style == "page":
                query = {**base, paging.page_param: str(paging.first_page + number - 1),
                         **sized}
            elif paging.style == "offset":
                query = {**base, paging.offset_param: str(offset), **sized}
            request = self.request(current_url, query)
            shown = self.shown(current_url, query)
            where = f"{shown} page {number}" if paging.label_pages else shown
            key = str(request.url)
            if key in requested:
                raise PaginationError(f"this URL repeats {requested[key]}: the API's paging "
                                      "loops", location=where)
            requested[key] = f"the URL of page {number}"
            body, records = read(self.send(request, where), where)
            if paging.style in ("page", "offset") and records and records == previous:
                name = paging.page_param if paging.style == "page" else paging.offset_param
                raise PaginationError(f"page {number} repeats page {number - 1}: the endpoint "
                                      f"seems to ignore '{name}'", location=where)
            yield Page(number, shown, where, body, records)
            if not records or paging.style == "single":
                return  # an empty page ends paging, whatever a next token says
            if paging.style == "next":
                nxt = self._next(body, paging, number, where, seen_next)
                if nxt is None:
                    return
                if nxt.lower().startswith(("http://", "https://")):
                    current_url, query = nxt, {}  # a next URL carries its own query
                else:
                    current_url, query = url, {**base, **sized, paging.token_param: nxt}
            else:
                if paging.size is not None and len(records) < paging.size:
                    return  # a short page: the last one
                if paging.size is not None and len(records) > paging.size:
                    self._warn(f"{shown} returned {len(records)} rows for page_size "
                               f"{paging.size}; the endpoint ignores paging, read as one page")
                    return
                offset += len(records)
            if number >= paging.max_pages:
                raise PaginationError(paging.too_many_pages.format(n=paging.max_pages),
                                      location=where)
            previous = records

    def _next(self, body: Any, paging: Paging, number: int, where: str,
              seen: dict[str, str]) -> str | None:
        """The next page's token or URL named in ``body``; None when there is none."""
        value = dig(body, paging.next_path) if paging.next_path else None
        if value is MISSING or value is None or value == "":
            return None
        if isinstance(value, dict | list | bool):
            raise SourceError(f"'{paging.next_path}' is a JSON {json_kind(value)}, not a page "
                              "token or URL", location=where)
        nxt = str(value)
        if nxt in seen:
            raise PaginationError(f"the next page '{redact(nxt, self.secrets)}' repeats "
                                  f"{seen[nxt]}: the API's paging loops", location=where)
        seen[nxt] = f"the next page given by page {number}"
        return nxt


def _hint(bearer_env: str | None, headers_env: Mapping[str, str],
          query_env: Mapping[str, str] | None) -> str:
    """Where the credentials come from, for a 401/403 message."""
    names = [f"the token in {bearer_env}"] if bearer_env else []
    names += [f"{h} in {e}" for h, e in headers_env.items()]
    names += [f"{p} in {e}" for p, e in (query_env or {}).items()]
    return ", ".join(names)

