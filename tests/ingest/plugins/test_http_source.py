"""The one HTTP source base (ingest/plugins/http_source.py) under both API plugins, against a
real HTTP server on 127.0.0.1: every paging style (next token, next URL, page number, offset),
credentials from environment variables (bearer token, ``headers_env``, Open311's ``api_key``)
sent to the source's origin only and never shown, and ``max_requests_per_minute``, each for
``rest`` and ``open311``.

Each API here is a small independent implementation of its paging rule over a list of
records; the tests compare what the plugin read with that list.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from core.errors import AuthError, PaginationError, SourceError
from core.settings import settings_from_dict
from ingest.contract import ORIGIN, ROW, Batch
from ingest.registry import build_source, validate_source
from tests.ingest.plugins.http_server import (  # noqa: F401 - http_server is a fixture
    LoopbackServer,
    Received,
    Reply,
    http_server,
    json_reply,
)

KEY_ENV, KEY = "GONGZHI_TEST_X_API_KEY", "xk-77d1-DO-NOT-LEAK"
TOKEN_ENV, TOKEN = "GONGZHI_TEST_BEARER", "bt-90ab-DO-NOT-LEAK"
OPEN311_ENV, OPEN311_KEY = "GONGZHI_TEST_311_KEY", "ok-31-DO-NOT-LEAK"
RECORDS = [{"case_id": f"C{n:02d}", "updated": n} for n in range(1, 8)]  # 7: pages of 3 → 3+3+1
SRID = [{"service_request_id": f"R{n}", "status": "open",
         "requested_datetime": f"2024-03-{n:02d}T08:00:00+08:00"} for n in range(1, 6)]


def rest(server: LoopbackServer, **extra: Any) -> dict[str, Any]:
    return {"id": "api", "plugin": "rest", "table": "service_cases", "url": server.url + "/cases",
            "records": "items", "max_retries": 0, "allow_private": True, **extra}


def open311(server: LoopbackServer, **extra: Any) -> dict[str, Any]:
    return {"id": "city311", "plugin": "open311", "url": server.url + "/v2",
            "grid_code": "420606001001001", "fetch_services": False, "max_retries": 0,
            "allow_private": True, **extra}


def extract(cfg: dict[str, Any], tmp_path: Path) -> list[Batch]:
    spec = settings_from_dict({"sources": [cfg]}, path=tmp_path / "gongzhi.toml").sources[0]
    assert validate_source(spec) == []
    return list(build_source(spec).extract(None))


def ids(batches: list[Batch], column: str) -> list[str]:
    return pl.concat([b.frame for b in batches])[column].to_list()


def page_rule(req: Received, size: int) -> list[dict[str, Any]]:
    """Page-number paging, 1-based: page n holds records (n-1)·size … n·size-1."""
    n = int(req.query.get("page", "1"))
    return RECORDS[(n - 1) * size:n * size]


# -- paging: every style of rest ---------------------------------------------------------------


def test_rest_next_token_and_next_url(tmp_path: Path, http_server: LoopbackServer) -> None:  # noqa: F811
    def by_token(req: Received) -> Reply:
        start = int(req.query.get("after", "0"))
        chunk = RECORDS[start:start + 3]
        more = start + 3 < len(RECORDS)
        return json_reply({"items": chunk, "next": str(start + 3) if more else None})

    def by_url(req: Received) -> Reply:
        start = int(req.query.get("from", "0"))
        more = start + 3 < len(RECORDS)
        nxt = f"{http_server.url}/linked?from={start + 3}" if more else None
        return json_reply({"items": RECORDS[start:start + 3], "links": {"next": nxt}})

    http_server.route("/cases", by_token)
    http_server.route("/linked", by_url)
    token = extract(rest(http_server, next="next", page_param="after"), tmp_path)
    assert ids(token, "case_id") == [r["case_id"] for r in RECORDS]
    assert [r.query.get("after") for r in http_server.requests_to("/cases")] == [None, "3", "6"]

    linked = extract(rest(http_server, url=http_server.url + "/linked", next="links.next",
                          paging="next"), tmp_path)
    assert ids(linked, "case_id") == [r["case_id"] for r in RECORDS]
    assert [b.note for b in linked][1:] == [f"{http_server.url}/linked?from={k}" for k in (3, 6)]


@pytest.mark.parametrize("first_page", [1, 0])
def test_rest_page_numbers_end_on_a_short_page(tmp_path: Path, http_server: LoopbackServer,  # noqa: F811
                                               first_page: int) -> None:
    def api(req: Received) -> Reply:
        n = int(req.query["pg"]) - first_page + 1  # the API's own numbering
        return json_reply({"items": RECORDS[(n - 1) * 3:n * 3]})

    http_server.route("/cases", api)
    batches = extract(rest(http_server, paging="page", page_param="pg", first_page=first_page,
                           page_size_param="size", page_size=3, params={"q": "x"}), tmp_path)
    assert ids(batches, "case_id") == [r["case_id"] for r in RECORDS]
    sent = [r.query for r in http_server.requests]
    # 7 records in pages of 3: the third page is short, so nothing is asked after it
    assert [q["pg"] for q in sent] == [str(first_page + k) for k in range(3)]
    assert all(q["size"] == "3" and q["q"] == "x" for q in sent)
    assert ids(batches, ROW) == list(range(1, len(RECORDS) + 1))


def test_rest_page_numbers_without_a_size_end_on_an_empty_page(
        tmp_path: Path, http_server: LoopbackServer) -> None:  # noqa: F811
    http_server.route("/cases", lambda req: json_reply({"items": page_rule(req, 2)}))
    batches = extract(rest(http_server, paging="page"), tmp_path)
    assert ids(batches, "case_id") == [r["case_id"] for r in RECORDS]
    # pages of 2: 4 pages hold the 7 records, the 5th is empty and ends the read
    assert [r.query["page"] for r in http_server.requests] == ["1", "2", "3", "4", "5"]


def test_rest_offsets_advance_by_the_records_read(tmp_path: Path, http_server: LoopbackServer  # noqa: F811
                                                  ) -> None:
    def api(req: Received) -> Reply:
        start = int(req.query["offset"])
        # the server caps pages at 2 whatever the client asks: the offset follows what came
        return json_reply({"items": RECORDS[start:start + min(2, int(req.query["limit"]))]})

    http_server.route("/cases", api)
    batches = extract(rest(http_server, paging="offset", page_size_param="limit",
                           page_size=5), tmp_path)
    # a page of 2 for a size of 5 is short: the read ends after the first page
    assert ids(batches, "case_id") == [r["case_id"] for r in RECORDS[:2]]

    http_server.requests.clear()
    unsized = extract(rest(http_server, paging="offset", params={"limit": 2}), tmp_path)
    assert ids(unsized, "case_id") == [r["case_id"] for r in RECORDS]
    assert [r.query["offset"] for r in http_server.requests] == ["0", "2", "4", "6", "7"]


def test_rest_page_that_ignores_paging_is_a_loop_and_max_pages_holds(
        tmp_path: Path, http_server: LoopbackServer) -> None:  # noqa: F811
    http_server.route("/cases", json_reply({"items": RECORDS[:3]}))  # the same page every time
    with pytest.raises(PaginationError, match=r"page 2 repeats page 1.*'offset'"):
        extract(rest(http_server, paging="offset"), tmp_path)

    # an API that never runs out of full pages (each page different)
    http_server.route("/many", lambda req: json_reply(
        {"items": [{"case_id": f"P{req.query['page']}-{k}"} for k in range(3)]}))
    with pytest.raises(PaginationError, match="max_pages = 2"):
        extract(rest(http_server, url=http_server.url + "/many", paging="page",
                     page_size_param="n", page_size=3, max_pages=2), tmp_path)
    assert len(http_server.requests_to("/many")) == 2


# -- paging: open311 (page numbers, its only style) --------------------------------------------


def test_open311_pages_through_the_shared_base(tmp_path: Path, http_server: LoopbackServer  # noqa: F811
                                               ) -> None:
    def api(req: Received) -> Reply:
        n, size = int(req.query["page"]), int(req.query["page_size"])
        return json_reply(SRID[(n - 1) * size:n * size])

    http_server.route("/v2/requests.json", api)
    batches = extract(open311(http_server, page_size=2), tmp_path)
    assert ids(batches, "event_id") == [r["service_request_id"] for r in SRID]
    assert [(r.query["page"], r.query["page_size"]) for r in http_server.requests] == [
        ("1", "2"), ("2", "2"), ("3", "2")]
    assert batches[1].frame[ORIGIN][0] == f"{http_server.url}/v2/requests.json?page=2&page_size=2"


# -- credentials ---------------------------------------------------------------------------------


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(OPEN311_ENV, OPEN311_KEY)


def guarded(expect: dict[str, str], body: Any) -> Any:
    """An API that answers 401 unless every expected header carries its value."""
    def api(req: Received) -> Reply:
        if any(req.headers.get(h.lower()) != v for h, v in expect.items()):
            return json_reply({"error": "unauthorised"}, 401)
        return json_reply(body)
    return api


def test_rest_sends_bearer_and_header_secrets_to_its_origin_only(
        tmp_path: Path, http_server: LoopbackServer, secrets: None) -> None:  # noqa: F811
    other = LoopbackServer().start()  # another origin, allowed but never trusted
    try:
        other.route("/more", json_reply({"items": RECORDS[3:], "next": None}))
        http_server.route("/cases", guarded(
            {"Authorization": f"Bearer {TOKEN}", "X-API-Key": KEY},
            {"items": RECORDS[:3], "next": f"{other.url}/more"}))
        batches = extract(rest(http_server, token_env=TOKEN_ENV, next="next",
                               headers_env={"X-API-Key": KEY_ENV},
                               allowed_origins=[other.url]), tmp_path)
        assert ids(batches, "case_id") == [r["case_id"] for r in RECORDS]
        sent_there = other.requests[0].headers
        assert "authorization" not in sent_there and "x-api-key" not in sent_there
    finally:
        other.stop()
    for b in batches:
        shown = (b.note or "") + " ".join(b.frame[ORIGIN].to_list())
        assert KEY not in shown and TOKEN not in shown


@pytest.mark.parametrize("plugin", ["rest", "open311"])
def test_a_redirect_to_an_allowed_origin_carries_no_header_secret(
        tmp_path: Path, http_server: LoopbackServer, secrets: None, plugin: str) -> None:  # noqa: F811
    # httpx drops Authorization on a cross-origin redirect, not other headers: the base must
    other = LoopbackServer().start()
    try:
        path = "/cases" if plugin == "rest" else "/v2/requests.json"
        other.route(path, json_reply({"items": RECORDS[:2]} if plugin == "rest" else SRID[:2]))
        http_server.route(path, Reply(302, b"", {"Location": other.url + path}))
        make = rest if plugin == "rest" else open311
        batches = extract(make(http_server, headers_env={"X-API-Key": KEY_ENV},
                               allowed_origins=[other.url]), tmp_path)
        assert sum(b.frame.height for b in batches) == 2
        assert http_server.requests[0].headers["x-api-key"] == KEY  # the home origin has it
        assert "x-api-key" not in other.requests[0].headers
    finally:
        other.stop()


def test_rest_wrong_header_secret_fails_at_once_without_showing_it(
        tmp_path: Path, http_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    http_server.route("/cases", guarded({"X-API-Key": KEY}, {"items": RECORDS}))
    monkeypatch.setenv(KEY_ENV, "wrong-" + KEY)
    cfg = rest(http_server, headers_env={"X-API-Key": KEY_ENV}, max_retries=3)
    with pytest.raises(AuthError) as e:
        extract(cfg, tmp_path)
    assert e.value.status == 401 and f"X-API-Key in {KEY_ENV}" in str(e.value)
    assert KEY not in str(e.value) and len(http_server.requests) == 1  # not retried
    monkeypatch.delenv(KEY_ENV)
    http_server.requests.clear()
    with pytest.raises(SourceError, match=f"environment variable {KEY_ENV} .*X-API-Key"):
        extract(cfg, tmp_path)
    assert http_server.requests == []  # nothing sent without the secret


def test_open311_sends_header_secrets_and_its_api_key(
        tmp_path: Path, http_server: LoopbackServer, secrets: None) -> None:  # noqa: F811
    def api(req: Received) -> Reply:
        if req.headers.get("x-api-key") != KEY or req.query.get("api_key") != OPEN311_KEY:
            return json_reply([{"code": 403, "description": "Invalid api_key received"}], 403)
        return json_reply(SRID)

    http_server.route("/v2/requests.json", api)
    cfg = open311(http_server, headers_env={"X-API-Key": KEY_ENV}, api_key_env=OPEN311_ENV)
    batches = extract(cfg, tmp_path)
    assert ids(batches, "event_id") == [r["service_request_id"] for r in SRID]
    shown = " ".join((b.note or "") + " ".join(b.frame[ORIGIN].to_list()) for b in batches)
    assert KEY not in shown and OPEN311_KEY not in shown and "api_key" not in shown

    with pytest.raises(AuthError, match="Invalid api_key received") as e:
        extract(open311(http_server, api_key_env=OPEN311_ENV), tmp_path)  # no X-API-Key
    assert OPEN311_KEY not in str(e.value) and KEY not in str(e.value)


class _Nowhere:
    """Stands in for a server in configs that are only validated, never run."""

    url = "http://127.0.0.1:9"


def test_headers_env_and_paging_are_checked_in_the_config(tmp_path: Path) -> None:
    def problems(cfg: dict[str, Any]) -> str:
        spec = settings_from_dict({"sources": [cfg]}, path=tmp_path / "g.toml").sources[0]
        return " ".join(p.message for p in validate_source(spec))

    nowhere: Any = _Nowhere()
    for make in (rest, open311):
        assert "'Bad Header' is not an HTTP header name" in problems(
            make(nowhere, headers_env={"Bad Header": "X"}))
        # a secret pasted where the variable's name belongs is refused (and so never stored)
        assert "not an environment variable name" in problems(
            make(nowhere, headers_env={"X-Key": "sk-live-123!"}))
        assert "set by the connection" in problems(make(nowhere, headers_env={"Host": "H"}))
    assert "needs 'next'" in problems(rest(nowhere, paging="next"))
    assert "'next' is for paging = 'next'" in problems(rest(nowhere, paging="page", next="n"))


# -- rate limit ----------------------------------------------------------------------------------


@pytest.mark.parametrize("plugin", ["rest", "open311"])
def test_max_requests_per_minute_spaces_every_page(tmp_path: Path, http_server: LoopbackServer,  # noqa: F811
                                                   plugin: str) -> None:
    per_minute = 240  # one request every 0.25 s
    if plugin == "rest":
        http_server.route("/cases", lambda req: json_reply({"items": page_rule(req, 3)}))
        cfg = rest(http_server, paging="page", page_size_param="n", page_size=3,
                   max_requests_per_minute=per_minute)
    else:
        http_server.route("/v2/requests.json", lambda req: json_reply(
            SRID[(int(req.query["page"]) - 1) * 2:int(req.query["page"]) * 2]))
        cfg = open311(http_server, page_size=2, max_requests_per_minute=per_minute)
    extract(cfg, tmp_path)
    times = [r.at for r in http_server.requests]
    assert len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # arrival times carry the first connection's set-up and thread scheduling: allow 0.05 s
    # (unpaced, these pages arrive within a few milliseconds of each other)
    assert min(gaps) >= 60 / per_minute - 0.05, gaps
