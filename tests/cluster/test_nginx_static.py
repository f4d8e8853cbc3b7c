"""nginx from ``deploy/nginx/gongzhi.conf`` in front of a tiny HTTP server standing in for
``gongzhi serve``: Streamlit's front-end files (``/static/``) reach the browser gzip-compressed
when it asks for it, with Streamlit's long-term ``Cache-Control`` kept, and everything else as
the dashboard sent it. No PostgreSQL, no browser, no dashboard: not serial."""

from __future__ import annotations

import gzip
import http.server
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import cluster

# what Streamlit 1.x sends for its hashed front-end files
IMMUTABLE = "public, immutable, max-age=31536000"
# compressible like a real bundle, but not one repeated line
SCRIPT = "".join(f"function f{i}(a){{return a*{i}+{i * 7 % 13};}}\n"
                 for i in range(3000)).encode()
PAGE = b"<!doctype html><html><body>" + b"<div>x</div>" * 500 + b"</body></html>"
# the upstream's ports: in this test's own range, the first free one
PORTS = range(9560, 9580)


class Upstream(http.server.BaseHTTPRequestHandler):
    """Streamlit's shape: a hashed script under /static/, an HTML page elsewhere; never
    compresses (Streamlit does not)."""

    def do_GET(self) -> None:
        if self.path.startswith("/static/js/"):
            body, kind, cache = SCRIPT, "application/javascript", IMMUTABLE
        else:
            body, kind, cache = PAGE, "text/html; charset=utf-8", "no-cache"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def base(tmp_path: Path) -> Iterator[str]:
    server = None
    for port in PORTS:
        try:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Upstream)
            break
        except OSError:
            continue
    assert server is not None, f"no free port in {PORTS}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with cluster.nginx(tmp_path / "nginx", [server.server_address[1]]) as (url, _):
            yield url
    finally:
        server.shutdown()
        server.server_close()


def get(url: str, **headers: str) -> tuple[dict[str, str], bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        return {k.lower(): v for k, v in r.headers.items()}, r.read()


def test_streamlit_static_files_are_compressed_and_stay_cacheable(base: str) -> None:
    url = f"{base}/static/js/index.DormvYxC.js"
    head, body = get(url, **{"Accept-Encoding": "gzip, deflate, br"})
    assert head.get("content-encoding") == "gzip"
    assert gzip.decompress(body) == SCRIPT
    assert len(body) < len(SCRIPT) / 3
    assert head["cache-control"] == IMMUTABLE  # Streamlit's, passed through
    assert "Accept-Encoding" in head.get("vary", "")

    # behind an office proxy (it adds Via) as well
    head, body = get(url, **{"Accept-Encoding": "gzip", "Via": "1.1 proxy.gov.internal"})
    assert head.get("content-encoding") == "gzip"
    assert gzip.decompress(body) == SCRIPT

    # a browser that does not ask gets the bytes as they are
    head, body = get(url, **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in head
    assert body == SCRIPT
    # still routed like every request: the sticky cookie is set
    assert "gz_route=" in head.get("set-cookie", "")


def test_pages_outside_static_are_not_compressed(base: str) -> None:
    # pages that may reflect input next to a secret are left alone (BREACH)
    head, body = get(f"{base}/map?period=2025-12", **{"Accept-Encoding": "gzip"})
    assert "content-encoding" not in head
    assert body == PAGE
    assert head["cache-control"] == "no-cache"
