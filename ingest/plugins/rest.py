"""``rest``: a paged JSON API, read page by page into one batch per page.

The bearer token comes from an environment variable named in the config and is never stored,
logged or shown (it is redacted from every message and origin), and goes only to the
configured URL's origin: a ``next`` URL or a redirect elsewhere is refused unless its origin
is in ``allowed_origins``, and even then gets no token (:func:`http_util.guarded_client`).
Each page's records become string columns; the framework maps, casts and validates them.
Paging follows a next token or URL found in each response and refuses to loop: a token seen
before, or more than ``max_pages`` pages, is a :class:`PaginationError`. With
``cursor_field`` the largest value seen becomes the cursor ``{"last": ...}``, sent back as
``cursor_param`` on the next run; the runner stores it with the data, so a run that fails
midway leaves it where it was.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import polars as pl
from pydantic import Field, field_validator, model_validator

from core.errors import PaginationError, SourceError
from ingest.contract import ORIGIN, ROW, Batch, Source
from ingest.plugins.http_util import (
    HttpSourceConfig,
    RetryPolicy,
    guarded_client,
    redact,
    send_with_retries,
)

_MISSING = object()


class RestConfig(HttpSourceConfig):
    url: str = Field(description="the first page's URL (http or https)")
    token_env: str | None = Field(None, description="environment variable with a bearer token")
    records: str | None = Field(None, description="dotted path to the record list; "
                                                  "empty = the body is the list")
    cursor_param: str | None = None
    cursor_field: str | None = None
    next: str | None = Field(None, description="dotted path to the next page's token or URL")
    page_param: str = "cursor"
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    page_size_param: str | None = None
    page_size: int | None = Field(None, ge=1)
    max_pages: int = Field(10_000, ge=1)
    max_retries: int = Field(5, ge=0)
    backoff_base_s: float = Field(0.5, ge=0)
    backoff_max_s: float = Field(60.0, ge=0)
    timeout_s: float = Field(30.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @model_validator(mode="after")
    def _pairs(self) -> RestConfig:
        if bool(self.page_size_param) != (self.page_size is not None):
            raise ValueError("give both 'page_size_param' and 'page_size', or neither")
        if self.cursor_param and not self.cursor_field:
            raise ValueError("'cursor_param' needs 'cursor_field' (the record field whose "
                             "largest value is sent back on the next run)")
        return self


def dig(data: Any, path: str | None) -> Any:
    """The value at a dotted path (``data.items``; digits index lists); ``_MISSING`` if absent.
    An empty path is the data itself."""
    if not path:
        return data
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return _MISSING
    return data


def to_text(value: Any) -> str | None:
    """A JSON value as the string the framework casts: null stays null, booleans are
    ``true``/``false``, objects and arrays stay JSON."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _order_key(text: str) -> tuple[int, float, str]:
    """Cursor values compare as numbers when they are numbers (so 10 > 9), else as text
    (ISO timestamps sort correctly as text)."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def records_frame(records: list[Any], *, first_row: int, origin: str, where: str) -> pl.DataFrame:
    """One row per record, one string column per key (in order of first appearance)."""
    columns: dict[str, list[str | None]] = {}
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise SourceError(f"record {i + 1} is a JSON {type(rec).__name__}, not an object",
                              location=where)
        for key in rec:
            if key not in columns:
                columns[key] = [None] * i
        for key, values in columns.items():
            values.append(to_text(rec.get(key)))
    frame = pl.DataFrame([pl.Series(k, v, dtype=pl.String) for k, v in columns.items()
                          if k not in (ROW, ORIGIN)])
    return frame.with_columns(
        pl.int_range(first_row, first_row + len(records), dtype=pl.Int64).alias(ROW),
        pl.lit(origin, dtype=pl.String).alias(ORIGIN))


class RestSource(Source):
    """Reads a paged JSON API with an optional bearer token and an incremental cursor."""

    name = "rest"
    Config = RestConfig
    tables = None

    config: RestConfig

    def describe(self) -> str:
        return self.config.url

    def _token(self) -> str | None:
        env = self.config.token_env
        if not env:
            return None
        token = os.environ.get(env)
        if not token:
            raise SourceError(f"environment variable {env} (the API token) is not set",
                              location=self.config.url)
        return token

    def extract(self, cursor: Any | None) -> Iterator[Batch]:
        cfg = self.config
        token = self._token()
        secrets = [token]
        headers = {"Accept": "application/json"}
        base: dict[str, Any] = dict(cfg.params)
        if cfg.page_size_param and cfg.page_size is not None:
            base[cfg.page_size_param] = cfg.page_size
        last: str | None = None
        if cfg.cursor_field and isinstance(cursor, dict) and cursor.get("last") is not None:
            last = str(cursor["last"])
            if cfg.cursor_param:
                base[cfg.cursor_param] = last
        params = {k: to_text(v) for k, v in base.items()}
        policy = RetryPolicy(cfg.max_retries, cfg.backoff_base_s, cfg.backoff_max_s)
        auth_hint = f"the token in {cfg.token_env}" if cfg.token_env else ""

        url: str = cfg.url
        page_params: dict[str, str | None] | None = params
        # next tokens/URLs given, and URLs read, so far → where from: a repeat is a loop
        seen: dict[str, str] = {}
        read: dict[str, str] = {}
        row = 1
        with guarded_client(cfg.url, cfg, timeout=cfg.timeout_s, headers=headers, token=token,
                            secrets=secrets) as client:
            page = 0
            while True:
                page += 1
                request = client.build_request("GET", url, params=page_params)
                shown = redact(str(request.url), secrets)
                where = f"{shown} page {page}"
                if str(request.url) in read:
                    raise PaginationError(f"this URL repeats {read[str(request.url)]}: the "
                                          "API's paging loops", location=where)
                read[str(request.url)] = f"the URL of page {page}"
                response = send_with_retries(client, request, policy=policy, where=where,
                                             secrets=secrets, auth_hint=auth_hint,
                                             warn=self.ctx.warn)
                body = _parse(response, where)
                records = dig(body, cfg.records)
                if records is _MISSING:
                    raise SourceError(f"no '{cfg.records}' in the response", location=where)
                if not isinstance(records, list):
                    what = f"'{cfg.records}'" if cfg.records else "the response body"
                    hint = "" if cfg.records else " (set 'records' to where the list sits)"
                    raise SourceError(f"{what} is a JSON {_kind(records)}, not a list{hint}",
                                      location=where)
                if not records:
                    if page == 1 and last is None:  # a full read found nothing at all
                        self.ctx.no_input(f"{shown}: the API returned no records")
                    break  # an empty page ends paging, whatever the next token says
                frame = records_frame(records, first_row=row, origin=shown, where=where)
                row += len(records)
                last = self._advance(last, records)
                new_cursor = {"last": last} if last is not None else cursor
                self.ctx.progress("read", row - 1)
                yield Batch(table=self.spec.table or "", frame=frame, cursor=new_cursor,
                            note=shown)

                token_next = dig(body, cfg.next) if cfg.next else None
                if token_next is _MISSING or token_next is None or token_next == "":
                    break
                if isinstance(token_next, dict | list | bool):
                    raise SourceError(f"'{cfg.next}' is a JSON {_kind(token_next)}, not a page "
                                      "token or URL", location=where)
                nxt = str(token_next)
                if nxt in seen:
                    raise PaginationError(
                        f"the next page '{redact(nxt, secrets)}' repeats {seen[nxt]}: "
                        "the API's paging loops", location=where)
                if page >= cfg.max_pages:
                    raise PaginationError(
                        f"more than max_pages = {cfg.max_pages} pages; the API may page "
                        "endlessly, or raise max_pages", location=where)
                seen[nxt] = f"the next page given by page {page}"
                if nxt.lower().startswith(("http://", "https://")):
                    url, page_params = nxt, None  # a next URL carries its own query
                else:
                    url, page_params = cfg.url, {**params, cfg.page_param: nxt}

    def _advance(self, last: str | None, records: list[dict[str, Any]]) -> str | None:
        """The largest ``cursor_field`` value among ``last`` and the records."""
        field = self.config.cursor_field
        if not field:
            return last
        values = [to_text(r.get(field)) for r in records]
        candidates = [v for v in values if v is not None and v != ""]
        if last is not None:
            candidates.append(last)
        return max(candidates, key=_order_key) if candidates else None


def _parse(response: httpx.Response, where: str) -> Any:
    charset = response.charset_encoding  # JSON is UTF-8 unless the server says otherwise
    try:
        return json.loads(response.content.decode(charset) if charset else response.content)
    except LookupError:
        raise SourceError(f"unknown charset '{charset}' in the response's Content-Type",
                          location=where) from None
    except ValueError as e:  # JSONDecodeError and undecodable bytes
        detail = str(e).splitlines()[0][:200]
        raise SourceError(f"the response is not valid JSON ({detail})", location=where) from None


def _kind(value: Any) -> str:
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
