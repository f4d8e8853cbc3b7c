"""Where the HTTP sources may connect (ingest/plugins/http_util.py), against real servers on
127.0.0.1: ``next`` links and redirects stay on the configured origin unless
``allowed_origins`` lists another, credentials never cross origins, and link-local, metadata
and (unless ``allow_private``) private or loopback addresses are refused before connecting,
for every address a name resolves to, connecting to the address that was checked.

No test here sends a packet anywhere but 127.0.0.1: ``socket.create_connection`` is replaced
by one that records each attempt and only really connects to loopback, so a client that
tried to reach 169.254.169.254 is caught in the record instead of on the network."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import SourceError
from core.settings import settings_from_dict
from ingest.registry import build_source, validate_source
from tests.ingest.plugins.http_server import (  # noqa: F401 - http_server is a fixture
    LoopbackServer,
    Received,
    Reply,
    http_server,
    json_reply,
)

REPO = Path(__file__).resolve().parents[3]
TOKEN = "tok-guard-7c1e-DO-NOT-LEAK"
ENV = "GONGZHI_TEST_GUARD_TOKEN"
KEY_ENV = "GONGZHI_TEST_GUARD_311KEY"
KEY = "key-311-guard-DO-NOT-LEAK"


def record(n: int) -> dict[str, Any]:
    return {"case_id": f"G{n}", "item_code": "I01", "community_code": "420606001001",
            "channel": "online", "submitted_at": "2024-05-01 10:00:00", "status": "accepted"}


def rest(url: str, **extra: Any) -> dict[str, Any]:
    return {"id": "api", "plugin": "rest", "table": "service_cases", "url": url,
            "token_env": ENV, "records": "items", "next": "next", "max_retries": 0,
            "backoff_base_s": 0.001, **extra}


def run(cfg: dict[str, Any], tmp_path: Path) -> list[Any]:
    spec = settings_from_dict({"sources": [cfg]}, path=tmp_path / "gongzhi.toml").sources[0]
    assert validate_source(spec) == []
    return list(build_source(spec).extract(None))


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, TOKEN)
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def other() -> Iterator[LoopbackServer]:
    """A second server: another origin (same host, another port), e.g. an attacker's."""
    server = LoopbackServer().start()
    yield server
    server.stop()


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection attempt; only loopback ones are really made."""
    seen: list[tuple[str, int]] = []
    real = socket.create_connection

    def fake(address: tuple[str, int], *args: Any, **kw: Any) -> socket.socket:
        seen.append((str(address[0]), int(address[1])))
        try:
            loopback = ipaddress.ip_address(address[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise OSError(f"the test does not connect to {address[0]}")
        return real(address, *args, **kw)

    monkeypatch.setattr(socket, "create_connection", fake)
    return seen


# -- origins and credentials -------------------------------------------------------------------


def test_a_next_link_to_another_origin_is_refused_and_gets_nothing(
        tmp_path: Path, http_server: LoopbackServer, other: LoopbackServer,  # noqa: F811
        secrets: None) -> None:
    http_server.route("/cases", json_reply({"items": [record(1)],
                                            "next": f"{other.url}/steal"}))
    other.route("/steal", json_reply({"items": [record(2)], "next": None}))
    with pytest.raises(SourceError) as e:
        run(rest(f"{http_server.url}/cases", allow_private=True), tmp_path)
    assert "allowed_origins" in str(e.value) and other.url in str(e.value)
    assert TOKEN not in str(e.value)
    assert other.requests == []  # refused before connecting: the token went nowhere
    assert http_server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_an_allowed_origin_is_followed_without_credentials(
        tmp_path: Path, http_server: LoopbackServer, other: LoopbackServer,  # noqa: F811
        secrets: None) -> None:
    http_server.route("/cases", json_reply({"items": [record(1)],
                                            "next": f"{other.url}/page2"}))
    other.route("/page2", json_reply({"items": [record(2)], "next": None}))
    batches = run(rest(f"{http_server.url}/cases", allow_private=True,
                       allowed_origins=[other.url]), tmp_path)
    assert [b.frame["case_id"].to_list() for b in batches] == [["G1"], ["G2"]]
    assert len(other.requests) == 1 and "authorization" not in other.requests[0].headers
    assert http_server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_a_redirect_to_another_origin_is_refused(
        tmp_path: Path, http_server: LoopbackServer, other: LoopbackServer,  # noqa: F811
        secrets: None) -> None:
    http_server.route("/cases", Reply(302, b"", {"Location": f"{other.url}/elsewhere"}))
    other.route("/elsewhere", json_reply({"items": [record(2)], "next": None}))
    with pytest.raises(SourceError, match="allowed_origins"):
        run(rest(f"{http_server.url}/cases", allow_private=True), tmp_path)
    assert other.requests == []


def test_open311_redirects_stay_on_its_origin_and_its_key_with_it(
        tmp_path: Path, http_server: LoopbackServer, other: LoopbackServer,  # noqa: F811
        secrets: None) -> None:
    http_server.route("/v2/requests.json",
                      Reply(302, b"", {"Location": f"{other.url}/v2/requests.json"}))
    other.route("/v2/requests.json", json_reply([]))
    cfg = {"id": "city311", "plugin": "open311", "url": f"{http_server.url}/v2",
           "grid_code": "420606001001001", "fetch_services": False, "max_retries": 0,
           "api_key_env": KEY_ENV, "allow_private": True}
    with pytest.raises(SourceError, match="allowed_origins") as e:
        run(cfg, tmp_path)
    assert KEY not in str(e.value) and other.requests == []


def test_allowed_origins_must_be_origins(tmp_path: Path) -> None:
    cfg = rest("https://api.example.gov.cn/cases",
               allowed_origins=["https://ok.example.gov.cn", "https://x.example/path", "ftp://y"])
    spec = settings_from_dict({"sources": [cfg]}, path=tmp_path / "gongzhi.toml").sources[0]
    problems = " ".join(p.message for p in validate_source(spec))
    assert "https://x.example/path" in problems
    spec = settings_from_dict({"sources": [rest("https://a.example/c",
                                                allowed_origins=["https://b.example:8443"])]},
                              path=tmp_path / "gongzhi.toml").sources[0]
    assert validate_source(spec) == []


# -- addresses -----------------------------------------------------------------------------------


def test_loopback_needs_allow_private(tmp_path: Path, http_server: LoopbackServer,  # noqa: F811
                                      secrets: None) -> None:
    http_server.route("/cases", json_reply({"items": [record(1)], "next": None}))
    with pytest.raises(SourceError) as e:
        run(rest(f"{http_server.url}/cases"), tmp_path)
    assert "loopback" in str(e.value) and "allow_private = true" in str(e.value)
    assert http_server.requests == []
    assert len(run(rest(f"{http_server.url}/cases", allow_private=True), tmp_path)) == 1


@pytest.mark.parametrize("host", ["169.254.169.254", "[fd00:ec2::254]", "100.100.100.200",
                                  "169.254.10.1", "[fe80::1]", "[::ffff:169.254.169.254]",
                                  "0.0.0.0"])
def test_metadata_and_link_local_are_refused_before_connecting(
        tmp_path: Path, connects: list[tuple[str, int]], secrets: None, host: str) -> None:
    for cfg in (rest(f"http://{host}/latest/meta-data", allow_private=True),
                {"id": "city311", "plugin": "open311", "url": f"http://{host}/v2",
                 "grid_code": "420606001001001", "fetch_services": False, "max_retries": 0,
                 "allow_private": True}):
        with pytest.raises(SourceError, match="refused to connect"):
            run(cfg, tmp_path)
    assert connects == []


@pytest.mark.parametrize("address", ["10.1.2.3", "172.16.0.9", "192.168.1.1", "100.64.0.1",
                                     "fc00::1", "127.0.0.1", "::1"])
def test_private_addresses_need_allow_private(address: str) -> None:
    from ingest.plugins.http_util import address_problem

    ip = ipaddress.ip_address(address)
    assert address_problem(ip, allow_private=False) is not None
    assert address_problem(ip, allow_private=True) is None
    assert address_problem(ipaddress.ip_address("202.96.134.133"), allow_private=False) is None


def test_every_address_of_a_name_is_checked(tmp_path: Path, connects: list[tuple[str, int]],
                                            monkeypatch: pytest.MonkeyPatch,
                                            secrets: None) -> None:
    def getaddrinfo(host: str, port: Any, *args: Any, **kw: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, int(port or 80)))
                for ip in ("127.0.0.1", "169.254.169.254")]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(SourceError, match=r"169\.254\.169\.254"):
        run(rest("http://api.example.test/cases", allow_private=True), tmp_path)
    assert connects == []


def test_the_checked_address_is_the_one_connected_to(
        tmp_path: Path, http_server: LoopbackServer, connects: list[tuple[str, int]],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, secrets: None) -> None:
    """DNS rebinding: the name answers 127.0.0.1 when checked, the metadata address after."""
    answers = iter(["127.0.0.1"] + ["169.254.169.254"] * 10)
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kw: Any) -> list[Any]:
        if host != "api.example.test":
            return real(host, port, *args, **kw)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), int(port or 80)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    http_server.route("/cases", json_reply({"items": [record(1)], "next": None}))
    batches = run(rest(f"http://api.example.test:{http_server.port}/cases",
                       allow_private=True), tmp_path)
    assert len(batches) == 1
    assert connects == [("127.0.0.1", http_server.port)]
    assert http_server.requests[0].headers["host"] == f"api.example.test:{http_server.port}"


def test_every_http_source_goes_through_the_guarded_client() -> None:
    """A new plugin cannot open its own client and skip the checks."""
    offenders = []
    for path in (REPO / "ingest").rglob("*.py"):
        if path.name == "http_util.py":
            continue
        text = path.read_text(encoding="utf-8")
        for call in ("httpx.Client(", "httpx.get(", "httpx.stream(", "httpx.request(",
                     "urllib.request", "http.client", "import requests", "urlopen("):
            if call in text:
                offenders.append(f"{path.relative_to(REPO)}: {call}")
    assert offenders == []
