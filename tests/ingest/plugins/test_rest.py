"""The rest plugin against a real HTTP server on 127.0.0.1: paging, bearer token, retries with
backoff and Retry-After, auth failures, pagination loops, malformed pages, incremental cursor."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from core.errors import AuthError, PaginationError, SourceError, TransientSourceError
from core.settings import settings_from_dict
from ingest.contract import ORIGIN, ROW, Batch
from ingest.plugins.http_util import backoff_delay, parse_retry_after
from ingest.registry import build_source, validate_source
from tests.conftest import divisions_source
from tests.ingest.plugin_contract import PluginContract
from tests.ingest.plugins.http_server import (  # noqa: F401 - http_server is a fixture
    LoopbackServer,
    Received,
    Reply,
    http_server,
    json_reply,
)
from warehouse import runlog
from warehouse.engine import open_warehouse
from warehouse.schema import ingest_runs, quarantine, service_cases

TOKEN = "tok-5f3a9c-DO-NOT-LEAK"
ENV = "GONGZHI_TEST_API_TOKEN"
SOURCE_ID = "api_cases"


def case(n: int, community: str = "420606001001", **extra: Any) -> dict[str, Any]:
    """One service case as the API sends it; ``updated`` is the incremental field."""
    return {"case_id": f"API{n:03d}", "item_code": "I01", "community_code": community,
            "channel": "online", "submitted_at": "2024-05-01 10:00:00", "status": "accepted",
            "visits": n % 3, "rating": None, "rectified": n % 2 == 0, "updated": n,
            "meta": {"system": "一网通办", "tags": ["a", "b"]}, **extra}


class PagedApi:
    """A small paged API: ``{"data": {"items": [...]}, "next": "p2" | null}``.

    Requires the bearer token, returns records with ``updated > since``, ``limit`` per page,
    pages named by the ``cursor`` parameter (``p1``, ``p2``, …).
    """

    def __init__(self, records: list[dict[str, Any]], token: str | None = TOKEN):
        self.records = list(records)
        self.token = token

    def __call__(self, req: Received) -> Reply:
        if self.token and req.headers.get("authorization") != f"Bearer {self.token}":
            return json_reply({"error": "invalid token"}, 401)
        since = req.query.get("since")
        rows = [r for r in self.records if since is None or r["updated"] > float(since)]
        limit = int(req.query.get("limit", "100"))
        page = int(req.query.get("cursor", "p1")[1:])
        more = page * limit < len(rows)
        return json_reply({"data": {"items": rows[(page - 1) * limit:page * limit]},
                           "next": f"p{page + 1}" if more else None})


def rest_source(server: LoopbackServer, path: str = "/cases", **extra: Any) -> dict[str, Any]:
    return {"id": SOURCE_ID, "plugin": "rest", "table": "service_cases",
            "url": server.url + path, "token_env": ENV, "records": "data.items",
            "next": "next", "cursor_param": "since", "cursor_field": "updated",
            "page_size_param": "limit", "page_size": 2, "backoff_base_s": 0.001,
            "max_retries": 3, "allow_private": True, **extra}  # the test server is on 127.0.0.1


def extract(cfg: dict[str, Any], tmp_path: Path, cursor: Any = None) -> list[Batch]:
    """Run the plugin alone (no warehouse) and collect its batches."""
    spec = settings_from_dict({"sources": [cfg]}, path=tmp_path / "gongzhi.toml").sources[0]
    assert validate_source(spec) == []
    return list(build_source(spec).extract(cursor))


def count_cases(url: str) -> int:
    eng = open_warehouse(url)
    with eng.connect() as c:
        n = c.execute(select(func.count()).select_from(service_cases)).scalar_one()
    eng.dispose()
    return n


def stored_cursor(url: str) -> Any:
    eng = open_warehouse(url)
    try:
        return runlog.get_cursor(eng, SOURCE_ID)
    finally:
        eng.dispose()


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(ENV, TOKEN)
    return TOKEN


class TestRestContract(PluginContract):
    plugin = "rest"
    expected_rows = 5

    @pytest.fixture(autouse=True)
    def _api(self, http_server: LoopbackServer, token: str) -> None:  # noqa: F811
        # the server lives as long as the test: source_config only points at it
        self.server = http_server
        http_server.route("/cases", PagedApi([case(n) for n in range(1, 6)]))

    def source_config(self, tmp_path: Path) -> dict[str, Any]:
        return rest_source(self.server)

    def check_loaded(self, tmp_path: Path, warehouse_url: str) -> None:
        eng = open_warehouse(warehouse_url)
        with eng.connect() as c:
            rows = {r.case_id: r for r in c.execute(select(service_cases))}
        eng.dispose()
        assert sorted(rows) == [f"API{n:03d}" for n in range(1, 6)]
        assert rows["API002"].rectified is True and rows["API003"].rectified is False
        assert rows["API004"].visits == 1 and rows["API001"].rating is None
        assert rows["API001"].channel == "online" and rows["API001"].status == "accepted"
        # the second run asked only for what is newer than the stored cursor
        assert self.server.requests[-1].query.get("since") == "5"


def test_all_pages_load_with_bearer_token_and_static_params(
        tmp_path: Path, sqlite_url: str, run_sources, http_server: LoopbackServer,  # noqa: F811
        token: str) -> None:
    http_server.route("/cases", PagedApi([case(n) for n in range(1, 8)]))
    cfg = rest_source(http_server, params={"district": "樊城区", "active": True})
    r = run_sources(sqlite_url, [divisions_source(), cfg])[1]
    assert r.ok, r.error
    assert (r.read, r.loaded, r.quarantined) == (7, 7, 0)
    assert count_cases(sqlite_url) == 7
    seen = http_server.requests_to("/cases")
    assert [q.query.get("cursor") for q in seen] == [None, "p2", "p3", "p4"]
    for q in seen:
        assert q.headers["authorization"] == f"Bearer {TOKEN}"
        assert q.headers["accept"] == "application/json"
        assert q.query["limit"] == "2" and q.query["district"] == "樊城区"
        assert q.query["active"] == "true"
    assert stored_cursor(sqlite_url) == {"last": "7"}


def test_records_become_string_columns_numbered_across_pages(
        tmp_path: Path, http_server: LoopbackServer, token: str) -> None:  # noqa: F811
    records = [case(1), case(2, extra_flag=False), case(3, note=None)]
    http_server.route("/cases", PagedApi(records))
    batches = extract(rest_source(http_server), tmp_path)
    assert [b.frame.height for b in batches] == [2, 1]
    first, second = batches
    assert first.frame[ROW].to_list() == [1, 2] and second.frame[ROW].to_list() == [3]
    row = first.frame.row(0, named=True)
    assert row["visits"] == "1" and row["rectified"] == "false" and row["rating"] is None
    assert json.loads(row["meta"]) == {"system": "一网通办", "tags": ["a", "b"]}
    assert "一网通办" in row["meta"]  # readable, not \\u-escaped
    assert first.frame["extra_flag"].to_list() == [None, "false"]
    assert second.frame["note"].to_list() == [None]
    assert first.frame[ORIGIN][0] == f"{http_server.url}/cases?limit=2"
    assert second.frame[ORIGIN][0] == second.note == f"{http_server.url}/cases?limit=2&cursor=p2"
    assert [b.cursor for b in batches] == [{"last": "2"}, {"last": "3"}]
    assert all(b.table == "service_cases" for b in batches)


def test_token_never_shows_in_errors_quarantine_or_origin(
        tmp_path: Path, sqlite_url: str, run_sources, http_server: LoopbackServer,  # noqa: F811
        token: str) -> None:
    # a careless API echoes the token into its next link; we follow it but never show it
    leaky_next = f"{http_server.url}/cases/2?access_token={TOKEN}"
    http_server.route("/cases", json_reply({"data": {"items": [case(1, "420606999999")]},
                                            "next": leaky_next}))
    http_server.route("/cases/2", json_reply({"data": {"items": [case(2, "420606999999")]},
                                              "next": None}))
    cfg = rest_source(http_server, max_retries=1)
    r = run_sources(sqlite_url, [divisions_source(), cfg])[1]
    assert r.ok and r.quarantined == 2, r.error
    assert http_server.requests_to("/cases/2")[0].query["access_token"] == TOKEN
    eng = open_warehouse(sqlite_url)
    q = runlog.list_quarantine(eng, source=SOURCE_ID)
    assert {x["origin"] for x in q} == {f"{http_server.url}/cases?limit=2",
                                        f"{http_server.url}/cases/2?access_token=***"}

    http_server.route("/cases/2", json_reply({"error": f"bad token {TOKEN}"}, 500))
    failed = run_sources(sqlite_url, [divisions_source(), cfg], ids=[SOURCE_ID])[0]
    assert not failed.ok and "access_token=***" in failed.error
    http_server.route("/cases/2", json_reply({"error": f"token {TOKEN} is wrong"}, 400))
    refused = run_sources(sqlite_url, [divisions_source(), cfg], ids=[SOURCE_ID])[0]
    assert not refused.ok and "is wrong" in refused.error
    with eng.connect() as c:
        stored = [str(v) for row in c.execute(select(ingest_runs)) for v in row]
        stored += [str(v) for row in c.execute(select(quarantine)) for v in row]
    eng.dispose()
    assert stored and not any(TOKEN in v for v in stored)


def test_429_with_retry_after_waits_then_succeeds(
        tmp_path: Path, sqlite_url: str, run_sources, http_server: LoopbackServer,  # noqa: F811
        token: str) -> None:
    api = PagedApi([case(n) for n in range(1, 4)])
    http_server.route("/cases", json_reply({"error": "slow down"}, 429, Retry_After="1"), api)
    # a computed backoff would be ~1 ms: only honouring Retry-After makes the client wait 1 s
    r = run_sources(sqlite_url, [divisions_source(), rest_source(http_server)])[1]
    assert r.ok and r.loaded == 3, r.error
    first, second = http_server.requests_to("/cases")[:2]
    assert second.at - first.at >= 1.0
    assert first.query == second.query


def test_retry_after_is_capped_and_transport_errors_are_retried(
        tmp_path: Path, http_server: LoopbackServer, token: str) -> None:  # noqa: F811
    api = PagedApi([case(1)])
    http_server.route("/cases",
                      json_reply({}, 503, Retry_After="3600"),  # capped at backoff_max_s
                      Reply(drop=True),  # connection closed without an answer
                      Reply(200, b"{}", delay_s=0.5),  # answers after the client's timeout
                      json_reply({}, 502),  # no Retry-After: exponential backoff
                      api)
    started = time.monotonic()
    batches = extract(rest_source(http_server, backoff_max_s=0.05, timeout_s=0.2,
                                  max_retries=4), tmp_path)
    assert time.monotonic() - started < 3
    assert sum(b.frame.height for b in batches) == 1
    assert len(http_server.requests_to("/cases")) == 5


def test_retry_after_header_forms() -> None:
    now = dt.datetime(2024, 5, 1, 8, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("2", now) == 2.0
    assert parse_retry_after("Wed, 01 May 2024 08:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 01 May 2024 07:00:00 GMT", now) == 0.0  # already past
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None
    # backoff doubles per attempt, stays within its cap, and is jittered into the upper half
    assert backoff_delay(0, 0.5, 60, rand=lambda: 1.0) == 0.5
    assert backoff_delay(3, 0.5, 60, rand=lambda: 0.0) == 2.0
    assert backoff_delay(30, 0.5, 60, rand=lambda: 1.0) == 60


def test_500_storm_fails_the_run_and_keeps_data_and_cursor(
        tmp_path: Path, warehouse_url: str, run_sources, http_server: LoopbackServer,  # noqa: F811
        token: str) -> None:
    api = PagedApi([case(n) for n in range(1, 4)])
    http_server.route("/cases", api)
    cfg = rest_source(http_server, max_retries=2)
    assert run_sources(warehouse_url, [divisions_source(), cfg])[1].ok
    assert stored_cursor(warehouse_url) == {"last": "3"}

    api.records += [case(n) for n in range(4, 9)]
    http_server.route("/cases", lambda req: json_reply({"error": "db down"}, 500)
                      if req.query.get("cursor") == "p2" else api(req))
    before = len(http_server.requests)
    r = run_sources(warehouse_url, [divisions_source(), cfg], ids=[SOURCE_ID])[0]
    assert not r.ok
    assert "TransientSourceError" in r.error and "page 2" in r.error and "HTTP 500" in r.error
    assert f"{http_server.url}/cases?" in r.error and "2 retries" in r.error
    run = http_server.requests[before:]
    assert [q.query.get("cursor") for q in run] == [None, "p2", "p2", "p2"]
    assert all(q.query["since"] == "3" for q in run)
    assert count_cases(warehouse_url) == 3  # page 1 of the failed run was not kept
    assert stored_cursor(warehouse_url) == {"last": "3"}


@pytest.mark.parametrize("status", [401, 403])
def test_auth_refusal_fails_at_once(tmp_path: Path, sqlite_url: str, run_sources,
                                    http_server: LoopbackServer, token: str,  # noqa: F811
                                    status: int) -> None:
    # a Retry-After long enough that honouring it could not pass unnoticed on a busy machine
    http_server.route("/cases", json_reply({"error": "no"}, status, Retry_After="30"))
    started = time.monotonic()
    r = run_sources(sqlite_url, [divisions_source(), rest_source(http_server)])[1]
    assert not r.ok and r.error.startswith("AuthError")
    assert f"HTTP {status}" in r.error and ENV in r.error and "page 1" in r.error
    assert len(http_server.requests_to("/cases")) == 1
    assert time.monotonic() - started < 20.0  # no Retry-After wait either (that is 30 s)


def test_other_client_errors_are_not_retried(tmp_path: Path, http_server: LoopbackServer,  # noqa: F811
                                             token: str) -> None:
    http_server.route("/cases", json_reply({"error": "unknown parameter 'limit'"}, 400))
    with pytest.raises(SourceError) as e:
        extract(rest_source(http_server), tmp_path)
    assert not isinstance(e.value, TransientSourceError | AuthError)
    assert "HTTP 400" in str(e.value) and "unknown parameter 'limit'" in str(e.value)
    assert len(http_server.requests) == 1


def test_missing_token_variable_is_named_and_nothing_is_sent(
        tmp_path: Path, http_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch  # noqa: F811
        ) -> None:
    monkeypatch.delenv(ENV, raising=False)
    http_server.route("/cases", PagedApi([case(1)]))
    with pytest.raises(SourceError, match=f"environment variable {ENV}"):
        extract(rest_source(http_server), tmp_path)
    assert http_server.requests == []


def test_repeated_next_token_is_a_pagination_loop(
        tmp_path: Path, sqlite_url: str, run_sources, http_server: LoopbackServer,  # noqa: F811
        token: str) -> None:
    nxt = {None: "A", "A": "B", "B": "A"}

    def looping(req: Received) -> Reply:
        cur = req.query.get("cursor")
        return json_reply({"data": {"items": [case(len(http_server.requests))]},
                           "next": nxt[cur]})

    http_server.route("/cases", looping)
    r = run_sources(sqlite_url, [divisions_source(), rest_source(http_server)])[1]
    assert not r.ok and r.error.startswith("PaginationError")
    assert "'A' repeats" in r.error and "page 3" in r.error and "loops" in r.error
    assert len(http_server.requests_to("/cases")) == 3
    assert count_cases(sqlite_url) == 0


def test_next_url_pointing_back_is_a_loop(tmp_path: Path, http_server: LoopbackServer,  # noqa: F811
                                          token: str) -> None:
    first = f"{http_server.url}/cases?limit=2"
    http_server.route("/cases", json_reply({"data": {"items": [case(1)]}, "next": first}))
    with pytest.raises(PaginationError, match="repeats the URL of page 1"):
        extract(rest_source(http_server), tmp_path)
    assert len(http_server.requests) == 1


def test_max_pages_exceeded_is_a_pagination_error(
        tmp_path: Path, sqlite_url: str, run_sources, http_server: LoopbackServer,  # noqa: F811
        token: str) -> None:
    def endless(req: Received) -> Reply:
        n = int(req.query.get("cursor") or 1)
        return json_reply({"data": {"items": [case(n)]}, "next": str(n + 1)})

    http_server.route("/cases", endless)
    r = run_sources(sqlite_url, [divisions_source(), rest_source(http_server, max_pages=3)])[1]
    assert not r.ok and r.error.startswith("PaginationError") and "max_pages = 3" in r.error
    assert len(http_server.requests_to("/cases")) == 3


def test_malformed_json_page_names_url_and_page(
        tmp_path: Path, sqlite_url: str, run_sources, http_server: LoopbackServer,  # noqa: F811
        token: str) -> None:
    api = PagedApi([case(n) for n in range(1, 6)])
    http_server.route("/cases", lambda req: Reply(200, b'{"data": {"items": [{"case_id": ')
                      if req.query.get("cursor") == "p2" else api(req))
    r = run_sources(sqlite_url, [divisions_source(), rest_source(http_server)])[1]
    assert not r.ok and "not valid JSON" in r.error
    assert f"{http_server.url}/cases?limit=2&cursor=p2 page 2" in r.error
    assert count_cases(sqlite_url) == 0


@pytest.mark.parametrize(("body", "records", "message"), [
    ({"data": {}}, "data.items", "no 'data.items' in the response"),
    ({"data": {"items": {"case_id": "X"}}}, "data.items", "'data.items' is a JSON object"),
    ({"items": []}, None, "the response body is a JSON object, not a list (set 'records'"),
    ([1, 2], None, "record 1 is a JSON int, not an object"),
])
def test_records_path_missing_or_not_a_list(tmp_path: Path, http_server: LoopbackServer,  # noqa: F811
                                            token: str, body: Any, records: str | None,
                                            message: str) -> None:
    http_server.route("/cases", json_reply(body))
    cfg = rest_source(http_server, records=records)
    if records is None:
        del cfg["records"]
    with pytest.raises(SourceError) as e:
        extract(cfg, tmp_path)
    assert message in str(e.value) and "page 1" in str(e.value)


def test_empty_page_ends_paging_even_with_a_next_token(
        tmp_path: Path, http_server: LoopbackServer, token: str) -> None:  # noqa: F811
    http_server.route("/cases", json_reply({"data": {"items": [case(1)]}, "next": "x"}),
                      json_reply({"data": {"items": []}, "next": "y"}))
    batches = extract(rest_source(http_server), tmp_path)
    assert [b.frame.height for b in batches] == [1]
    assert len(http_server.requests) == 2


def test_incremental_run_sends_cursor_and_loads_only_new_records(
        tmp_path: Path, sqlite_url: str, run_sources, http_server: LoopbackServer,  # noqa: F811
        token: str) -> None:
    api = PagedApi([case(n) for n in (8, 9, 10)])
    http_server.route("/cases", api)
    cfg = rest_source(http_server)
    first = run_sources(sqlite_url, [divisions_source(), cfg])[1]
    assert first.ok and first.loaded == 3
    assert stored_cursor(sqlite_url) == {"last": "10"}  # numbers compare as numbers, not text
    assert all("since" not in q.query for q in http_server.requests)

    api.records += [case(11), case(12)]
    before = len(http_server.requests)
    second = run_sources(sqlite_url, [divisions_source(), cfg], ids=[SOURCE_ID])[0]
    assert second.ok and (second.read, second.inserted) == (2, 2)
    assert [q.query["since"] for q in http_server.requests[before:]] == ["10"]
    assert stored_cursor(sqlite_url) == {"last": "12"} and count_cases(sqlite_url) == 5


def test_config_is_checked(tmp_path: Path) -> None:
    def problems(**options: Any) -> list[str]:
        cfg = {"id": "x", "plugin": "rest", "table": "service_items", **options}
        spec = settings_from_dict({"sources": [cfg]}, path=tmp_path / "g.toml").sources[0]
        return [str(p) for p in validate_source(spec)]

    assert problems(url="https://api.example.org/items") == []
    assert any("url" in p for p in problems())
    assert any("http://" in p for p in problems(url="ftp://example.org/x"))
    assert any("page_size" in p for p in problems(url="http://h/x", page_size_param="n"))
    assert any("cursor_field" in p for p in problems(url="http://h/x", cursor_param="since"))
    assert any("max_pages" in p for p in problems(url="http://h/x", max_pages=0))
    spec = settings_from_dict({"sources": [{"id": "x", "plugin": "rest", "table": "service_items",
                                            "url": "https://api.example.org/items"}]},
                              path=tmp_path / "g.toml").sources[0]
    assert build_source(spec).describe() == "https://api.example.org/items"


def test_unreachable_server_is_a_transient_error_after_retries(tmp_path: Path,
                                                               token: str) -> None:
    import socket

    with socket.socket() as s:  # a port that was just free: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = {"id": SOURCE_ID, "plugin": "rest", "table": "service_cases", "token_env": ENV,
           "url": f"http://127.0.0.1:{port}/cases", "max_retries": 2, "backoff_base_s": 0.001,
           "allow_private": True}
    with pytest.raises(TransientSourceError) as e:
        extract(cfg, tmp_path)
    assert e.value.retryable and "ConnectError" in str(e.value)
    assert f"127.0.0.1:{port}/cases page 1" in str(e.value) and "2 retries" in str(e.value)
