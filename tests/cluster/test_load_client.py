"""The protocol client of ``make bench-load`` against a real ``gongzhi serve``: one person
signs in, opens the overview and picks a street, speaking Streamlit's websocket protocol;
what it read must be what the metrics layer computes (so its timings are of real pages),
and a failed sign-in is counted as an error, not as a fast page."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmarks.bench_load_client import Visit, visit
from tests.dashboard import browser
from tests.dashboard.conftest import HANJIANG, PERIOD, build_case_warehouse
from tests.dashboard.test_e2e import expected_cards
from warehouse import accounts
from warehouse.engine import open_warehouse

# a real dashboard server (no browser is started); serial: it measures the server under load
pytestmark = [pytest.mark.browser, pytest.mark.serial]

PASSWORD = "client-test-password-2024"


def test_the_protocol_client_reads_the_real_pages(tmp_path: Path) -> None:
    cfg = build_case_warehouse(tmp_path)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('sign_in = "open"',
                                                           'sign_in = "required"'),
                   encoding="utf-8")
    engine = open_warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
    accounts.add_user(engine, "boss", PASSWORD, "leader", "420606000000")
    engine.dispose()

    async def both(base: str) -> tuple[Visit, Visit]:
        leave = asyncio.Event()
        leave.set()  # leave as soon as the steps are done
        good = await visit(base, "boss", PASSWORD, f"period={PERIOD}", leave)
        bad = await visit(base, "boss", "not-the-password", f"period={PERIOD}", leave)
        return good, bad

    with browser.serve(cfg, log=tmp_path / "serve.log") as (base, _):
        good, bad = asyncio.run(both(base))
    assert good.error is None, good
    assert good.street == "汉江街道"  # the first street
    assert sorted(good.cards) == sorted(expected_cards(cfg).values())
    street = expected_cards(cfg, "street", HANJIANG)
    assert sorted(good.street_cards) == sorted(street.values())
    assert all(t > 0 for t in good.times()) and len(good.times()) == 4
    assert bad.error and "登录失败" in bad.error and bad.overview_s is None
