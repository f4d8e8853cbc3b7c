"""The big screen left turning (shortened from ``make bench-screen``'s 30 minutes to 36
seconds, the domains turning every 2 s, the least the settings allow, so that each is on the
wall several times): the server's memory stays flat once every domain has been on the wall,
the wall keeps turning and never shows an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.bench_screen import BAR_GROWTH_MB, soak
from tests.dashboard import browser
from tests.dashboard.conftest import PERIOD, build_case_warehouse

pytestmark = [pytest.mark.browser, pytest.mark.serial]  # server memory over time


def test_36_seconds_of_turning_keep_the_server_flat(
        chromium: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    browser.require_browser()
    cfg = build_case_warehouse(tmp_path_factory.mktemp("screen_soak"))
    # (soak() opens its page in the shared ``chromium``)
    result = soak(Path(cfg), minutes=0.6, rotate=2.0, every=3.0, period=PERIOD,
                  log=cfg.parent / "serve.log")
    assert result["domains"] >= 4 and result["turns"] >= 8, result
    assert result["errors_seen"] == 0, result
    assert result["rss_growth_mb"] <= BAR_GROWTH_MB, result
