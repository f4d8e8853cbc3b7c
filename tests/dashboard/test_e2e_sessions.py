"""A signed-in session in a real headless Chromium against ``gongzhi serve``: it survives a
reload, a shared link and a new tab (an HttpOnly, SameSite=Strict cookie holding a server-side
session), and it ends everywhere at once on sign-out and when the account is disabled; a
token copied before the sign-out no longer works; the cookie's routes refuse other sites."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard import browser
from tests.dashboard.conftest import HANJIANG, PERIOD
from warehouse import accounts, audit
from warehouse.engine import open_warehouse

pytestmark = pytest.mark.browser
PASSWORD = "district-leader-2024"
TITLE = "登录共治"


@pytest.fixture(scope="module", autouse=True)
def _need_browser() -> None:
    browser.require_browser()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser.chromium() as b:
        yield b


def _secured(src: Path, tmp: Path) -> Path:
    """A copy of the session's case warehouse (``src``, its config), signed in."""
    dst = tmp / "copy"
    shutil.copytree(src.parent, dst)
    cfg = dst / "gongzhi.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(str(src.parent), str(dst))
                   .replace('sign_in = "open"', 'sign_in = "required"'), encoding="utf-8")
    eng = open_warehouse(f"sqlite:///{dst / 'warehouse.db'}")
    accounts.add_user(eng, "boss", PASSWORD, "leader", "420606000000", "区领导 张")
    eng.dispose()
    return cfg


def _sign_in(page: Any) -> None:
    page.get_by_role("heading", name=TITLE).wait_for()
    page.get_by_label("用户名").fill("boss")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()


def _signed_out(page: Any) -> bool:
    page.get_by_role("heading", name=TITLE).wait_for()
    return page.locator('[data-testid="stMetricValue"]').count() == 0


def _gz_cookie(ctx: Any) -> dict[str, Any] | None:
    return next((c for c in ctx.cookies() if c["name"] == "gz_session"), None)


def _get(url: str, **headers: str) -> tuple[int, dict[str, str]]:
    """A GET that does not follow redirects: status and headers."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kw: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


def test_a_session_survives_reloads_and_tabs_and_ends_everywhere(
        chromium: Any, case_config: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    cfg = _secured(case_config, tmp_path_factory.mktemp("sessions"))
    with browser.serve(cfg, log=cfg.parent / "serve.log") as (base, _):
        ctx = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        tab = ctx.new_page()
        tab.set_default_timeout(30_000)
        # a shared link: signing in returns to the page and filters it named
        tab.goto(f"{base}/gov?period={PERIOD}&street={HANJIANG}")
        _sign_in(tab)
        browser.wait_cards(tab, 3)
        assert "/gov" in tab.url and f"street={HANJIANG}" in tab.url
        held = _gz_cookie(ctx)
        assert held is not None and held["httpOnly"] and held["sameSite"] == "Strict"
        assert "gz_session" not in tab.evaluate("document.cookie")  # scripts cannot read it

        tab.reload()  # a reload stays signed in
        browser.wait_cards(tab, 3)
        other = ctx.new_page()  # so does a new tab
        other.set_default_timeout(30_000)
        other.goto(f"{base}/?period={PERIOD}")
        browser.wait_cards(other, 5)
        assert other.get_by_text("区领导 张").count() >= 1

        tab.get_by_role("button", name="退出登录").click()  # out in this tab…
        assert _signed_out(tab)
        assert _gz_cookie(ctx) is None
        other.get_by_role("link", name="政务服务").click()  # …and the other is out at once
        assert _signed_out(other)
        other.reload()
        assert _signed_out(other)

        # the token copied before signing out opens nothing: the session ended on the server
        thief = chromium.new_context(locale="zh-CN")
        thief.add_cookies([{"name": "gz_session", "value": held["value"], "url": base,
                            "httpOnly": True, "sameSite": "Strict"}])
        stolen = thief.new_page()
        stolen.goto(f"{base}/?period={PERIOD}")
        assert _signed_out(stolen)
        thief.close()

        # disabling the account ends its sessions: a reload, or the next click, shows sign-in
        tab.goto(f"{base}/?period={PERIOD}")
        _sign_in(tab)
        browser.wait_cards(tab, 5)
        other.goto(f"{base}/gov?period={PERIOD}")
        browser.wait_cards(other, 3)
        eng = open_warehouse(f"sqlite:///{cfg.parent / 'warehouse.db'}")
        accounts.disable_user(eng, "boss")
        tab.reload()
        assert _signed_out(tab)
        other.get_by_role("link", name="总览").click()
        assert _signed_out(other)
        actions = [e["action"] for e in audit.entries(eng, username="boss")]
        assert actions.count(audit.SIGN_IN) == 2
        eng.dispose()
        ctx.close()

        # the cookie's routes: never followed from another site, never lead off this one
        code, _ = _get(f"{base}/gz/session?code=x&next=/", **{"Sec-Fetch-Site": "cross-site"})
        assert code == 403
        code, headers = _get(f"{base}/gz/session?code=not-a-code&next=//evil.example/x")
        assert code == 303 and headers["location"] == "/" and "set-cookie" not in {
            k.lower() for k in headers}
        code, _ = _get(f"{base}/gz/signout", **{"Sec-Fetch-Site": "same-site"})
        assert code == 403
