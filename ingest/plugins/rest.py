"""``rest``: a paged JSON API, read page by page into one batch per page.

Everything HTTP is the shared base (:mod:`ingest.plugins.http_source`): the bearer token comes
from an environment variable named in the config (``token_env``; more headers with
``headers_env``) and is never stored, logged or shown (it is redacted from every message and
origin), and goes only to the configured URL's origin: a ``next`` URL or a redirect elsewhere
is refused unless its origin is in ``allowed_origins``, and even then gets no token.
Each page's records become string columns; the framework maps, casts and validates them.
Paging (``paging``): a next token or URL found in each response (``next``; the default when
``next`` is set), a page number (``page_param``) or a record offset (``offset_param``); it
refuses to loop: a token or URL seen before, a page repeating the previous one, or more than
``max_pages`` pages, is a :class:`PaginationError`. With ``cursor_field`` the largest value
seen becomes the cursor ``{"last": ...}``, sent back as ``cursor_param`` on the next run; the
runner stores it with the data, so a run that fails midway leaves it where it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

import httpx
import polars as pl
from pydantic import Field, field_validator, model_validator

from core.errors import SourceError
from ingest.contract import ORIGIN, ROW, Batch, Source
from ingest.plugins.http_source import MISSING, HttpSession, Paging, dig, json_kind
from ingest.plugins.http_util import HttpSourceConfig, RetryPolicy

__all__ = ["RestConfig", "RestSource", "dig", "records_frame", "to_text"]


class RestConfig(HttpSourceConfig):
    url: str = Field(description="the first page's URL (http or https)")
    token_env: str | None = Field(None, description="environment variable with a bearer token")
    records: str | None = Field(None, description="dotted path to the record list; "
                                                  "empty = the body is the list")
    cursor_param: str | None = None
    cursor_field: str | None = None
    next: str | None = Field(None, description="dotted path to the next page's token or URL")
    paging: Literal["next", "page", "offset"] | None = Field(
        None, description="how the API pages: 'next' (a token or URL at the 'next' path; the "
                          "default when 'next' is set), 'page' (a page number in "
                          "'page_param'), 'offset' (a record offset in 'offset_param'); "
                          "none: one request")
    page_param: str | None = Field(None, description="the parameter carrying the next token "
                                                     "(default 'cursor') or the page number "
                                                     "(default 'page')")
    first_page: int = Field(1, ge=0, description="the first page's number (paging = 'page')")
    offset_param: str = Field("offset", description="the record offset (paging = 'offset')")
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
        if self.paging == "next" and not self.next:
            raise ValueError("paging = 'next' needs 'next' (where the next page is named)")
        if self.next and self.paging in ("page", "offset"):
            raise ValueError(f"'next' is for paging = 'next', not '{self.paging}'")
        return self

    def page_style(self) -> Paging:
        """How the shared HTTP base iterates this API's pages."""
        style = self.paging or ("next" if self.next else "single")
        default_param = "page" if style == "page" else "cursor"
        param = self.page_param or default_param
        return Paging(style=style, next_path=self.next, token_param=param, page_param=param,
                      first_page=self.first_page, offset_param=self.offset_param,
                      size_param=self.page_size_param, size=self.page_size,
                      max_pages=self.max_pages)


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

    def extract(self, cursor: Any | None) -> Iterator[Batch]:
        cfg = self.config
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
        row = 1
        with HttpSession(cfg.url, cfg, timeout=cfg.timeout_s, policy=policy,
                         headers={"Accept": "application/json"}, bearer_env=cfg.token_env,
                         warn=self.ctx.warn) as http:
            for page in http.pages(cfg.url, params, cfg.page_style(), self._read):
                if not page.records:
                    if page.number == 1 and last is None:  # a full read found nothing at all
                        self.ctx.no_input(f"{page.url}: the API returned no records")
                    return
                frame = records_frame(page.records, first_row=row, origin=page.url,
                                      where=page.where)
                row += len(page.records)
                last = self._advance(last, page.records)
                new_cursor = {"last": last} if last is not None else cursor
                self.ctx.progress("read", row - 1)
                yield Batch(table=self.spec.table or "", frame=frame, cursor=new_cursor,
                            note=page.url)

    def _read(self, response: httpx.Response, where: str) -> tuple[Any, list[Any]]:
        """A page's JSON body and its record list (at ``records``)."""
        cfg = self.config
        body = _parse(response, where)
        records = dig(body, cfg.records)
        if records is MISSING:
            raise SourceError(f"no '{cfg.records}' in the response", location=where)
        if not isinstance(records, list):
            what = f"'{cfg.records}'" if cfg.records else "the response body"
            hint = "" if cfg.records else " (set 'records' to where the list sits)"
            raise SourceError(f"{what} is a JSON {json_kind(records)}, not a list{hint}",
                              location=where)
        return body, records

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

