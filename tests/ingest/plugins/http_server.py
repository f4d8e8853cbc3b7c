"""A real HTTP server on 127.0.0.1 for testing the API plugins (``rest``, ``open311``).

Responses are scripted per path: ``server.route("/items", Reply(...), Reply(...))`` serves the
replies in order and repeats the last one; a reply may also be a function of the request, for
APIs whose answer depends on query parameters. A route key with a query string
(``"/items?page=2"``) matches that exact query before the bare path does. Every request
received is recorded (``server.requests``) with its time, so tests can assert what the client
sent and how long it waited. Unrouted paths answer 404.

Use the ``http_server`` fixture (import it into the test module): a fresh server per test,
stopped afterwards.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]  # first value of each parameter
    raw_query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.monotonic() on arrival

    @property
    def target(self) -> str:
        return self.path + (f"?{self.raw_query}" if self.raw_query else "")


@dataclass
class Reply:
    """A scripted response. ``body`` may be bytes, text, or anything JSON-serialisable (sent
    as JSON); ``delay_s`` waits before answering (for client timeouts); ``drop`` closes the
    connection without any response (a transport error for the client)."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), "text/plain; charset=utf-8"
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8"), "application/json"


Responder = Reply | Callable[[Received], Reply]


def json_reply(body: Any, status: int = 200, **headers: str) -> Reply:
    """A JSON reply (header names with underscores become dashes: ``Retry_After``)."""
    return Reply(status, body, {k.replace("_", "-"): v for k, v in headers.items()})


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that gave up (timeout test) leaves a broken pipe behind: expected, not news
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1 with an ephemeral port and scripted routes."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._routes: dict[str, list[Responder]] = {}
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True,
                                        name="loopback-http")

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:41234``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def route(self, key: str, *replies: Responder) -> None:
        """Script the answers for a path (or path with exact query); replaces earlier ones."""
        if not replies:
            raise ValueError("a route needs at least one reply")
        with self._lock:
            self._routes[key] = list(replies)
            self._served[key] = 0

    def requests_to(self, path: str) -> list[Received]:
        """The requests received for ``path`` (any query), in order."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _answer(self, req: Received) -> Reply:
        with self._lock:
            self.requests.append(req)
            key = req.target if req.target in self._routes else req.path
            replies = self._routes.get(key)
            if replies is None:
                return json_reply({"error": f"no route for {req.target}"}, 404)
            n = self._served[key]
            self._served[key] = n + 1
            responder = replies[min(n, len(replies) - 1)]
        return responder(req) if callable(responder) else responder


def _handler_for(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            req = Received(
                method=self.command, path=parts.path,
                query={k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                raw_query=parts.query,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"", at=time.monotonic())
            reply = server._answer(req)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.drop:
                self.close_connection = True
                return
            data, ctype = reply.payload()
            self.send_response(reply.status)
            headers = {"Content-Type": ctype, **reply.headers}
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean; ``server.requests`` has everything

    return Handler


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    """A started loopback server, stopped after the test."""
    server = LoopbackServer().start()
    try:
        yield server
    finally:
        server.stop()


__all__ = ["LoopbackServer", "Received", "Reply", "http_server", "json_reply"]
