"""In a real headless Chromium: data is shown as text (a name that is HTML does not run),
filter values that look like SQL change nothing, and single sign-on through an OpenID Connect
provider on 127.0.0.1 leads to the dashboard with the account's area."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.dashboard import browser
from tests.dashboard.conftest import GAOZHUANG, HANJIANG, LIUGENG, PERIOD
from tests.dashboard.fake_oidc import FakeOIDC
from warehouse import accounts
from warehouse.engine import open_warehouse, write_transaction

pytestmark = pytest.mark.browser
PAYLOAD = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module", autouse=True)
def _need_browser() -> None:
    browser.require_browser()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser.chromium() as b:
        yield b


def _copy(case_config: Path, tmp: Path) -> Path:
    """A private copy of the session's case warehouse (copying is cheap, building is not)."""
    dst = tmp / "copy"
    shutil.copytree(case_config.parent, dst)
    cfg = dst / "gongzhi.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(str(case_config.parent), str(dst)),
                   encoding="utf-8")
    return cfg


MD_COMMUNITY = "**粗体**[点我](javascript:alert(1))"
MD_STREET = "_斜体_ `code` :red[红]"


@pytest.fixture(scope="module")
def hostile(case_config: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[str, Path]]:
    """One server on a copy whose names are hostile: HTML as 高庄社区's name, Markdown as
    刘埂社区's and 汉江街道's (both in 汉江街道); yields (base URL, config)."""
    cfg = _copy(case_config, tmp_path_factory.mktemp("hostile"))
    eng = open_warehouse(f"sqlite:///{cfg.parent / 'warehouse.db'}")
    with write_transaction(eng) as c:
        for code, name in ((GAOZHUANG, PAYLOAD), (LIUGENG, MD_COMMUNITY),
                           (HANJIANG, MD_STREET)):
            c.execute(text("UPDATE divisions SET short_name = :p, name = :p WHERE code = :c"),
                      {"p": name, "c": code})
        c.execute(text("UPDATE warehouse_meta SET value = value + 1 WHERE key = 'data_version'"))
    eng.dispose()
    with browser.serve(cfg, log=cfg.parent / "serve.log") as (base, _):
        yield base, cfg


def _page(chromium: Any) -> tuple[Any, Any, list[str]]:
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return ctx, page, dialogs


def test_html_in_names_is_text_and_sql_in_filters_changes_nothing(
        chromium: Any, hostile: tuple[str, Path]) -> None:
    base, cfg = hostile
    ctx, page, dialogs = _page(chromium)
    page.goto(f"{base}/gov?period={PERIOD}&street={HANJIANG}")
    browser.wait_cards(page, 3)
    page.get_by_text(PAYLOAD).first.wait_for()  # shown as the literal text
    assert page.locator('img[src="x"]').count() == 0
    page.goto(f"{base}/?period={PERIOD}&street={HANJIANG}")
    browser.wait_cards(page, 5)
    page.wait_for_timeout(500)
    assert dialogs == [] and page.locator('img[src="x"]').count() == 0
    page.goto(f"{base}/?period={PERIOD}")
    browser.wait_cards(page, 5)
    district = browser.settled_cards(page)
    # values that look like SQL are not codes: ignored, the view stays the district's
    for query in ("street=' OR '1'='1", "street=420606001000' OR '1'='1",
                  "street=1;DROP TABLE divisions", "community=x'--"):
        page.goto(f"{base}/?period={PERIOD}&{query}")
        browser.wait_cards(page, 5)
        assert browser.wait_for_cards(page, district) == district
        assert page.locator('[data-testid="stException"]').count() == 0
    page.goto(f"{base}/?street={HANJIANG}&period=2024-05' OR 1=1 --")
    browser.wait_cards(page, 3)  # a bad period falls back to the default one
    assert page.locator('[data-testid="stException"]').count() == 0
    ctx.close()
    eng = open_warehouse(f"sqlite:///{cfg.parent / 'warehouse.db'}")
    with eng.connect() as c:
        assert c.execute(text("SELECT count(*) FROM divisions")).scalar_one() > 200


def test_markdown_in_names_is_shown_as_text(chromium: Any,
                                            hostile: tuple[str, Path]) -> None:
    """Names are data: Markdown in them (bold, a javascript: link, italics, code, Streamlit's
    colour directive) reaches captions, buttons and the breadcrumb as the literal text."""
    base, _ = hostile
    ctx, page, dialogs = _page(chromium)
    page.goto(f"{base}/gov?period={PERIOD}&street={HANJIANG}&community={LIUGENG}")
    browser.wait_cards(page, 3)
    main = page.locator('[data-testid="stMain"]')
    # the page caption names the community; the breadcrumb has a button back to the street
    main.get_by_text(f"{MD_COMMUNITY} · {PERIOD}").wait_for()
    main.get_by_role("button", name=f"返回 {MD_STREET}").wait_for()
    assert main.locator('a[href^="javascript"]').count() == 0
    # (the breadcrumb shows the current area in bold: the whole name, not a piece of it)
    for tag, piece in (("strong", "粗体"), ("em", "斜体"), ("code", "code")):
        assert main.locator(tag, has_text=re.compile(f"^{piece}$")).count() == 0, tag
    assert dialogs == []
    ctx.close()


def test_single_sign_on_through_an_oidc_provider(
        chromium: Any, case_config: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    cfg = _copy(case_config, tmp_path_factory.mktemp("oidc"))
    provider = FakeOIDC().start()
    port = browser.free_port()
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('sign_in = "open"',
                                                           'sign_in = "required"')
                   + "\n[auth]\n"
                   f'client_id = "{provider.client_id}"\n'
                   'client_secret_env = "GZ_TEST_OIDC_SECRET"\n'
                   'cookie_secret_env = "GZ_TEST_COOKIE_SECRET"\n'
                   f'server_metadata_url = "{provider.base}/.well-known/openid-configuration"\n'
                   f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n',
                   encoding="utf-8")
    eng = open_warehouse(f"sqlite:///{cfg.parent / 'warehouse.db'}")
    accounts.add_user(eng, "leader@fancheng.example", None, "street_staff", HANJIANG,
                      "汉江街道 李主任")
    eng.dispose()
    env = {"GZ_TEST_OIDC_SECRET": provider.client_secret,
           "GZ_TEST_COOKIE_SECRET": "a-cookie-secret-for-the-test-only-0123456789"}
    try:
        with browser.serve(cfg, env=env, port=port, log=cfg.parent / "serve.log") as (base, _):
            ctx, page, _ = _page(chromium)
            page.goto(f"{base}/?period={PERIOD}")
            page.get_by_role("button", name="使用统一身份认证登录").click()
            browser.wait_cards(page, 3, timeout=30_000)  # back from the provider, signed in
            assert provider.token_requests == 1
            assert page.get_by_text("汉江街道 李主任").count() >= 1
            page.goto(f"{base}/?period={PERIOD}")  # the sign-in cookie stays
            browser.wait_for_cards(page, {"gov_online_case_rate": "25.0%"})
            assert browser.card_value(page, "gov.online_case_rate") == "25.0%"  # their street
            ctx.close()

            provider.user = {"sub": "someone", "email": "nobody@example.org", "name": "路人"}
            ctx, page, _ = _page(chromium)
            page.goto(f"{base}/?period={PERIOD}")
            page.get_by_role("button", name="使用统一身份认证登录").click()
            page.get_by_text("尚未开通本系统账户").wait_for()
            assert page.locator('[data-testid="stMetricValue"]').count() == 0
            ctx.close()
    finally:
        provider.stop()
