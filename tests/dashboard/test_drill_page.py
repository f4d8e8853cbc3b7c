"""The drill-through page and its loaders: the rows behind a figure, only inside the viewer's
area (data layer and URL parameters), every view and export audited."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from metrics.access import AccessDenied, Viewer
from tests.dashboard.conftest import APP, HANJIANG, PERIOD, WANGZHAI
from warehouse import accounts, audit
from warehouse.engine import open_warehouse

PASSWORD = "hanjiang-staff-2024"
KPI = "gov.online_case_rate"


@pytest.fixture
def secured(case_config: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the case warehouse that requires sign-in, with a 汉江街道 staff account."""
    folder = tmp_path / "secured"
    shutil.copytree(case_config.parent, folder)
    cfg = folder / "gongzhi.toml"
    text = cfg.read_text(encoding="utf-8").replace('sign_in = "open"', 'sign_in = "required"')
    cfg.write_text(text.replace(str(case_config.parent), str(folder)), encoding="utf-8")
    eng = open_warehouse(f"sqlite:///{folder / 'warehouse.db'}")
    accounts.add_user(eng, "hj", PASSWORD, "street_staff", HANJIANG, "汉江街道 小王")
    eng.dispose()
    yield cfg


def _drill_app(cfg: Path, monkeypatch: pytest.MonkeyPatch, **params: str) -> AppTest:
    monkeypatch.setenv("GONGZHI_CONFIG", str(cfg))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["period"] = PERIOD
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page("screens/drill.py")
    return at


def _rows(at: AppTest) -> list[str]:
    frame = next(d.value for d in at.dataframe if "办件编号" in d.value.columns)
    return sorted(frame["办件编号"].tolist())


def test_the_page_shows_the_rows_behind_the_part_in_the_url(
        case_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _drill_app(case_config, monkeypatch, street=HANJIANG, kpi=KPI, part="denominator")
    at.run()
    assert not at.exception and not at.error
    assert _rows(at) == ["S1", "S2", "S3", "S4"]  # every 汉江街道 case of May
    assert any("共 4 条记录" in c.value for c in at.caption)
    at = _drill_app(case_config, monkeypatch, street=HANJIANG, kpi=KPI, part="numerator")
    at.run()
    assert _rows(at) == ["S1"]  # online only
    at = _drill_app(case_config, monkeypatch, kpi=KPI, part="denominator", dim="channel",
                    key="online")
    at.run()
    assert _rows(at) == ["S1", "S5"]  # one group of the breakdown, the whole district


def test_staff_see_only_their_own_areas_rows_whatever_the_url_says(
        secured: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.dashboard.test_signin import sign_in

    for params in ({"street": WANGZHAI}, {"community": "420606002001"}, {}):
        at = _drill_app(secured, monkeypatch, kpi=KPI, part="denominator", **params)
        at = sign_in(at, "hj", PASSWORD)
        at.switch_page("screens/drill.py").run()
        assert not at.exception
        assert _rows(at) == ["S1", "S2", "S3", "S4"], params  # 汉江街道's, never S5 (王寨)
        assert all("王寨" not in c.value for c in at.caption)


def test_the_loaders_refuse_another_area_and_audit_views_and_exports(
        case_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGZHI_CONFIG", str(case_config))
    from dashboard import data

    staff = Viewer("wz", "street_staff", WANGZHAI)
    key = data.key(staff)
    own = data.unit_scope(key, WANGZHAI)
    assert data.drill_total(key, KPI, "denominator", own, PERIOD) == 1
    page = data.drill_page(key, KPI, "denominator", own, PERIOD, None, None, 0, 50, "zh")
    assert page["办件编号"].to_list() == ["S5"]
    for other in (data.unit_scope(key, HANJIANG), data.district(key)):
        with pytest.raises(AccessDenied):
            data.drill_total(key, KPI, "denominator", other, PERIOD)
        with pytest.raises(AccessDenied):
            data.drill_page(key, KPI, "denominator", other, PERIOD, None, None, 0, 50, "zh")
        with pytest.raises(AccessDenied):
            data.drill_export(key, KPI, "denominator", other, PERIOD, None, None, "zh", "csv")
    before = len(audit.entries(data.metrics().engine, limit=10_000))
    data.audit_drill(key, KPI, "denominator", own, PERIOD, None, None, 0, page.height)
    out = data.drill_export(key, KPI, "denominator", own, PERIOD, None, None, "zh", "xlsx")
    assert out["办件编号"].to_list() == ["S5"]
    log = audit.entries(data.metrics().engine, limit=2)
    assert len(audit.entries(data.metrics().engine, limit=10_000)) == before + 2
    assert [(e["action"], e["target"], e["row_count"]) for e in log] == [
        (audit.EXPORT, f"drill:{KPI}:denominator", 1),
        (audit.VIEW_ROWS, f"drill:{KPI}:denominator", 1)]
    assert all(e["username"] == "wz" and WANGZHAI in e["filters"] for e in log)
