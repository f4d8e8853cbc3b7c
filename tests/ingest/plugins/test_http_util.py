"""What every HTTP source shares (ingest/plugins/http_util.py): the rate limit spaces every
request, on a real server on 127.0.0.1, for rest and open311 alike; the pacer's arithmetic;
open311 retries through the shared loop (Retry-After dates, dropped connections, timeouts)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import httpx
import pytest

from core.errors import TransientSourceError
from ingest.plugins.http_util import Pacer
from tests.ingest.plugins.http_server import (  # noqa: F401 - http_server is a fixture
    LoopbackServer,
    Reply,
    http_server,
    json_reply,
)
from tests.ingest.plugins.test_open311 import (  # noqa: F401 - server is a fixture
    CASES,
    Open311Server,
    build,
    open311_source,
    server,
)
from tests.ingest.plugins.test_rest import ENV, TOKEN, PagedApi, case, extract, rest_source


def test_rest_pages_and_retries_are_spaced_by_the_rate_limit(
        tmp_path: Path, http_server: LoopbackServer, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv(ENV, TOKEN)
    # a 503 first (retried at once: backoff 1 ms), then three pages of two
    http_server.route("/cases", json_reply({}, 503), PagedApi([case(n) for n in range(1, 7)]))
    started = time.monotonic()
    batches = extract(rest_source(http_server, max_requests_per_minute=300), tmp_path)  # 0.2 s
    elapsed = time.monotonic() - started
    assert sum(b.frame.height for b in batches) == 6
    seen = http_server.requests_to("/cases")
    assert len(seen) == 4
    # three waits of 0.2 s between four requests (measured by the client: the server's arrival
    # times also carry the first connection's set-up)
    assert elapsed >= 0.6
    assert seen[-1].at - seen[0].at >= 0.5


def test_open311_requests_are_spaced_by_the_rate_limit(tmp_path: Path,
                                                       server: Open311Server) -> None:  # noqa: F811
    server.serve_case("requests.json")
    server.serve_case("services.json")
    src = build(tmp_path, open311_source(server.base, max_requests_per_minute=240))  # 0.25 s
    started = time.monotonic()
    batches = list(src.extract(None))
    assert [b.table for b in batches] == ["grid_event_categories", "grid_events"]
    assert time.monotonic() - started >= 0.24  # two requests, the second waited


def test_the_pacer_waits_only_what_is_left_of_the_interval() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(round(s, 6))
        now[0] += s

    pace = Pacer(120, clock=lambda: now[0], sleep=sleep)  # 0.5 s apart
    request = httpx.Request("GET", "http://127.0.0.1/")
    pace(request)                # the first goes at once
    now[0] += 0.2
    pace(request)                # 0.3 s left of the interval
    now[0] += 2.0
    pace(request)                # long after: at once
    pace(request)                # right after: the whole interval
    assert slept == [0.3, 0.5]
    unlimited = Pacer(None, clock=lambda: now[0], sleep=sleep)
    unlimited(request)
    unlimited(request)
    assert slept == [0.3, 0.5]


def test_open311_retries_through_the_shared_loop(tmp_path: Path,
                                                 http_server: LoopbackServer) -> None:  # noqa: F811
    """open311 gets what rest has: the server's Retry-After as an HTTP date is honoured, a
    dropped connection and a late answer are retried, each retry is reported, and the
    timeout is named in the wording both plugins share."""
    import email.utils

    body = (CASES / "requests.json").read_bytes()
    in_a_second = email.utils.format_datetime(
        dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2), usegmt=True)
    http_server.route("/v2/requests.json",
                      json_reply({}, 429, Retry_After=in_a_second),
                      Reply(drop=True),
                      Reply(200, body, {"Content-Type": "application/json"}))
    warnings: list[str] = []
    base = http_server.url + "/v2"
    src = build(tmp_path, open311_source(base, fetch_services=False, max_retries=2), warnings)
    batches = list(src.extract(None))
    assert sum(b.frame.height for b in batches) == 7
    first, second = http_server.requests_to("/v2/requests.json")[:2]
    assert second.at - first.at >= 0.9  # the date said ~2 s (whole seconds: at least 1)
    retries = [w for w in warnings if "; retry " in w]
    assert [w.split(": ", 1)[1].split(";")[0] for w in retries] == [
        "HTTP 429", "connection failed (RemoteProtocolError: Server disconnected without "
                    "sending a response.)"]
    assert all(f"{base}/requests.json: " in w for w in retries)

    http_server.route("/v2/requests.json", Reply(200, body, delay_s=0.5))
    late = build(tmp_path, open311_source(base, fetch_services=False, max_retries=0,
                                          timeout_s=0.1))
    with pytest.raises(TransientSourceError, match=r"no answer within 0\.1 s \(after 1 "
                                                   r"attempt\(s\)\)"):
        list(late.extract(None))
