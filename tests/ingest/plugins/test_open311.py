"""The open311 plugin against a real HTTP server on loopback, with city-style fixtures.

Fixtures in tests/cases/open311 follow real GeoReport v2 endpoints (Chicago-style JSON with
extension fields, mixed status words such as ``Closed - Duplicate``, zoned / fractional / naive
timestamps, an XML twin with varying element case).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import polars as pl
import pytest
from sqlalchemy import select

from core.errors import AuthError, PaginationError, SourceError, TransientSourceError
from core.settings import settings_from_dict
from ingest.contract import ORIGIN, Batch, SourceContext
from ingest.plugins.open311 import parse_records, status_kind
from ingest.registry import build_source, validate_source
from tests.conftest import divisions_source
from tests.ingest.plugin_contract import PluginContract
from warehouse import runlog
from warehouse.engine import open_warehouse
from warehouse.schema import grid_event_categories, grid_events

CASES = Path(__file__).resolve().parents[2] / "cases" / "open311"
DEFAULT_GRID = "420606001001001"
Reply = tuple[int, bytes, str]
Responder = Callable[[dict[str, str]], Reply]


class Open311Server:
    """A real HTTP server on 127.0.0.1: ``routes`` map a file name under ``/open311/v2/`` to
    a responder of the query; every request is recorded in ``hits`` as (name, query)."""

    def __init__(self) -> None:
        self.routes: dict[str, Responder] = {}
        self.hits: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                name = parts.path.removeprefix("/open311/v2/")
                query = dict(parse_qsl(parts.query))
                server.hits.append((name, query))
                responder = server.routes.get(name)
                status, body, ctype = (responder(query) if responder
                                       else (404, b"not found", "text/plain"))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # a short poll interval keeps shutdown() quick at teardown
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.02})
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/open311/v2"

    def serve(self, name: str, body: bytes | str, status: int = 200) -> None:
        """Answer ``name`` always with the same body."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[name] = lambda q: (status, data, _ctype(name))

    def serve_case(self, name: str, case: str | None = None, status: int = 200) -> None:
        self.serve(name, (CASES / (case or name)).read_bytes(), status)

    def requests_seen(self) -> list[dict[str, str]]:
        return [q for n, q in self.hits if n.startswith("requests.")]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def _ctype(name: str) -> str:
    return "application/json; charset=utf-8" if name.endswith(".json") else \
        "text/xml; charset=utf-8"


_STATIC: Open311Server | None = None


@pytest.fixture(scope="module", autouse=True)
def static_server() -> Iterator[Open311Server]:
    """One server for the module answering with the case files (the contract classes build
    their configs without fixtures, so they read it from here)."""
    global _STATIC
    srv = Open311Server()
    for name in ("requests.json", "requests.xml", "services.json", "services.xml"):
        srv.serve_case(name)
    _STATIC = srv
    yield srv
    _STATIC = None
    srv.close()


@pytest.fixture
def server() -> Iterator[Open311Server]:
    srv = Open311Server()
    yield srv
    srv.close()


def grids_source(tmp_path: Path) -> dict[str, Any]:
    """The grid list (the grid system's own export) loaded into divisions at level grid."""
    folder = tmp_path / "grids"
    folder.mkdir(exist_ok=True)
    (folder / "grids.csv").write_bytes((CASES / "grids.csv").read_bytes())
    return {"id": "grids", "plugin": "files", "table": "divisions", "path": "grids/*.csv",
            "defaults": {"level": "grid"}}


def open311_source(base: str, fmt: str = "json", **extra: Any) -> dict[str, Any]:
    return {"id": "city311", "plugin": "open311", "url": base, "format": fmt,
            "grid_code": DEFAULT_GRID, "retry_backoff_s": 0.01,
            "allow_private": True, **extra}  # the test servers are on 127.0.0.1


def build(tmp_path: Path, cfg: dict[str, Any], warnings: list[str] | None = None):
    spec = settings_from_dict({"sources": [cfg]}, path=tmp_path / "gongzhi.toml").sources[0]
    ctx = SourceContext(warn=warnings.append) if warnings is not None else None
    return build_source(spec, ctx)


def frames(batches: list[Batch], table: str) -> pl.DataFrame:
    return pl.concat([b.frame for b in batches if b.table == table])


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args)  # type: ignore[arg-type]  # naive UTC, as the warehouse stores


class _Open311Cases:
    """What both contract classes share; ``fmt`` picks the JSON or XML twin of the cases."""

    plugin = "open311"
    expected_rows = 10  # 3 services + 7 requests (one of them without an id)
    fmt = "json"

    def source_config(self, tmp_path: Path) -> dict[str, Any]:
        assert _STATIC is not None
        return open311_source(_STATIC.base, self.fmt)

    def prerequisites(self, tmp_path: Path) -> list[dict[str, Any]]:
        return [divisions_source(), grids_source(tmp_path)]

    def check_loaded(self, tmp_path: Path, warehouse_url: str) -> None:
        eng = open_warehouse(warehouse_url)
        with eng.connect() as c:
            ev = {r.event_id: r for r in c.execute(select(grid_events))}
            cats = {r.category: r for r in c.execute(select(grid_event_categories))}
        quarantined = runlog.list_quarantine(eng, source="city311")
        eng.dispose()
        assert sorted(ev) == [f"FC-2023-000{n}" for n in (101, 102, 103, 104, 105, 107)]
        closed, still_open = ev["FC-2023-000101"], ev["FC-2023-000102"]
        # +08:00 → UTC; closed: resolved and closed at the update time
        assert closed.reported_at == closed.registered_at == utc(2023, 8, 14, 1, 30)
        assert closed.closed_at == closed.resolved_at == utc(2023, 8, 15, 2, 0)
        assert closed.deadline_at == utc(2023, 8, 17, 10, 0)
        assert closed.grid_code == "420606001001002" and closed.source == "resident"
        assert closed.reworked is False and closed.is_dispute is False
        assert closed.satisfaction is None and closed.mediated is None
        assert still_open.closed_at is None and still_open.grid_code == DEFAULT_GRID
        assert still_open.reported_at == utc(2023, 8, 14, 2, 10)
        progress = ev["FC-2023-000103"]
        assert progress.reported_at == dt.datetime(2023, 8, 14, 3, 5, 12, 345000)
        assert progress.dispatched_at == utc(2023, 8, 14, 6, 0) and progress.closed_at is None
        dup = ev["FC-2023-000104"]  # "Closed - Duplicate", -04:00, grid in extended_attributes
        assert dup.closed_at == utc(2023, 8, 14, 12, 0) and dup.grid_code == "420606002001001"
        unknown = ev["FC-2023-000105"]  # unknown status: open; naive time is Asia/Shanghai
        assert unknown.closed_at is None and unknown.dispatched_at is None
        assert unknown.reported_at == utc(2023, 8, 16, 0, 0) and unknown.category == "路灯不亮"
        assert ev["FC-2023-000107"].dispatched_at is None  # acknowledged is not dispatched
        assert ev["FC-2023-000107"].category == "4fd3b167e750846744000005"
        assert cats["4fd3b656e750846c53000004"].name == "道路坑洼"
        assert cats["4fd3b656e750846c53000004"].group_name == "市政设施"
        assert cats["4fd3b167e750846744000005"].name == "4fd3b167e750846744000005"
        # each run (the first and the re-run) quarantines the id-less request once
        assert [(q["reason"], q["column_name"], q["row_number"]) for q in quarantined] == [
            ("missing_value", "event_id", 6)] * 2
        assert f"requests.{self.fmt}" in quarantined[0]["origin"]


class TestOpen311JsonContract(_Open311Cases, PluginContract):
    fmt = "json"


class TestOpen311XmlContract(_Open311Cases, PluginContract):
    fmt = "xml"


# --------------------------------------------------------------------------- parsing


def test_json_and_xml_give_the_same_rows(tmp_path: Path, static_server: Open311Server) -> None:
    out = {}
    for fmt in ("json", "xml"):
        batches = list(build(tmp_path, open311_source(static_server.base, fmt)).extract(None))
        out[fmt] = {t: frames(batches, t).drop(ORIGIN)
                    for t in ("grid_events", "grid_event_categories")}
        assert [b.mapped for b in batches] == [True, True]
    for table in out["json"]:
        assert out["json"][table].equals(out["xml"][table]), table
    ev = out["json"]["grid_events"]
    assert ev.height == 7 and ev["_row"].to_list() == list(range(1, 8))
    assert all(dtype == pl.String for c, dtype in ev.schema.items() if c != "_row")


@pytest.mark.parametrize(("word", "kind"), [
    ("open", "open"), ("OPEN", "open"), ("New", "open"), ("submitted", "open"),
    ("acknowledged", "open"), ("pending", "open"), ("in_progress", "in_progress"),
    ("In Progress", "in_progress"), ("in-progress", "in_progress"), ("Assigned", "in_progress"),
    ("closed", "closed"), ("Resolved", "closed"), ("completed", "closed"), ("FIXED", "closed"),
    ("done", "closed"), ("archived", "closed"), ("Closed - Duplicate", "closed"),
    ("closed_duplicate", "closed"), ("已办结", "closed"), ("Awaiting Review", None), (None, None),
])
def test_status_words_map_by_kind(word: str | None, kind: str | None) -> None:
    assert status_kind(word) == kind


def test_unknown_status_is_open_and_warned_once_per_word(tmp_path: Path,
                                                         server: Open311Server) -> None:
    reqs = [{"service_request_id": f"R{i}", "status": s, "requested_datetime": "2023-08-14"}
            for i, s in enumerate(["Awaiting Review", "awaiting review", "Wartet", "open"])]
    server.serve("requests.json", json.dumps(reqs))
    warnings: list[str] = []
    src = build(tmp_path, open311_source(server.base, fetch_services=False), warnings)
    ev = frames(list(src.extract(None)), "grid_events")
    assert ev["closed_at"].null_count() == 4 and ev["dispatched_at"].null_count() == 4
    assert len(warnings) == 2 and "Awaiting Review" in warnings[0] and "Wartet" in warnings[1]


def test_wrapped_json_single_objects_and_unknown_fields(tmp_path: Path) -> None:
    one = {"service_request_id": 7, "Status": "closed", "requested_datetime": "2023-08-14",
           "ServiceCode": "A1", "lat": 32.1, "unknown_field": {"deep": [1, 2]}}
    for body in ({"service_requests": [one]}, {"requests": [one]}, {"data": {"request": one}},
                 [one], one):
        recs = parse_records(json.dumps(body).encode(), "json", "requests", "here")
        assert recs[0]["servicerequestid"] == "7" and recs[0]["servicecode"] == "A1"
        assert recs[0]["lat"] == "32.1" and recs[0]["status"] == "closed"
    assert parse_records(b"[]", "json", "requests", "here") == []
    assert parse_records(b"<service_requests/>", "xml", "requests", "here") == []
    with pytest.raises(SourceError, match="no list of requests"):
        parse_records(b'{"total": 3}', "json", "requests", "here")


# --------------------------------------------------------------------------- end to end


def test_request_without_id_is_quarantined_not_dropped(tmp_path: Path, sqlite_url: str,
                                                       run_sources,
                                                       static_server: Open311Server) -> None:
    r = run_sources(sqlite_url, [divisions_source(), grids_source(tmp_path),
                                 open311_source(static_server.base, fetch_services=False)])[2]
    assert r.ok, r.error
    assert (r.read, r.loaded, r.quarantined) == (7, 6, 1)
    q = runlog.list_quarantine(open_warehouse(sqlite_url), source="city311")[0]
    assert q["reason"] == "missing_value" and q["column_name"] == "event_id"
    # the raw row keeps what identifies the request at the city: time, service, status
    raw = json.loads(q["raw"])
    assert raw["reported_at"] == "2023-08-16T09:00:00+08:00" and raw["status"] == "open"
    assert raw["service_name"] == "乱张贴小广告" and raw["event_id"] is None


def test_incremental_run_asks_from_cursor_minus_lookback(tmp_path: Path, warehouse_url: str,
                                                         run_sources,
                                                         server: Open311Server) -> None:
    server.serve_case("services.json")
    server.serve_case("requests.json")
    cfg = open311_source(server.base, lookback_days=2)
    first = run_sources(warehouse_url, [divisions_source(), grids_source(tmp_path), cfg])[2]
    assert first.ok, first.error
    assert server.requests_seen()[0].get("start_date") is None  # first run: server's window
    eng = open_warehouse(warehouse_url)
    assert runlog.get_cursor(eng, "city311") == {"last_requested": "2023-08-16T10:15:00+08:00"}

    # FC-2023-000102 has been closed since: re-read within the lookback, it is updated
    changed = json.loads((CASES / "requests.json").read_text(encoding="utf-8"))[1]
    changed |= {"status": "Closed", "updated_datetime": "2023-08-16T12:00:00+08:00"}
    server.serve("requests.json", json.dumps([changed]))
    again = run_sources(warehouse_url, [divisions_source(), grids_source(tmp_path), cfg],
                        ids=["city311"])[0]
    assert again.ok, again.error
    assert server.requests_seen()[-1]["start_date"] == "2023-08-14T10:15:00+08:00"
    assert (again.read, again.updated, again.inserted) == (4, 1, 0)  # 3 services + 1 request
    with eng.connect() as c:
        row = c.execute(select(grid_events).where(
            grid_events.c.event_id == "FC-2023-000102")).one()
    assert row.closed_at == utc(2023, 8, 16, 4, 0)
    # the cursor never moves back when the window holds only older requests
    assert runlog.get_cursor(eng, "city311") == {"last_requested": "2023-08-16T10:15:00+08:00"}
    eng.dispose()


def test_entity_bomb_is_refused_and_other_sources_still_load(tmp_path: Path, sqlite_url: str,
                                                             run_sources,
                                                             server: Open311Server) -> None:
    server.serve_case("services.xml")
    server.serve_case("requests.xml", "requests_entity_bomb.xml")
    results = run_sources(sqlite_url, [divisions_source(), grids_source(tmp_path),
                                       open311_source(server.base, "xml")])
    by = {r.source: r for r in results}
    assert not by["city311"].ok
    assert "refused the XML response" in by["city311"].error
    assert f"{server.base}/requests.xml" in by["city311"].error
    assert by["grids"].ok and by["grids"].loaded == 3
    with open_warehouse(sqlite_url).connect() as c:  # nothing of the failed run was kept
        assert c.execute(select(grid_event_categories)).all() == []


# --------------------------------------------------------------------------- paging and HTTP


def _paged(rows: list[dict[str, Any]]) -> Responder:
    def respond(q: dict[str, str]) -> Reply:
        page, size = int(q.get("page", 1)), int(q.get("page_size", 1000))
        return 200, json.dumps(rows[(page - 1) * size:page * size]).encode(), "application/json"
    return respond


def test_pages_are_walked_until_a_short_page(tmp_path: Path, server: Open311Server) -> None:
    rows = [{"service_request_id": f"P{i}", "status": "open",
             "requested_datetime": f"2023-08-1{i}T08:00:00+08:00"} for i in range(5)]
    server.routes["requests.json"] = _paged(rows)
    src = build(tmp_path, open311_source(server.base, page_size=2, fetch_services=False,
                                         jurisdiction_id="fancheng.gov.cn"))
    batches = list(src.extract(None))
    seen = server.requests_seen()
    assert [(q["page"], q["page_size"]) for q in seen] == [("1", "2"), ("2", "2"), ("3", "2")]
    assert all(q["jurisdiction_id"] == "fancheng.gov.cn" for q in seen)
    assert [b.frame.height for b in batches] == [2, 2, 1]
    assert "page=2" in batches[1].frame[ORIGIN][0] and batches[1].frame["_row"].to_list() == [1, 2]
    assert batches[-1].cursor == {"last_requested": "2023-08-14T08:00:00+08:00"}


def test_a_page_that_repeats_is_a_pagination_error(tmp_path: Path, server: Open311Server) -> None:
    rows = [{"service_request_id": f"P{i}", "requested_datetime": "2023-08-14"} for i in range(2)]
    server.serve("requests.json", json.dumps(rows))  # ignores page: every page is the same
    src = build(tmp_path, open311_source(server.base, page_size=2, fetch_services=False))
    with pytest.raises(PaginationError, match="page 2 repeats page 1"):
        list(src.extract(None))


def test_max_pages_is_an_error_not_a_silent_cut(tmp_path: Path, server: Open311Server) -> None:
    rows = [{"service_request_id": f"P{i}", "requested_datetime": "2023-08-14"} for i in range(9)]
    server.routes["requests.json"] = _paged(rows)
    src = build(tmp_path, open311_source(server.base, page_size=2, max_pages=3,
                                         fetch_services=False))
    with pytest.raises(PaginationError, match="max_pages=3"):
        list(src.extract(None))


def test_api_key_is_sent_but_never_shown(tmp_path: Path, server: Open311Server,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    good = (CASES / "requests.json").read_bytes()
    denied = (CASES / "errors.json").read_bytes()
    server.routes["requests.json"] = lambda q: (
        (200, good, "application/json") if q.get("api_key") == "s3cret-key"
        else (403, denied, "application/json"))
    cfg = open311_source(server.base, api_key_env="CITY311_KEY", fetch_services=False)
    monkeypatch.setenv("CITY311_KEY", "s3cret-key")
    batches = list(build(tmp_path, cfg).extract(None))
    assert server.requests_seen()[-1]["api_key"] == "s3cret-key"
    assert not any("s3cret" in o for o in frames(batches, "grid_events")[ORIGIN].to_list())

    monkeypatch.setenv("CITY311_KEY", "wrong-key")
    with pytest.raises(AuthError) as e:
        list(build(tmp_path, cfg).extract(None))
    assert "HTTP 403" in str(e.value) and "Invalid api_key received" in str(e.value)
    assert "wrong-key" not in str(e.value) and f"{server.base}/requests.json" in str(e.value)

    monkeypatch.delenv("CITY311_KEY")
    with pytest.raises(SourceError, match="CITY311_KEY"):
        list(build(tmp_path, cfg).extract(None))


def test_error_object_in_a_200_answer_is_an_error(tmp_path: Path, server: Open311Server) -> None:
    server.serve_case("requests.xml", "errors.xml")
    with pytest.raises(AuthError, match="Invalid api_key received"):
        list(build(tmp_path, open311_source(server.base, "xml", fetch_services=False))
             .extract(None))
    server.serve("requests.json", '[{"code": 400, "description": "start_date is invalid"}]', 400)
    with pytest.raises(SourceError, match="HTTP 400: start_date is invalid") as e:
        list(build(tmp_path, open311_source(server.base, fetch_services=False)).extract(None))
    assert not isinstance(e.value, AuthError)


def test_invalid_json_names_the_url(tmp_path: Path, server: Open311Server) -> None:
    server.serve("requests.json", "<html><body>Service Unavailable</body></html>")
    with pytest.raises(SourceError, match="not valid JSON") as e:
        list(build(tmp_path, open311_source(server.base, fetch_services=False)).extract(None))
    assert f"{server.base}/requests.json" in str(e.value)


def test_5xx_is_retried_then_transient(tmp_path: Path, server: Open311Server) -> None:
    answers = [(503, b"busy", "text/plain"), (502, b"gateway", "text/plain"),
               (200, (CASES / "requests.json").read_bytes(), "application/json")]
    server.routes["requests.json"] = lambda q: answers.pop(0)
    src = build(tmp_path, open311_source(server.base, fetch_services=False))
    assert frames(list(src.extract(None)), "grid_events").height == 7

    server.serve("requests.json", "down", 500)
    with pytest.raises(TransientSourceError, match=r"HTTP 500 \(after 2 attempt") as e:
        list(build(tmp_path, open311_source(server.base, fetch_services=False, max_retries=1))
             .extract(None))
    assert f"{server.base}/requests.json" in str(e.value)


def test_missing_service_list_warns_and_requests_still_load(tmp_path: Path,
                                                             server: Open311Server) -> None:
    server.serve_case("requests.json")  # services.json is not served: 404
    warnings: list[str] = []
    batches = list(build(tmp_path, open311_source(server.base), warnings).extract(None))
    assert [b.table for b in batches] == ["grid_events"]
    assert any("no service list" in w for w in warnings)


def test_config_problems_are_reported(tmp_path: Path) -> None:
    spec = settings_from_dict({"sources": [open311_source("ftp://x", "csv",
                                                          event_source="citizen")]},
                              path=tmp_path / "gongzhi.toml").sources[0]
    spec.options.pop("grid_code")
    places = {p.place.rsplit(" ", 1)[-1] for p in validate_source(spec)}
    assert {"url", "format", "event_source", "grid_code"} <= places


def test_unreachable_endpoint_is_transient_and_names_it(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}/open311/v2"
    src = build(tmp_path, open311_source(base, max_retries=1, fetch_services=False))
    with pytest.raises(TransientSourceError, match="connection failed") as e:
        list(src.extract(None))
    assert f"{base}/requests.json" in str(e.value) and e.value.retryable
