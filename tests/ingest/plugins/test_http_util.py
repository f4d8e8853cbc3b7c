"""What every HTTP source shares (ingest/plugins/http_util.py): the rate limit spaces every
request, on a real server on 127.0.0.1, for rest and open311 alike; the pacer's arithmetic."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from ingest.plugins.http_util import Pacer
from tests.ingest.plugins.http_server import (  # noqa: F401 - http_server is a fixture
    LoopbackServer,
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
