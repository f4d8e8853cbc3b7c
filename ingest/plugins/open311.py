"""``open311``: Open311 GeoReport v2 service requests as grid events, services as categories.

Requests come from ``{url}/requests.{json|xml}``, the category list from
``{url}/services.{json|xml}``. Frames are yielded already mapped to ``grid_events`` and
``grid_event_categories`` (all values as text; the framework casts, validates and quarantines).

Real city endpoints stretch the spec, so reading is lenient: status words beyond
``open``/``closed`` are mapped by kind, element and key names are compared without case or
separators, JSON may be a bare list or wrapped, optional fields may be absent. What is not
lenient: XML goes through ``defusedxml`` only (entity tricks are refused), and an error
object or an HTTP error stops the source with the endpoint's own description.

The cursor is the latest ``requested_datetime`` seen; incremental runs ask for requests from
that time minus ``lookback_days``, so status changes of recent requests are read again (the
merge makes re-reading harmless).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any, Literal

import httpx
import polars as pl
from pydantic import Field, field_validator

from core.errors import HttpStatusError
from ingest.contract import ORIGIN, ROW, Batch, Source
from ingest.plugins.http_source import HttpSession, Paging, Reader
from ingest.plugins.http_util import HttpSourceConfig, RetryPolicy
from ingest.plugins.open311_format import (
    CATEGORY_COLUMNS,
    CLOSED,
    EVENT_COLUMNS,
    EVENT_EXTRAS,
    IN_PROGRESS,
    OPEN,
    error_in_body,
    key,
    parse_records,
    parse_when,
    status_kind,
)
from warehouse.schema import EVENT_SOURCES


class Open311Config(HttpSourceConfig):
    """Settings of an ``open311`` source (DESIGN §7)."""

    url: str = Field(description="endpoint base; requests come from {url}/requests.{format}")
    format: Literal["json", "xml"] = "json"
    jurisdiction_id: str | None = None
    grid_code: str = Field(min_length=1, description="grid for requests without their own")
    api_key_env: str | None = None
    lookback_days: float = Field(30.0, ge=0)
    page_size: int | None = Field(None, ge=1)
    max_pages: int = Field(1000, ge=1)
    timeout_s: float = Field(30.0, gt=0)
    event_source: str = "resident"
    fetch_services: bool = True
    max_retries: int = Field(2, ge=0, le=10)
    retry_backoff_s: float = Field(1.0, ge=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^https?://", v.strip(), re.I):
            raise ValueError("must be an http:// or https:// URL")
        return v.strip().rstrip("/")

    @field_validator("event_source")
    @classmethod
    def _known_source(cls, v: str) -> str:
        if v not in EVENT_SOURCES:
            raise ValueError(f"must be one of {', '.join(EVENT_SOURCES)}")
        return v


# --------------------------------------------------------------------------- parsing

# --------------------------------------------------------------------------- the source


class Open311Source(Source):
    """Reads an Open311 GeoReport v2 endpoint into grid events and their categories."""

    name = "open311"
    Config = Open311Config
    tables = ("grid_events", "grid_event_categories")
    needs_table = False

    config: Open311Config

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._warned: set[str] = set()  # unknown status words already reported this run

    def describe(self) -> str:
        return f"{self.config.url}/requests.{self.config.format}"

    def _public_params(self) -> dict[str, str]:
        return {"jurisdiction_id": self.config.jurisdiction_id} if self.config.jurisdiction_id \
            else {}

    def extract(self, cursor: Any | None) -> Iterator[Batch]:
        """Categories from ``services`` first, then events from ``requests`` since the cursor."""
        self._warned.clear()
        cfg = self.config
        headers = {"User-Agent": "gongzhi-open311/1",
                   "Accept": "application/json" if cfg.format == "json"
                   else "application/xml, text/xml"}
        # the shared HTTP base: only the endpoint's origin (and allowed_origins), addresses
        # checked, the api_key (a query parameter, as Open311 has it) never in a shown URL;
        # 429/5xx and network errors retried with backoff or Retry-After (at most 60 s), the
        # endpoint's own error description in 4xx errors
        policy = RetryPolicy(cfg.max_retries, cfg.retry_backoff_s, 60.0)
        query_env = {"api_key": cfg.api_key_env} if cfg.api_key_env else None
        with HttpSession(cfg.url, cfg, timeout=cfg.timeout_s, policy=policy, headers=headers,
                         query_env=query_env, location=self.describe(),
                         describe_body=self._describe_body, warn=self.ctx.warn) as http:
            if cfg.fetch_services:
                yield from self._services(http)
            yield from self._requests(http, cursor)

    def _resource(self, resource: str) -> str:
        return f"{self.config.url}/{resource}.{self.config.format}"

    def _reader(self, kind: str) -> Reader:
        """Reads one response of ``kind`` (requests or services) into its records."""
        def read(response: httpx.Response, where: str) -> tuple[Any, list[Any]]:
            return None, parse_records(response.content, self.config.format, kind, where)
        return read

    @staticmethod
    def _describe_body(body: bytes) -> str:
        """The endpoint's own error description, else the start of the body."""
        found = error_in_body(body)
        if found:
            return found[1]
        text = " ".join(body.decode("utf-8", "replace").split())
        return text[:200] or "(empty body)"

    def _services(self, http: HttpSession) -> Iterator[Batch]:
        try:
            page = next(http.pages(self._resource("services"), self._public_params(),
                                   Paging(label_pages=False), self._reader("services")))
        except HttpStatusError as e:
            if e.status != 404:
                raise
            # some endpoints publish requests only; the events still load without a list
            self.ctx.warn(f"no service list: {e}")
            return
        records, place = page.records, page.url
        rows = []
        for rec in records:
            code = rec.get("servicecode") or rec.get("servicename")
            rows.append({"category": code,
                         "name": rec.get("servicename") or code,
                         "description": rec.get("description"),
                         "group_name": rec.get("group")})
        if rows:
            yield Batch(table="grid_event_categories", frame=_frame(rows, CATEGORY_COLUMNS,
                                                                    place),
                        mapped=True, note=place)

    def _start_date(self, cursor: Any | None) -> str | None:
        last = (cursor or {}).get("last_requested") if isinstance(cursor, dict) else None
        if not last:
            return None
        when = parse_when(last)
        if when is None:
            self.ctx.warn(f"stored cursor '{last}' is not a timestamp; reading the "
                          "endpoint's default window")
            return None
        return (when - dt.timedelta(days=self.config.lookback_days)).isoformat(
            timespec="seconds")

    def _requests(self, http: HttpSession, cursor: Any | None) -> Iterator[Batch]:
        cfg = self.config
        params = self._public_params()
        start = self._start_date(cursor)
        if start:
            params["start_date"] = start
        last = (cursor or {}).get("last_requested") if isinstance(cursor, dict) else None
        best = (parse_when(last), last) if last else (None, None)
        total = 0
        paging = Paging(style="page" if cfg.page_size else "single", page_param="page",
                        size_param="page_size", size=cfg.page_size, max_pages=cfg.max_pages,
                        label_pages=False,
                        too_many_pages="more than max_pages={n} full pages; raise max_pages "
                                       "or narrow the window")
        place = self._resource("requests")
        for page in http.pages(self._resource("requests"), params, paging,
                               self._reader("requests")):
            records, place = page.records, page.url
            rows = [self._event(rec) for rec in records]
            for rec in records:
                seen = rec.get("requesteddatetime")
                when = parse_when(seen)
                if when is not None and (best[0] is None or when > best[0]):
                    best = (when, seen)
            total += len(rows)
            self.ctx.progress("read", total)
            if rows:
                extras = [{c: rec.get(key(c)) for c in EVENT_EXTRAS} for rec in records]
                frame = _frame([r | x for r, x in zip(rows, extras, strict=True)],
                               EVENT_COLUMNS + EVENT_EXTRAS, place)
                yield Batch(table="grid_events", frame=frame, mapped=True, note=place,
                            cursor={"last_requested": best[1]} if best[1] else None)
        if total == 0 and not last:  # a full read found no request at all
            self.ctx.no_input(f"{place}: the endpoint returned no requests")

    def _event(self, rec: dict[str, str | None]) -> dict[str, str | None]:
        """One request as a grid_events row (text values; the framework casts them)."""
        status = rec.get("status")
        kind = status_kind(status)
        if kind is None:
            word = status or "(none)"
            if word.lower() not in self._warned:  # once per word, whatever its case
                self._warned.add(word.lower())
                self.ctx.warn(f"unknown Open311 status '{word}' at {self.describe()}; "
                              "treated as open")
            kind = OPEN
        requested, updated = rec.get("requesteddatetime"), rec.get("updateddatetime")
        closed = updated if kind == CLOSED else None
        return {
            "event_id": rec.get("servicerequestid"),
            "grid_code": rec.get("gridcode") or self.config.grid_code,
            "category": rec.get("servicecode") or rec.get("servicename"),
            "source": self.config.event_source,
            "reported_at": requested,
            "registered_at": requested,
            "dispatched_at": updated if kind == IN_PROGRESS else None,
            "resolved_at": closed,
            "closed_at": closed,
            "deadline_at": rec.get("expecteddatetime"),
            "reworked": "false",
            "satisfaction": None,
            "is_dispute": "false",
            "mediated": None,
        }


def _frame(rows: list[dict[str, str | None]], columns: tuple[str, ...], place: str
           ) -> pl.DataFrame:
    """Text columns in a fixed order plus the row number in the response and its URL."""
    frame = pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String))
    return frame.with_columns(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(ROW),
                              pl.lit(place, dtype=pl.String).alias(ORIGIN))
