"""HTTP status errors are typed in both API plugins: callers tell them apart by the
``status`` of an ``HttpStatusError`` (or of an ``AuthError`` for 401/403), never by the
message text; a missing Open311 service list (404) is recognised by its status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.errors import AuthError, HttpStatusError
from core.settings import settings_from_dict
from ingest.contract import SourceContext
from ingest.registry import build_source
from tests.ingest.plugins.http_server import (  # noqa: F401 - http_server is a fixture
    LoopbackServer,
    http_server,
    json_reply,
)

ENV = "GZ_TEST_STATUS_TOKEN"


def _source(cfg: dict[str, Any], tmp_path: Path, warnings: list[str] | None = None) -> Any:
    spec = settings_from_dict({"sources": [cfg]}, path=tmp_path / "gongzhi.toml").sources[0]
    return build_source(spec, SourceContext(warn=warnings.append) if warnings is not None
                        else None)


def _rest(server: LoopbackServer) -> dict[str, Any]:
    return {"id": "api", "plugin": "rest", "table": "service_cases", "url": server.url + "/x",
            "token_env": ENV, "max_retries": 0, "allow_private": True}


def _open311(server: LoopbackServer, **extra: Any) -> dict[str, Any]:
    return {"id": "city311", "plugin": "open311", "url": server.url + "/v2",
            "grid_code": "420606001001001", "retry_backoff_s": 0.01, "max_retries": 0,
            "allow_private": True, **extra}


@pytest.mark.parametrize(("status", "auth"), [(400, False), (401, True), (403, True),
                                              (404, False), (422, False)])
def test_rest_and_open311_raise_the_status(tmp_path: Path, http_server: LoopbackServer,  # noqa: F811
                                           monkeypatch: pytest.MonkeyPatch, status: int,
                                           auth: bool) -> None:
    monkeypatch.setenv(ENV, "t0ken-for-the-status-test")
    http_server.route("/x", json_reply({"error": "no"}, status))
    http_server.route("/v2/requests.json", json_reply({"error": "no"}, status))
    for cfg in (_rest(http_server), _open311(http_server, fetch_services=False)):
        with pytest.raises(AuthError if auth else HttpStatusError) as e:
            list(_source(cfg, tmp_path).extract(None))
        assert getattr(e.value, "status", None) == status and not e.value.retryable


def test_a_404_service_list_is_skipped_by_its_status_and_other_errors_stop(
        tmp_path: Path, http_server: LoopbackServer) -> None:  # noqa: F811
    http_server.route("/v2/requests.json", json_reply([]))
    warnings: list[str] = []
    # no route for services.json: the server answers 404 (its text does not say "HTTP 404")
    list(_source(_open311(http_server), tmp_path, warnings).extract(None))
    assert any("no service list" in w for w in warnings), warnings
    http_server.route("/v2/services.json", json_reply({"error": "HTTP 404 not here"}, 410))
    with pytest.raises(HttpStatusError) as e:  # a 410 whose text mentions 404 is not a 404
        list(_source(_open311(http_server), tmp_path, []).extract(None))
    assert e.value.status == 410
