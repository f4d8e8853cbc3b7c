"""The dashboard's parts on their own: strings, exports, drill-down callbacks, the data page,
and the rule that pages hold no SQL and no HTML with data."""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import i18n
from dashboard.components import exports
from tests.dashboard.conftest import GAOZHUANG, HANJIANG, PERIOD, WANGZHAI, shown

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


def test_every_string_has_chinese_and_english() -> None:
    for key, texts in i18n.STRINGS.items():
        assert set(texts) == set(i18n.LANGS), key
        assert all(texts[lang].strip() for lang in i18n.LANGS), key
        # the same placeholders in both languages
        assert set(re.findall(r"{(\w+)", texts["zh"])) == set(re.findall(r"{(\w+)", texts["en"]))


def test_every_key_the_code_uses_exists() -> None:
    used: set[str] = set()
    for path in DASHBOARD.rglob("*.py"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_0-9]+)["']""", path.read_text()))
    assert used, "no t(...) call found"
    assert used - set(i18n.STRINGS) == set()


def test_pages_hold_no_sql_and_no_unsafe_html() -> None:
    """Only the data layer (dashboard/data/) reads the warehouse (through metrics and runlog);
    no module builds SQL, and none renders HTML."""
    for path in DASHBOARD.rglob("*.py"):
        text = path.read_text()
        assert "unsafe_allow_html" not in text, path
        imports = set(re.findall(r"^\s*(?:from|import) ([\w.]+)", text, re.M))
        sql = {i for i in imports if i.startswith("sqlalchemy")}
        assert sql <= {"sqlalchemy.exc", "sqlalchemy.event"}, path
        assert "warehouse.schema" not in imports, path
        if "data" not in path.relative_to(DASHBOARD).parts:
            assert not imports & {"metrics.service", "metrics.views", "metrics.detail",
                                  "warehouse.runlog"}, path


def test_csv_export_is_utf8_with_bom_and_reads_back() -> None:
    frame = pl.DataFrame({"社区": ["高庄社区", "刘埂社区"], "办件编号": ["S1", "S2"]})
    data = exports.to_csv(frame)
    assert data.startswith(b"\xef\xbb\xbf")
    back = pl.read_csv(io.BytesIO(data[3:]))
    assert back.equals(frame)


def test_xlsx_export_reads_back() -> None:
    frame = pl.DataFrame({"社区": ["高庄社区"], "跑动次数": [2]})
    data = exports.to_xlsx(frame)
    assert data[:2] == b"PK"
    assert pl.read_excel(io.BytesIO(data)).equals(frame)


def _drill_script(kind: str, code: str, level: str) -> None:
    import streamlit as st

    from dashboard import state

    if "done" not in st.session_state:
        st.session_state["done"] = True
        if kind == "chart":
            st.session_state["fake"] = {"selection": {"pick": [{"key": code}]}}
            state.on_chart_select("fake", level)
        else:
            st.session_state["fake"] = {"selection": {"rows": [1]}}
            state.on_table_select("fake", ["x", code], level)
    st.write({k: st.session_state.get(v) for k, v in state.KEYS.items() if k in state.LEVELS})


@pytest.mark.parametrize("kind", ["chart", "table"])
def test_a_click_on_a_bar_or_row_narrows_the_filter(kind: str) -> None:
    at = AppTest.from_function(_drill_script, args=(kind, GAOZHUANG, "community")).run()
    assert not at.exception
    assert at.session_state["f_community"] == GAOZHUANG
    assert at.session_state["f_street"] == ""  # filled in from the community on the next run
    assert at.session_state["f_grid"] == ""


def test_drill_down_then_the_app_fills_in_the_street(app: AppTest) -> None:
    app.run()
    app.session_state["f_community"] = GAOZHUANG  # what a click on 高庄社区 leaves behind
    app.run()
    assert not app.exception
    assert app.query_params["street"] == HANJIANG
    assert app.query_params["community"] == GAOZHUANG


def test_detail_table_pages_and_exports(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    from metrics import detail

    app.run()
    app.switch_page("screens/gov.py").run()
    assert not app.exception and not app.error
    assert any("5 条记录" in c.value for c in app.caption)  # five May cases in the district
    rows = app.dataframe[-1].value
    assert list(rows["办件编号"]) == ["S5", "S4", "S3", "S2", "S1"]  # newest first
    assert {b.label for b in app.get("download_button")} == {"导出 Excel", "导出 CSV"}
    monkeypatch.setattr(detail, "EXPORT_CAP", 3)
    app.run()
    assert any("超过导出上限 3 条" in w.value for w in app.warning)


def test_data_page_lists_sources_runs_and_quarantine(app: AppTest, case_config: Path) -> None:
    from ingest.registry import load_validated
    from warehouse import runlog
    from warehouse.engine import make_engine, write_transaction

    engine = make_engine(load_validated(case_config).warehouse_url)
    run_id = runlog.list_runs(engine, limit=1)[0]["run_id"]
    with write_transaction(engine) as conn:
        runlog.add_quarantine(conn, run_id, "t_service_cases", "service_cases", pl.DataFrame({
            "origin": ["data/service_cases.csv"], "sheet": [None], "row_number": [9],
            "column_name": ["submitted_at"], "reason": ["bad_date"],
            "message": ["'2024-13-01' is not a date"], "raw": ['{"case_id": "S9"}']},
            schema_overrides={"sheet": pl.String}))
    app.run()
    app.switch_page("screens/runs.py").run()
    assert not app.exception and not app.error
    fresh, runs, quarantined = (app.dataframe[i].value for i in range(3))
    assert "t_service_cases" in set(fresh["数据源"])
    assert "t_service_cases" in set(runs["数据源"])
    assert list(quarantined["原因"]) == ["bad_date"]
    assert list(quarantined["原始数据"]) == ["case_id: S9"]
    app.selectbox(key="q_reason__zh").set_value("missing_value").run()
    assert any("隔离区为空" in i.value for i in app.info)
    # run now: a request for the scheduler, nothing ingested here
    before = len(runlog.list_runs(engine, limit=100))
    app.selectbox(key="run_source").set_value("t_grid_events")
    app.button[0].click().run()
    assert any("t_grid_events" in shown(s.value) for s in app.success)
    pending = runlog.pending_requests(engine)
    assert pending[0]["source"] == "t_grid_events" and pending[0]["requested_by"] == "demo"
    assert len(runlog.list_runs(engine, limit=100)) == before
    engine.dispose()


def test_period_in_url_is_kept(app: AppTest) -> None:
    app.run()
    assert app.query_params["period"] == PERIOD


def test_a_staff_viewer_sees_only_their_street(app: AppTest,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import auth, data
    from metrics.access import AccessDenied, Viewer

    staff = Viewer("wz", "street_staff", WANGZHAI)
    monkeypatch.setattr(auth, "current_user", lambda: staff)
    app.query_params["street"] = HANJIANG  # someone else's street: not shown
    app.run()
    assert not app.exception and not app.error
    assert app.query_params.get("street") == WANGZHAI  # pinned to their own street
    assert [m.value for m in app.metric if m.label.endswith("网办率")] == ["100.0%"]  # 王寨's
    assert set(app.selectbox(key="f_street__zh").options) == {"王寨街道"}
    # the data layer refuses the district even when a page asks for it
    key = data.key(staff)
    with pytest.raises(AccessDenied):
        data.overview(key, data.district(key), PERIOD)


def test_exports_and_person_level_views_are_audited(app: AppTest, case_config: Path) -> None:
    from dashboard import auth, data
    from ingest.registry import load_validated
    from warehouse import audit
    from warehouse.engine import make_engine

    engine = make_engine(load_validated(case_config).warehouse_url)
    before = len(audit.entries(engine))
    app.run()
    app.switch_page("screens/vol.py").run()
    assert not app.exception and not app.error
    app.run()  # the same rows again: not a new view
    views = audit.entries(engine)[: len(audit.entries(engine)) - before]
    assert [(v["action"], v["target"]) for v in views] == [("view_rows", "detail:vol")]
    key = data.key(auth.current_user())
    frame = data.export_rows(key, "gov", data.district(key), PERIOD, "zh", "csv")
    assert frame.height == 5
    last = audit.entries(engine, limit=1)[0]
    assert (last["action"], last["target"], last["row_count"]) == ("export",
                                                                   "detail:gov:csv", 5)
    engine.dispose()


def test_cached_pages_are_shared_by_role_and_area_not_by_person(
        app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import data
    from metrics import views
    from metrics.access import Viewer
    from metrics.compiler import Scope

    app.run()  # the app's config and warehouse
    computed: list[str] = []
    real = views.overview

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        computed.append(kwargs["viewer"].key())
        return real(*args, **kwargs)

    monkeypatch.setattr(views, "overview", counting)
    data._overview.clear()
    district = data.district_code()
    li, wang = Viewer("li", "leader", district), Viewer("wang", "leader", district, "王主任")
    first = data.overview(data.key(li), data.district(data.key(li)), PERIOD)
    again = data.overview(data.key(wang), data.district(data.key(wang)), PERIOD)
    assert computed == [f"leader:{district}"]  # the second leader is served the first's entry
    assert again.cards.equals(first.cards)
    # staff of a street get their own entry, computed for their area
    staff = Viewer("wz", "street_staff", WANGZHAI)
    mine = data.overview(data.key(staff), Scope("street", WANGZHAI, "王寨街道"), PERIOD)
    assert computed == [f"leader:{district}", f"street_staff:{WANGZHAI}"]
    assert not mine.cards.equals(first.cards)
    with pytest.raises(Exception, match="may not see"):
        data.overview(data.key(staff), data.district(data.key(staff)), PERIOD)


def test_text_filled_into_strings_is_escaped_for_markdown() -> None:
    name = "**x** [a](javascript:alert(1))\n# big"
    text = i18n.t("overview.caption", area=name, period="2024-05")
    assert shown(text) == "**x** [a](javascript:alert(1)) # big · 2024-05"
    assert "**" not in text and "](" not in text and "\n" not in text
    assert i18n.md(text) is text  # already safe: not escaped twice
    assert i18n.t("data.age_hours", h=2.25) == "2.2 小时前"  # numbers keep their format


def test_the_quarantine_filter_offers_every_reason_code(app: AppTest, case_config: Path) -> None:
    """The reason filter is derived from the reason codes: personal-data reasons included, each
    with a label in both languages."""
    from core import reasons
    from ingest.normalize import personal
    from ingest.registry import load_validated
    from warehouse import runlog
    from warehouse.engine import make_engine, write_transaction

    assert {personal.INVALID_ID, personal.INVALID_PHONE} <= set(reasons.CODES)
    for code in reasons.CODES:
        assert set(i18n.STRINGS[f"reason.{code}"]) == set(i18n.LANGS), code
    engine = make_engine(load_validated(case_config).warehouse_url)
    run_id = runlog.list_runs(engine, limit=1)[0]["run_id"]
    with write_transaction(engine) as conn:
        runlog.add_quarantine(conn, run_id, "t_volunteers", "volunteers", pl.DataFrame({
            "origin": ["data/volunteers.csv"], "sheet": [None], "row_number": [4],
            "column_name": ["id_number"], "reason": [personal.INVALID_ID],
            "message": ["ID number 420***********1234 fails its check"],
            "raw": ['{"volunteer_id": "V9"}']}, schema_overrides={"sheet": pl.String}))
    engine.dispose()
    app.run()
    app.switch_page("screens/runs.py").run()
    box = app.selectbox(key="q_reason__zh")
    assert len(box.options) == len(reasons.CODES) + 1  # "all" and every code
    box.set_value(personal.INVALID_ID).run()
    assert not app.exception
    rows = next(d.value for d in app.dataframe if "原因" in d.value.columns)  # quarantine
    assert list(rows["原因"]) == [personal.INVALID_ID]
    app.selectbox(key="q_reason__zh").set_value(personal.INVALID_PHONE).run()
    assert any("隔离区为空" in i.value for i in app.info)
