"""Every page under AppTest: no exception, numbers that follow the filters, and filters that
round-trip through the URL's query parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import (
    APP,
    GAOZHUANG,
    HANJIANG,
    LIUGENG,
    PERIOD,
    SHIYING,
    WANGZHAI,
    shown,
)

PAGES = ["screens/overview.py", "screens/gov.py", "screens/grid.py", "screens/vol.py",
         "screens/party.py", "screens/runs.py"]


def cards(at: AppTest) -> dict[str, str]:
    """KPI card label (without its status mark) → the value shown."""
    return {m.label.split(" ", 1)[1]: m.value for m in at.metric}


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_error(app: AppTest, page: str) -> None:
    app.run()
    assert_clean(app)
    app.switch_page(page).run()
    assert_clean(app)
    assert app.title[0].value
    if page != "screens/runs.py":
        assert len(app.metric) >= 3  # KPI cards drawn
        assert all(m.value for m in app.metric)


def test_overview_cards_show_the_case_numbers(app: AppTest) -> None:
    app.run()
    shown = cards(app)
    assert shown["网办率"] == "40.0%"  # 2 of 5 May cases online
    assert shown["可网办率"] == "75.0%"  # 3 of 4 catalogue items
    assert shown["物业费收缴率"] == "86.7%"  # 260 / 300 households
    assert app.title[0].value == "总览"


def test_a_street_filter_changes_the_numbers_and_the_url(app: AppTest) -> None:
    app.run()
    assert cards(app)["网办率"] == "40.0%"
    app.selectbox(key="f_street__zh").set_value(HANJIANG).run()
    assert_clean(app)
    shown = cards(app)
    assert shown["网办率"] == "25.0%"  # 1 of 4 in 汉江街道
    assert "可网办率" not in shown  # a district-only KPI has no card on a street
    assert app.query_params["street"] == HANJIANG
    assert app.query_params["period"] == PERIOD
    # the community select now lists 汉江街道's communities only
    options = app.selectbox(key="f_community__zh").options
    assert "高庄社区" in options and "施营社区" not in options


def test_a_period_change_changes_the_numbers(app: AppTest) -> None:
    app.run()
    app.selectbox(key="f_period__zh").set_value("2024-04").run()
    assert_clean(app)
    assert cards(app)["网办率"] == "0.0%"  # April's only case was at the window
    assert app.query_params["period"] == "2024-04"
    app.segmented_control(key="f_grain__zh").set_value("quarter").run()
    assert app.query_params["period"] == "2024-Q2"
    assert cards(app)["网办率"] == "42.9%"  # 3 of 7 in Q2


def test_query_parameters_round_trip(app: AppTest) -> None:
    app.query_params.update({"street": HANJIANG, "community": LIUGENG, "lang": "en"})
    app.run()
    assert_clean(app)
    assert app.selectbox(key="f_street__en").value == HANJIANG
    assert app.selectbox(key="f_community__en").value == LIUGENG
    assert app.title[0].value == "Overview"
    assert dict(app.query_params) | {"kpi": None} == {
        "street": HANJIANG, "community": LIUGENG, "period": PERIOD, "lang": "en", "kpi": None}
    # the same link in a new session shows the same view
    again = AppTest.from_file(str(APP), default_timeout=60)
    again.query_params.update(dict(app.query_params))
    again.run()
    assert cards(again) == cards(app)


def test_a_street_change_drops_a_community_not_in_it(app: AppTest) -> None:
    app.query_params.update({"street": HANJIANG, "community": GAOZHUANG})
    app.run()
    app.selectbox(key="f_street__zh").set_value(WANGZHAI).run()
    assert_clean(app)
    assert app.selectbox(key="f_community__zh").value in ("", None)
    assert "community" not in app.query_params
    app.selectbox(key="f_community__zh").set_value(SHIYING).run()
    assert app.query_params["community"] == SHIYING
    assert cards(app)["网办率"] == "100.0%"  # 施营社区: its one May case was online


def test_links_with_wrong_or_partial_filters_are_repaired(app: AppTest) -> None:
    # a bad period falls back to a valid one
    app.query_params.update({"street": WANGZHAI, "period": "2024-13"})
    app.run()
    assert_clean(app)
    assert app.query_params["period"] != "2024-13"
    # a link naming only a community selects its street as well
    other = AppTest.from_file(str(APP), default_timeout=60)
    other.query_params.update({"community": GAOZHUANG, "period": PERIOD})
    other.run()
    assert other.query_params["street"] == HANJIANG
    assert other.selectbox(key="f_community__zh").value == GAOZHUANG


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_link_naming_areas_that_do_not_nest_names_both(app: AppTest, lang: str) -> None:
    # 高庄社区 is in 汉江街道: a link pairing it with 王寨街道 is an error naming the three
    # areas, with no figures for either (never a silent answer for one of them)
    app.query_params.update({"street": WANGZHAI, "community": GAOZHUANG, "lang": lang})
    app.run()
    assert not app.exception
    errors = [shown(e.value) for e in app.error]
    assert len(errors) == 1 and not app.metric
    assert all(name in errors[0] for name in ("高庄社区", "王寨街道", "汉江街道"))
    assert ("不在街道" if lang == "zh" else "not in street") in errors[0]
    # the street stays chosen; the next choice shows figures again
    assert app.selectbox(key=f"f_street__{lang}").value == WANGZHAI
    app.selectbox(key=f"f_community__{lang}").set_value(SHIYING).run()
    assert_clean(app)
    assert cards(app)["网办率" if lang == "zh" else "Online case rate"] == "100.0%"
    # a grid under another community, through the URL as well
    other = AppTest.from_file(str(APP), default_timeout=60)
    other.query_params.update({"community": LIUGENG, "grid": "420606001001001",
                               "period": PERIOD})
    other.run()
    assert not other.exception and not other.metric
    assert "刘埂社区" in shown(other.error[0].value) and "高庄社区" in shown(other.error[0].value)


def test_the_breadcrumb_widens_the_view_again(app: AppTest) -> None:
    app.query_params.update({"street": HANJIANG, "community": GAOZHUANG})
    app.run()
    app.button(key="up_street").click().run()
    assert "community" not in app.query_params and app.query_params["street"] == HANJIANG
    app.button(key="up_district").click().run()
    assert "street" not in app.query_params
    assert cards(app)["网办率"] == "40.0%"


def test_language_switch_translates_titles_cards_and_navigation(app: AppTest) -> None:
    app.run()
    app.segmented_control(key="f_lang").set_value("en").run()
    assert_clean(app)
    assert app.title[0].value == "Overview"
    assert cards(app)["Online case rate"] == "40.0%"
    assert app.query_params["lang"] == "en"
    app.switch_page("screens/gov.py").run()
    assert app.title[0].value == "Government services"
    app.segmented_control(key="f_lang").set_value("zh").run()
    assert app.title[0].value == "政务服务" and "lang" not in app.query_params


def test_domain_page_kpi_choice_is_in_the_url(app: AppTest) -> None:
    app.run()
    app.switch_page("screens/gov.py").run()
    app.selectbox(key="kpi_gov__zh").set_value("gov.online_case_rate").run()
    assert app.query_params["kpi"] == "gov.online_case_rate"
    # the overview's ranking and the domain tables list the streets
    table = app.dataframe[0].value
    assert set(table.iloc[:, 0]) == {"汉江街道", "王寨街道"}
    app.switch_page("screens/runs.py").run()
    assert "kpi" not in app.query_params  # a page without a KPI choice drops it


def test_the_party_page_shows_party_and_civic_kpis(app: AppTest) -> None:
    app.run()
    app.switch_page("screens/party.py").run()
    assert_clean(app)
    shown = cards(app)
    assert shown["双报到党员数"] == "2"
    assert shown["议事协商议题数"] == "2"
    assert shown["物业费收缴率"] == "86.7%"


def test_grid_level_drill_down_via_the_url(app: AppTest) -> None:
    app.query_params.update({"grid": "420606001001001"})
    app.run()
    app.switch_page("screens/grid.py").run()
    assert_clean(app)
    assert app.query_params["community"] == GAOZHUANG
    assert cards(app)["上报事件数"] == "2"  # two May events in 高庄社区第1网格


def test_the_grid_page_shows_buildings_heads_and_party_member_workers(app: AppTest) -> None:
    """五级 on the 网格 page: cards for the four KPIs and their section, the district's values
    in a line and the streets × those KPIs. The case (tests/metrics/cases/grid.yaml) has two
    buildings in 高庄社区第2网格 (汉江街道), one with a head; grid workers W1 (a party member,
    汉江), W2 (汉江) and W4 (王寨)."""
    app.run()
    app.switch_page("screens/grid.py").run()
    assert_clean(app)
    shown_cards = cards(app)
    assert shown_cards["楼栋长覆盖率"] == "50.0%"  # 1 of 2 buildings
    assert shown_cards["楼栋长人均联系户数"] == "210 户"  # 120 + 90 households, 1 head
    assert shown_cards["党员网格员占比"] == "33.3%"  # 1 of 3 workers
    assert shown_cards["有党员网格员的网格数"] == "1"
    assert "五级网格：楼栋长与党员网格员" in [h.value for h in app.subheader]
    line = next(shown(m.value) for m in app.markdown if "楼栋长覆盖率" in shown(m.value))
    assert "楼栋长覆盖率 **50.0%**" in line and "党员网格员占比 **33.3%**" in line
    table = next(d.value for d in app.dataframe if "楼栋长覆盖率" in d.value.columns)
    rows = {r.iloc[0]: r for _, r in table.iterrows()}
    assert set(rows) == {"汉江街道", "王寨街道"}
    assert rows["汉江街道"]["楼栋长覆盖率"].endswith("50.0%")
    assert rows["王寨街道"]["楼栋长覆盖率"] == "—"  # no buildings registered there
    assert rows["汉江街道"]["党员网格员占比"].endswith("50.0%")  # W1 of W1, W2
    assert rows["王寨街道"]["党员网格员占比"].endswith("0.0%")  # W4 is not a member
    assert "上报事件数" not in table.columns  # only the section's KPIs


def test_empty_warehouse_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    from tests.conftest import write_config
    from warehouse.engine import open_warehouse

    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}", [],
                       '[dashboard]\nsign_in = "open"\n')
    open_warehouse(f"sqlite:///{tmp_path / 'empty.db'}").dispose()
    monkeypatch.setenv("GONGZHI_CONFIG", str(cfg))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["还没有数据，请先运行 gongzhi ingest。"]
    at.switch_page("screens/runs.py").run()  # the data page still works
    assert not at.exception and not at.error


def card_parts(at: AppTest) -> dict[str, tuple[str, str]]:
    """KPI card label → (badge, caption) as the card shows them."""
    out: dict[str, tuple[str, str]] = {}

    def walk(node: Any) -> None:
        kids = list(getattr(node, "children", {}).values())
        metric = [k for k in kids if getattr(k, "type", "") == "metric"]
        if metric:
            texts = [shown(str(k.value)) for k in kids if getattr(k, "type", "") in
                     ("markdown", "caption")]
            out[shown(metric[0].label).split(" ", 1)[1]] = (texts[0], texts[1])
        for k in kids:
            walk(k)

    walk(at.main)
    return out


def trend_marks(at: AppTest) -> list[str]:
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    return [layer["mark"]["type"] for layer in spec["layer"]]


def test_a_district_count_target_is_neither_shown_nor_coloured_for_a_community(
        app: AppTest) -> None:
    from dashboard import auth, data

    app.query_params["kpi"] = "party.checked_in_members"
    app.run()
    badge, caption = card_parts(app)["双报到党员数"]
    assert caption.startswith("目标 ≥ 5,000")  # the district's own target
    app.switch_page("screens/party.py").run()
    assert "rule" in trend_marks(app)  # the target line
    app.switch_page("screens/overview.py").run()
    app.selectbox(key="f_street__zh").set_value(HANJIANG).run()
    app.selectbox(key="f_community__zh").set_value(GAOZHUANG).run()
    assert_clean(app)
    parts = card_parts(app)
    badge, caption = parts["双报到党员数"]
    assert "5,000" not in caption and caption.startswith("目标适用于区级")
    assert badge == ":gray-badge[本级不设目标，不评色]"
    assert parts["网办率"][1].startswith("目标 ≥ 60.0%")  # a ratio's target holds everywhere
    app.switch_page("screens/party.py").run()
    assert "rule" not in trend_marks(app)
    # the district's ranking of streets and its board carry no count target either
    key = data.key(auth.current_user())
    ov = data.overview(key, data.district(key), PERIOD)
    members = ov.ranking.filter(pl.col("kpi") == "party.checked_in_members")
    assert members.height > 0 and members["target"].is_null().all()
    assert members["status"].is_null().all()
    assert "party.checked_in_members" not in ov.board["kpi"].to_list()
    assert "gov.online_case_rate" in ov.board["kpi"].to_list()
