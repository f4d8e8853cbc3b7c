"""Reading Open311 GeoReport v2 bodies leniently: status words, field and tag names, JSON
wrappers, XML through ``defusedxml`` only, and the spec's error objects."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from core.errors import AuthError, SourceError
from core.timezone import LOCAL

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
    return value if value.tzinfo else value.replace(tzinfo=LOCAL)  # DESIGN §3: no zone = local time



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
