"""Personal data on pages and in exports: ID numbers and phones planted in a source are never
shown or exported in clear (the ingestion masks them; the pages only ever get masked values),
and staff cannot export another area."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from metrics.access import AccessDenied, Viewer
from tests.conftest import divisions_source, write_config
from tests.dashboard.conftest import APP, HANJIANG, WANGZHAI

KEY = "page-test-pseudonym-key-0123456789"
SECRETS = ["420606199001011239", "11010519491231002X", "420606199001011234", "13812348000",
           "13900001111", "13700001111", "张三丰", "欧阳娜娜"]
PAGES = ["screens/overview.py", "screens/vol.py", "screens/party.py", "screens/runs.py"]


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GONGZHI_PSEUDONYM_KEY", KEY)
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "v.csv").write_text(
        "志愿者编号,社区代码,注册时间,姓名,身份证号,手机号\n"
        "V1,420606001001,2024-01-02,张三丰,420606199001011239,13812348000\n"
        "V2,420606002001,2024-01-03,欧阳娜娜,11010519491231002X,+86 139-0000-1111\n"
        "V3,420606001001,2024-01-04,李四,420606199001011234,13700001111\n",  # bad ID
        encoding="utf-8")
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "s.csv").write_text(
        "record_id,volunteer_id,community_code,activity,started_at,hours,timebank\n"
        "R1,V1,420606001001,敬老助残,2024-05-03 09:00,2.5,true\n"
        "R2,V2,420606002001,政策宣讲,2024-05-04 09:00,3,false\n", encoding="utf-8")
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", [
        divisions_source(),
        {"id": "vols", "plugin": "files", "table": "volunteers", "path": "inbox/*.csv",
         "columns": {"志愿者编号": "volunteer_id", "社区代码": "community_code",
                     "注册时间": "registered_at", "姓名": "name", "身份证号": "id_number",
                     "手机号": "phone"}},
        {"id": "services", "plugin": "files", "table": "volunteer_services",
         "path": "services/*.csv"},
    ], '[dashboard]\nsign_in = "open"\n')
    from ingest.registry import load_validated
    from ingest.runner import Runner
    from warehouse.engine import open_warehouse

    settings = load_validated(cfg)
    engine = open_warehouse(settings.warehouse_url)
    results = Runner(settings, engine).run()
    assert all(r.ok for r in results) and results[1].quarantined == 1
    engine.dispose()
    return cfg


def _texts(at: AppTest) -> str:
    parts: list[str] = []
    for kind in ("markdown", "caption", "text", "info", "warning", "error", "success",
                 "title", "subheader", "header"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [e.value.to_csv() if hasattr(e.value, "to_csv") else str(e.value)
              for e in at.dataframe]  # every cell, untruncated
    return "\n".join(parts)


def test_no_clear_personal_value_on_any_page_or_export(planted: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGZHI_CONFIG", str(planted))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["period"] = "2024-05"
    at.run()
    shown = []
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        shown.append(_texts(at))
    text = "\n".join(shown)
    assert "invalid_id_number" in text and "420***********1234" in text  # quarantine, masked
    from dashboard import auth, data

    key = data.key(auth.current_user())
    for fmt in ("csv", "xlsx"):
        export = data.export_rows(key, "vol", data.district(key), "2024-05", "zh", fmt)
        assert export.height == 2
        text += export.write_csv()
    for secret in SECRETS:
        assert secret not in text, f"{secret} was shown or exported"


def test_staff_cannot_export_another_area(planted: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGZHI_CONFIG", str(planted))
    from dashboard import data

    staff = Viewer("wz", "street_staff", WANGZHAI)
    key = data.key(staff)
    own = data.export_rows(key, "vol", data.unit_scope(key, WANGZHAI), "2024-05", "zh", "csv")
    assert own.height == 1
    with pytest.raises(AccessDenied):
        data.export_rows(key, "vol", data.unit_scope(key, HANJIANG), "2024-05", "zh", "csv")
    with pytest.raises(AccessDenied):
        data.export_rows(key, "vol", data.district(key), "2024-05", "zh", "csv")
