"""Where the dashboard opens: on the latest month with data in the viewer's area (a district
whose history ends before the calendar's last month does not open on 无数据), saying so; a
period in the link still wins."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from metrics.access import Viewer
from tests.conftest import divisions_source, write_config
from tests.dashboard.conftest import APP, GAOZHUANG, SHIYING, WANGZHAI, shown

# 汉江街道 (高庄社区) reported until the first half hour of July 2024, local time (still
# June in UTC); 王寨街道 (施营社区) stopped in March 2024.
CASES = [("C1", GAOZHUANG, "2024-05-10 09:00", "online"),
         ("C2", GAOZHUANG, "2024-06-12 10:00", "window"),
         ("C3", GAOZHUANG, "2024-07-01 00:30", "online"),
         ("C4", SHIYING, "2024-02-03 09:00", "online"),
         ("C5", SHIYING, "2024-03-28 16:00", "window")]


def latest_local_month(codes: set[str]) -> str:
    """Independently of the warehouse: the latest local month among the cases of ``codes``."""
    times = [dt.datetime.strptime(t, "%Y-%m-%d %H:%M") for _, c, t, _ in CASES if c in codes]
    return f"{max(times):%Y-%m}"


@pytest.fixture(params=["facts", "rollups"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "c.csv").write_text(
        "case_id,item_code,community_code,channel,submitted_at,status\n" + "".join(
            f"{cid},I1,{code},{channel},{at},accepted\n" for cid, code, at, channel in CASES),
        encoding="utf-8")
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", [
        divisions_source(),
        {"id": "cases", "plugin": "files", "table": "service_cases", "path": "cases/*.csv"},
    ], '[dashboard]\nsign_in = "open"\n')
    from ingest.registry import load_validated
    from ingest.runner import Runner
    from metrics.catalog import load_catalog
    from metrics.rollup import RollupObserver, ensure_rollups
    from warehouse.engine import open_warehouse

    settings = load_validated(cfg)
    engine = open_warehouse(settings.warehouse_url)
    observers = []
    if request.param == "rollups":  # months from the monthly rollups, as in production
        catalog = load_catalog()
        ensure_rollups(engine, catalog)
        observers = [RollupObserver(catalog)]
    results = Runner(settings, engine, observers=observers).run()
    assert all(r.ok for r in results) and results[1].loaded == len(CASES)
    engine.dispose()
    return cfg


def _app(config: Path, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    monkeypatch.setenv("GONGZHI_CONFIG", str(config))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(params)
    return at.run()


def _note(at: AppTest) -> list[str]:
    return [shown(c.value) for c in at.caption if "有数据的最近月份" in c.value]


def test_opens_on_the_latest_month_with_data_and_says_so(
        config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(config, monkeypatch)
    assert not at.exception and not at.error
    want = latest_local_month({GAOZHUANG, SHIYING})
    assert want == "2024-07"
    assert at.query_params["period"] == want and at.session_state["f_period"] == want
    assert at.session_state["f_grain"] == "month"
    note = _note(at)
    assert len(note) == 1 and want in note[0]
    # that month's figures, not 无数据: one case in July, online
    assert {m.label.split(" ", 1)[1]: m.value for m in at.metric}["网办率"] == "100.0%"
    # another period chosen: the note goes, the choice stays
    at.selectbox(key="f_period__zh").set_value("2024-06").run()
    assert at.query_params["period"] == "2024-06" and not _note(at)


def test_staff_open_on_their_own_areas_latest_month(
        config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import auth

    monkeypatch.setattr(auth, "current_user",
                        lambda: Viewer("wz", "street_staff", WANGZHAI))
    at = _app(config, monkeypatch)
    assert not at.exception and not at.error
    want = latest_local_month({SHIYING})
    assert want == "2024-03" and at.query_params["period"] == want
    assert len(_note(at)) == 1


def test_a_period_in_the_link_wins(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(config, monkeypatch, period="2024-05")
    assert at.query_params["period"] == "2024-05" and not _note(at)
    at = _app(config, monkeypatch, period="2024-Q1")
    assert at.query_params["period"] == "2024-Q1" and not _note(at)
