"""Many dashboard servers, one database cluster, on 127.0.0.1: the shared PostgreSQL server
(5432) is the primary the loads write; a hot standby made with pg_basebackup is where two
``gongzhi serve`` processes read (``[warehouse] read_url``); nginx, from
``deploy/nginx/gongzhi.conf``, routes each browser to one of them. Headless Chromium is the
person.

1. New figures loaded on the primary reach the people through nginx by replication alone;
   while the standby lags, every card shows the standby's figures with their own freshness.
2. A dashboard server, then the standby, then every server going away: what people see
   (their page moves to the other server and stays signed in; a clear message without a
   traceback; the nginx page) and that it comes back by itself.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.cluster import cluster
from tests.conftest import PG_ADMIN_URL
from tests.dashboard import browser
from tests.dashboard.conftest import PERIOD, merged_case
from tests.metrics.harness import materialize
from warehouse import accounts

pytestmark = [pytest.mark.postgres, pytest.mark.browser, pytest.mark.serial]  # a standby

PASSWORD = "cluster-test-password-2024"
TITLE = "登录"
UNREACHABLE = "暂时无法连接数据库只读副本"
OLD_LOAD = "2024-05-31T02:00:00"  # last night's load, 10:00 in Asia/Shanghai
# a card whose value the new case changes (see tests/metrics/cases/gov.yaml: 2 of 5 online)
CARD = "gov_online_case_rate"


@dataclass
class Dashboard:
    """One ``gongzhi serve`` on a fixed port, stopped and started by the tests."""

    config: Path
    port: int
    log: Path
    env: dict[str, str]
    stack: ExitStack = field(default_factory=ExitStack)

    def start(self) -> None:
        self.stack.enter_context(browser.serve(self.config, env=self.env, port=self.port,
                                               log=self.log))

    def stop(self) -> None:
        self.stack.close()
        self.stack = ExitStack()


@dataclass
class Cluster:
    config: Path
    folder: Path
    primary: Engine
    standby: cluster.Standby
    dashboards: list[Dashboard]
    base: str
    access_log: Path
    routes: dict[int, str]  # dashboard port -> a gz_route cookie nginx sends there


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    browser.require_browser()
    folder = tmp_path_factory.mktemp("cluster")
    schema = f"c_{uuid.uuid4().hex[:12]}"
    admin = cluster.admin()
    with ExitStack() as stack:
        node = stack.enter_context(cluster.standby())
        with admin.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        stack.callback(_drop_schema, admin, schema)
        options = f"?options=-csearch_path%3D{schema}"
        url = PG_ADMIN_URL + options
        m = materialize(merged_case(), folder, url)
        m.engine.dispose()
        primary = create_engine(url, pool_pre_ping=True)
        stack.callback(primary.dispose)
        with primary.begin() as c:  # the data came last night, not a second ago
            c.execute(text("UPDATE warehouse_meta SET value = :v WHERE key LIKE 'loaded:%'"),
                      {"v": OLD_LOAD})
        accounts.add_user(primary, "zhang", PASSWORD, "leader", "420606000000", "区领导 张")
        config = folder / "gongzhi.toml"
        text_cfg = config.read_text(encoding="utf-8").replace(
            "[warehouse]\n", f'[warehouse]\nread_url = "{node.url(options)}"\n', 1)
        config.write_text(text_cfg + '\n[dashboard]\nsign_in = "required"\n', encoding="utf-8")
        cluster.wait_replayed(admin, node.engine())

        env = {"GONGZHI_REFRESH_SECONDS": "1", "GONGZHI_REFRESH_SPREAD_SECONDS": "0",
               "GONGZHI_RETRY_SECONDS": "1"}
        dashboards = [Dashboard(config, browser.free_port(), folder / f"serve{i}.log", env)
                      for i in (1, 2)]
        for d in dashboards:
            d.start()
            stack.callback(d.stop)
        ports = [d.port for d in dashboards]
        base, access = stack.enter_context(cluster.nginx(folder / "nginx", ports))
        routes = cluster.route_keys(base, access, ports)
        yield Cluster(config, folder, primary, node, dashboards, base, access, routes)


def _drop_schema(admin: Engine, schema: str) -> None:
    with admin.connect() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser.chromium() as b:
        yield b


def person(chromium: Any, c: Cluster, port: int) -> tuple[Any, Any]:
    """A browser profile whose requests nginx routes to the dashboard on ``port``."""
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    ctx.add_cookies([{"name": "gz_route", "value": c.routes[port], "url": c.base}])
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    return ctx, page


def sign_in(page: Any, c: Cluster) -> None:
    page.goto(f"{c.base}/?period={PERIOD}")
    page.get_by_role("heading", name=TITLE).wait_for()
    page.get_by_label("用户名").fill("zhang")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    browser.wait_cards(page, 5)


def expected(engine_url: str) -> tuple[dict[str, str], dict[str, str]]:
    """What the district's overview cards must show from the database at ``engine_url``:
    values and freshness lines, computed straight from metrics."""
    from metrics import format as fmt
    from metrics import periods, views
    from metrics.service import Metrics

    m = Metrics(create_engine(engine_url))
    try:
        ov = views.overview(m, m.district(), periods.parse(PERIOD))
        rows = [r for r in ov.cards.to_dicts() if "district" in m.catalog.get(r["kpi"]).scopes]
        values = {r["kpi"].replace(".", "_"): fmt.value(r["value"], r["unit"], "zh")
                  for r in rows}
        fresh = {r["kpi"].replace(".", "_"): f"数据更新于 {fmt.fresh(r['fresh_at'], 'zh')}"
                 for r in rows}
        return values, fresh
    finally:
        m.engine.dispose()


FRESH_JS = """k => document.querySelector(`.st-key-card_${k}`)?.innerText || ''"""


def clean(page: Any) -> None:
    """No traceback and no Streamlit exception box anywhere on the page."""
    assert page.locator('[data-testid="stException"]').count() == 0
    body = page.inner_text("body")
    assert "Traceback" not in body and "psycopg" not in body and "sqlalchemy" not in body


def add_case(c: Cluster) -> None:
    """A new online case, loaded on the primary by the real runner (as the scheduler would)."""
    from ingest.registry import load_validated
    from ingest.runner import Runner
    from metrics.catalog import load_catalog
    from metrics.rollup import RollupObserver
    from warehouse.engine import open_warehouse

    cases = c.folder / "data" / "service_cases.csv"
    header = cases.read_text(encoding="utf-8").splitlines()[0].split(",")
    with cases.open("a", encoding="utf-8", newline="") as f:
        row = {"case_id": "S9", "item_code": "I1", "community_code": "420606001001",
               "channel": "online", "submitted_at": "2024-05-21 10:00", "status": "accepted",
               "visits": "0"}
        csv.writer(f).writerow([row.get(h, "") for h in header])
    settings = load_validated(c.config)
    engine = open_warehouse(settings.warehouse_url)
    try:
        [result] = Runner(settings, engine, observers=[RollupObserver(load_catalog())]).run(
            ["t_service_cases"])
    finally:
        engine.dispose()
    assert result.ok and result.loaded >= 1, result


def test_new_figures_reach_people_through_nginx_by_replication(chromium: Any,
                                                               setup: Cluster) -> None:
    c = setup
    standby_url = c.standby.url(f"?options=-csearch_path%3D{_schema(c)}")
    before, fresh_before = expected(str(c.primary.url.render_as_string(hide_password=False)))
    assert before[CARD] == "40.0%"
    people = [person(chromium, c, d.port) for d in c.dashboards]
    try:
        for (_, page), d in zip(people, c.dashboards, strict=True):
            sign_in(page, c)
            assert browser.wait_for_cards(page, before) == before
            assert cluster.served_by(c.access_log, c.routes[d.port]) == {d.port}
            clean(page)

        # the standby stops replaying (a lagging replica) while a run lands on the primary
        node = c.standby.engine()
        with node.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_pause()"))
        try:
            add_case(c)
            after, fresh_after = expected(c.primary.url.render_as_string(hide_password=False))
            assert after[CARD] == "50.0%" and fresh_after[CARD] != fresh_before[CARD]
            # what the standby holds is still the old data, with the old freshness
            assert expected(standby_url) == (before, fresh_before)
            for _, page in people:
                page.wait_for_timeout(2500)  # two live-refresh ticks
                assert browser.cards(page) == before
                card_text = page.evaluate(FRESH_JS, CARD)
                assert fresh_before[CARD] in card_text and fresh_after[CARD] not in card_text
        finally:
            with node.connect() as conn:
                conn.execute(text("SELECT pg_wal_replay_resume()"))
        cluster.wait_replayed(cluster.admin(), node)
        node.dispose()
        # replication alone brings the new figures and their freshness, without a reload
        for _, page in people:
            page.evaluate("window.__not_reloaded = true")
        for _, page in people:
            assert browser.wait_for_cards(page, after) == after
            page.wait_for_function(f"want => ({FRESH_JS})('{CARD}').includes(want)",
                                   arg=fresh_after[CARD], timeout=15_000)
            assert page.evaluate("window.__not_reloaded") is True
            clean(page)
    finally:
        for ctx, _ in people:
            ctx.close()


def _schema(c: Cluster) -> str:
    with c.primary.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar_one())


def test_a_server_and_the_standby_going_away(chromium: Any, setup: Cluster) -> None:
    c = setup
    first, second = c.dashboards
    want, _ = expected(c.standby.url(f"?options=-csearch_path%3D{_schema(c)}"))
    ctx, page = person(chromium, c, first.port)
    try:
        sign_in(page, c)
        assert browser.wait_for_cards(page, want) == want

        # 1. its dashboard server stops: the page reconnects through nginx to the other one,
        # still signed in, and draws the same cards
        first.stop()
        page.wait_for_timeout(1000)
        page.reload()
        assert browser.wait_for_cards(page, want) == want
        assert page.get_by_role("heading", name=TITLE).count() == 0  # not asked to sign in
        assert second.port in cluster.served_by(c.access_log, c.routes[first.port])
        clean(page)

        # 2. the standby stops: the cards on screen stay, with a line saying why they do not
        # move; a reload shows a clear message (still signed in: sessions live on the primary)
        c.standby.stop()
        page.get_by_text(UNREACHABLE).first.wait_for(timeout=20_000)
        assert browser.cards(page) == want
        clean(page)
        page.reload()
        page.get_by_text(UNREACHABLE).first.wait_for(timeout=30_000)
        assert page.locator('[data-testid="stMetricValue"]').count() == 0
        assert page.get_by_role("heading", name=TITLE).count() == 0
        clean(page)

        # 3. the standby returns: the page draws its cards by itself, without a reload
        page.evaluate("window.__not_reloaded = true")
        c.standby.start()
        assert browser.wait_for_cards(page, want, timeout=30_000) == want
        assert page.evaluate("window.__not_reloaded") is True
        assert page.get_by_text(UNREACHABLE).count() == 0
        clean(page)

        # 4. every dashboard server down: nginx's page says so, in Chinese, and nothing else
        second.stop()
        response = page.goto(f"{c.base}/?period={PERIOD}")
        assert response is not None and response.status == 502
        assert "服务暂时不可用" in page.inner_text("body")
        clean(page)

        # 5. they come back: the same browser is signed in and sees its cards
        first.start()
        second.start()
        page.goto(f"{c.base}/?period={PERIOD}")
        assert browser.wait_for_cards(page, want) == want
        assert page.get_by_role("heading", name=TITLE).count() == 0
        clean(page)
    finally:
        ctx.close()
