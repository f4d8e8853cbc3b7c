"""Typed errors: the class (or the HTTP status) says whether trying again can help."""

from __future__ import annotations

import pytest

from core.errors import (
    AuthError,
    ConfigError,
    GongzhiError,
    HttpStatusError,
    LockBusy,
    NoDivisions,
    SourceError,
    TransientSourceError,
)


@pytest.mark.parametrize(("status", "retryable"), [
    (400, False), (401, False), (404, False), (408, False), (410, False), (429, True),
    (500, True), (502, True), (503, True), (504, True), (599, True), (600, False)])
def test_http_status_errors_carry_the_status_and_say_if_a_retry_may_help(
        status: int, retryable: bool) -> None:
    e = HttpStatusError(status, f"HTTP {status} from the API", location="api", url="http://x")
    assert isinstance(e, SourceError) and e.status == status and e.url == "http://x"
    assert e.retryable is retryable
    assert str(e) == f"api: HTTP {status} from the API"


def test_retryable_is_a_property_of_the_class_elsewhere() -> None:
    assert TransientSourceError.retryable and LockBusy.retryable
    assert not AuthError.retryable and not SourceError.retryable
    assert not ConfigError.retryable and not GongzhiError.retryable


def test_an_auth_error_carries_its_http_status() -> None:
    e = AuthError("the server refused the request (HTTP 403)", location="api", status=403)
    assert e.status == 403 and not e.retryable and str(e).startswith("api: ")
    assert AuthError("password refused").status is None


def test_no_division_list_is_a_config_error_of_its_own() -> None:
    e = NoDivisions()
    assert isinstance(e, ConfigError) and "no district in the warehouse" in str(e)
