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
import json
import os
import re
import time
from collections.abc import Iterator
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
import polars as pl
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from pydantic import Field, field_validator

from gongzhi.errors import AuthError, PaginationError, SourceError, TransientSourceError
from ingest.contract import ORIGIN, ROW, Batch, PluginConfig, Source
from warehouse.schema import EVENT_SOURCES

LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # DESIGN §3: a timestamp without a zone is local time

OPEN, IN_PROGRESS, CLOSED = "open", "in_progress", "closed"
# Status words by kind, compared after lower-casing and folding "_", "-" and spaces to one
# space. The spec only knows open/closed; cities (and FixMyStreet's extension) use more.
STATUS_KINDS: dict[str, str] = {
    **dict.fromkeys(("open", "opened", "new", "submitted", "received", "acknowledged",
                     "pending", "reopened", "待受理", "已受理", "待处理"), OPEN),
    **dict.fromkeys(("in progress", "inprogress", "assigned", "dispatched",
                     "investigating", "action scheduled", "scheduled", "work in progress",
                     "internal referral", "处理中", "办理中", "已派遣", "已分派"), IN_PROGRESS),
    **dict.fromkeys(("closed", "resolved", "completed", "complete", "fixed", "done",
                     "archived", "duplicate", "unable to fix", "no further action",
                     "not councils responsibility", "cancelled", "canceled", "rejected",
                     "已办结", "已结案", "已关闭", "已完成", "已解决"), CLOSED),
}
# Families such as "Closed - Duplicate" or "Completed: work done" are matched by first word.
_PREFIX_KINDS = (("closed", CLOSED), ("resolved", CLOSED), ("completed", CLOSED),
                 ("open", OPEN), ("in progress", IN_PROGRESS))

EVENT_COLUMNS = ("event_id", "grid_code", "category", "source", "reported_at", "registered_at",
                 "dispatched_at", "resolved_at", "closed_at", "deadline_at", "reworked",
                 "satisfaction", "is_dispute", "mediated")
CATEGORY_COLUMNS = ("category", "name", "description", "group_name")
# source fields kept beside the canonical ones: unmapped, they only show in quarantined raw rows
EVENT_EXTRAS = ("status", "service_name", "address")

_RECORD_TAGS = {"requests": {"request", "servicerequest"}, "services": {"service"}}
_WRAPPER_KEYS = {"requests": ("servicerequests", "requests", "request", "servicerequest"),
                 "services": ("services", "service")}
_GENERIC_KEYS = ("data", "items", "results", "records", "result")


def key(name: str) -> str:
    """A field or tag name compared loosely: no namespace, case, ``_``, ``-`` or spaces."""
    return re.sub(r"[\s_\-]", "", name.rsplit("}", 1)[-1].lower())


def status_kind(status: str | None) -> str | None:
    """``open``, ``in_progress`` or ``closed`` for a status word; None when it is unknown."""
    if status is None:
        return None
    word = re.sub(r"[\s_\-]+", " ", status.strip().lower()).strip()
    if word in STATUS_KINDS:
        return STATUS_KINDS[word]
    for prefix, kind in _PREFIX_KINDS:
        if word.startswith(prefix + " ") or word.startswith(prefix + ":"):
            return kind
    return None


def parse_when(text: str | None) -> dt.datetime | None:
    """An ISO 8601 timestamp as an aware datetime (no zone = Asia/Shanghai); None if unreadable."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=LOCAL_TZ)


class Open311Config(PluginConfig):
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


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    s = str(value).strip()
    return s or None


def _flatten(obj: dict[str, Any]) -> dict[str, str | None]:
    """Top-level fields by loose key; one level of nested objects (``extended_attributes``)
    fills keys the top level lacks, which is where cities put extensions such as grid_code."""
    out = {key(k): _text(v) for k, v in obj.items() if not isinstance(v, dict | list)}
    for v in obj.values():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                out.setdefault(key(k2), _text(v2))
    return out


def _error_text(items: list[Any]) -> tuple[int | None, str] | None:
    """The spec's error list (``[{"code": 403, "description": "…"}]``), if that is what it is."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    keys = [{key(k) for k in i} for i in items]
    if not all(k and k <= {"code", "description"} and "description" in k for k in keys):
        return None
    codes = [_text(next((v for k, v in i.items() if key(k) == "code"), None)) for i in items]
    texts = [_text(next(v for k, v in i.items() if key(k) == "description")) or "" for i in items]
    code = next((int(c) for c in codes if c and c.isdigit()), None)
    return code, "; ".join(t for t in texts if t) or "(no description)"


def _raise_error(found: tuple[int | None, str], location: str) -> None:
    code, text = found
    cls = AuthError if code in (401, 403) else SourceError
    raise cls(f"the endpoint answered with an error{f' {code}' if code else ''}: {text}",
              location=location)


def _json_error(data: Any) -> tuple[int | None, str] | None:
    """An error answer in JSON: the spec's list, or an object with ``errors``/``error``."""
    if isinstance(data, list):
        return _error_text(data)
    if isinstance(data, dict):
        by_key = {key(k): v for k, v in data.items()}
        for k in ("errors", "error"):
            if k in by_key:
                err = by_key[k]
                items = err if isinstance(err, list) else [
                    err if isinstance(err, dict) else {"description": err}]
                return _error_text(items) or (None, json.dumps(err, ensure_ascii=False)[:200])
    return None


def _xml_error(root: Any) -> tuple[int | None, str] | None:
    """An error answer in XML: ``<errors><error><code/><description/></error></errors>``."""
    root_key = key(root.tag)
    if root_key not in ("errors", "error"):
        return None
    errs = [root] if root_key == "error" else [e for e in root if len(e)]
    items = [{key(c.tag): (c.text or "").strip() for c in e} for e in errs]
    return _error_text(items) or (None, "(no description)")


def parse_json(body: bytes, kind: str, location: str) -> list[dict[str, str | None]]:
    """Records of a JSON response: a bare list, or a list wrapped in an object."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SourceError(f"the response is not valid JSON ({e}); starts with "
                          f"{body[:80]!r}", location=location) from None
    found = _json_error(data)
    if found:
        _raise_error(found, location)
    out = []
    for i, item in enumerate(_unwrap_json(data, kind, location), 1):
        if not isinstance(item, dict):
            raise SourceError(f"item {i} of the response is not an object: {item!r:.80}",
                              location=location)
        out.append(_flatten(item))
    return out


def _unwrap_json(data: Any, kind: str, location: str, depth: int = 0) -> list[Any]:
    if isinstance(data, list):
        return data
    if not isinstance(data, dict) or depth > 3:
        raise SourceError(f"expected a JSON list of {kind}, got {type(data).__name__}",
                          location=location)
    by_key = {key(k): v for k, v in data.items()}
    marker = "servicerequestid" if kind == "requests" else "servicecode"
    if marker in by_key:
        return [data]  # a single record instead of a list of one
    for k in (*_WRAPPER_KEYS[kind], *_GENERIC_KEYS):
        if k in by_key and by_key[k] is not None:
            return _unwrap_json(by_key[k], kind, location, depth + 1)
    raise SourceError(f"no list of {kind} in the JSON response (keys: "
                      f"{', '.join(list(data)[:10])})", location=location)


def error_in_body(body: bytes) -> tuple[int | None, str] | None:
    """The endpoint's own error (code, description) in a JSON or XML body, if it holds one."""
    try:
        return _json_error(json.loads(body.decode("utf-8-sig")))
    except (UnicodeDecodeError, ValueError):
        pass
    try:
        return _xml_error(fromstring(body))
    except (DefusedXmlException, ParseError, ValueError):
        return None


def parse_xml(body: bytes, kind: str, location: str) -> list[dict[str, str | None]]:
    """Records of an XML response; parsed by defusedxml, so DTD entity tricks are refused."""
    try:
        root = fromstring(body)
    except DefusedXmlException as e:
        raise SourceError(f"refused the XML response: it declares entities or external "
                          f"references ({type(e).__name__}), which GeoReport never needs",
                          location=location) from None
    except ParseError as e:
        raise SourceError(f"the response is not well-formed XML ({e})",
                          location=location) from None
    found = _xml_error(root)
    if found:
        _raise_error(found, location)
    root_key = key(root.tag)
    tags = _RECORD_TAGS[kind]
    records = [el for el in root.iter() if key(el.tag) in tags and len(el)]
    if not records and root_key not in _WRAPPER_KEYS[kind] and len(root):
        raise SourceError(f"no <{sorted(tags)[0]}> elements in the XML response (root "
                          f"<{root.tag}>)", location=location)
    out = []
    for rec in records:
        fields: dict[str, str | None] = {}
        for child in rec:
            if not len(child):
                fields[key(child.tag)] = _text(child.text)
        for child in rec:  # nested groups (extended_attributes) fill what the top level lacks
            for grand in child:
                if not len(grand):
                    fields.setdefault(key(grand.tag), _text(grand.text))
        out.append(fields)
    return out


def parse_records(body: bytes, fmt: str, kind: str, location: str) -> list[dict[str, str | None]]:
    """Records of a ``requests`` or ``services`` response in ``json`` or ``xml``."""
    return parse_json(body, kind, location) if fmt == "json" else parse_xml(body, kind, location)


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

    def _api_key(self) -> str | None:
        env = self.config.api_key_env
        if not env:
            return None
        value = os.environ.get(env)
        if not value:
            raise SourceError(f"environment variable {env} (api_key_env) is not set",
                              location=self.describe())
        return value

    def _public_params(self) -> dict[str, str]:
        return {"jurisdiction_id": self.config.jurisdiction_id} if self.config.jurisdiction_id \
            else {}

    def extract(self, cursor: Any | None) -> Iterator[Batch]:
        """Categories from ``services`` first, then events from ``requests`` since the cursor."""
        self._warned.clear()
        secret = self._api_key()
        headers = {"User-Agent": "gongzhi-open311/1",
                   "Accept": "application/json" if self.config.format == "json"
                   else "application/xml, text/xml"}
        with httpx.Client(timeout=self.config.timeout_s, follow_redirects=True,
                          headers=headers) as client:
            if self.config.fetch_services:
                yield from self._services(client, secret)
            yield from self._requests(client, secret, cursor)

    def _fetch(self, client: httpx.Client, resource: str, params: dict[str, str],
               secret: str | None, kind: str) -> tuple[list[dict[str, str | None]], str]:
        """GET one resource; returns its records and its place (the URL without api_key)."""
        url = f"{self.config.url}/{resource}.{self.config.format}"
        place = str(httpx.URL(url, params=params))
        sent = {**params, "api_key": secret} if secret else params
        body = self._get(client, url, sent, place, secret)
        return parse_records(body, self.config.format, kind, place), place

    def _get(self, client: httpx.Client, url: str, params: dict[str, str], place: str,
             secret: str | None) -> bytes:
        """One GET with a few retries on 429/5xx and network errors; the full retry policy
        lives with the ``rest`` plugin, an Open311 run is re-tried by the scheduler anyway."""
        cfg = self.config
        attempts = cfg.max_retries + 1
        last = ""
        for attempt in range(attempts):
            delay = cfg.retry_backoff_s * 2**attempt
            try:
                resp = client.get(url, params=params)
            except httpx.TimeoutException:
                last = f"no answer within {cfg.timeout_s:g} s"
            except httpx.TransportError as e:
                last = f"connection failed ({type(e).__name__}: {str(e).splitlines()[0]})"
            except httpx.HTTPError as e:  # too many redirects and the like: retrying won't help
                raise SourceError(_redact(f"{type(e).__name__}: {e}", secret),
                                  location=place) from None
            else:
                code = resp.status_code
                if code < 400:
                    return resp.content
                if code != 429 and code < 500:
                    cls = AuthError if code in (401, 403) else SourceError
                    text = _redact(self._describe_body(resp.content), secret)
                    raise cls(f"HTTP {code}: {text}", location=place)
                last = f"HTTP {code}"
                after = resp.headers.get("Retry-After", "")
                if after.isdigit():  # the server's own wait, bounded: the scheduler retries too
                    delay = min(float(after), 60.0)
            if attempt + 1 < attempts:
                time.sleep(delay)
        raise TransientSourceError(_redact(f"{last} (after {attempts} attempt(s))", secret),
                                   location=place)

    @staticmethod
    def _describe_body(body: bytes) -> str:
        """The endpoint's own error description, else the start of the body."""
        found = error_in_body(body)
        if found:
            return found[1]
        text = " ".join(body.decode("utf-8", "replace").split())
        return text[:200] or "(empty body)"

    def _services(self, client: httpx.Client, secret: str | None) -> Iterator[Batch]:
        try:
            records, place = self._fetch(client, "services", self._public_params(), secret,
                                         "services")
        except SourceError as e:
            if "HTTP 404" not in str(e):
                raise
            # some endpoints publish requests only; the events still load without a list
            self.ctx.warn(f"no service list: {e}")
            return
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

    def _requests(self, client: httpx.Client, secret: str | None,
                  cursor: Any | None) -> Iterator[Batch]:
        cfg = self.config
        params = self._public_params()
        start = self._start_date(cursor)
        if start:
            params["start_date"] = start
        last = (cursor or {}).get("last_requested") if isinstance(cursor, dict) else None
        best = (parse_when(last), last) if last else (None, None)
        total = 0
        previous: list[str | None] | None = None
        page = 1
        while True:
            paged = {**params, "page": str(page), "page_size": str(cfg.page_size)} \
                if cfg.page_size else params
            records, place = self._fetch(client, "requests", paged, secret, "requests")
            ids = [r.get("servicerequestid") for r in records]
            if cfg.page_size and records and ids == previous:
                raise PaginationError(f"page {page} repeats page {page - 1}: the endpoint "
                                      "seems to ignore 'page'", location=place)
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
            if not cfg.page_size or len(records) < cfg.page_size:
                return  # unpaged, or a short/empty page: the last one
            if len(records) > cfg.page_size:
                self.ctx.warn(f"{place} returned {len(records)} rows for page_size "
                              f"{cfg.page_size}; the endpoint ignores paging, read as one page")
                return
            if page >= cfg.max_pages:
                raise PaginationError(f"more than max_pages={cfg.max_pages} full pages; raise "
                                      "max_pages or narrow the window", location=place)
            previous = ids
            page += 1

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


def _redact(text: str, secret: str | None) -> str:
    """``text`` without the api_key (servers and exceptions may echo the URL)."""
    return text.replace(secret, "***") if secret else text


def _frame(rows: list[dict[str, str | None]], columns: tuple[str, ...], place: str
           ) -> pl.DataFrame:
    """Text columns in a fixed order plus the row number in the response and its URL."""
    frame = pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String))
    return frame.with_columns(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(ROW),
                              pl.lit(place, dtype=pl.String).alias(ORIGIN))
