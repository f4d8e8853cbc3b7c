"""The party page's 两委三色研判 table and 议事协商 by mechanism, and the overview board's
assessment column, against the case rows (tests/metrics/cases/committees.yaml and
party_civic.yaml) counted here independently of the code."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pyarrow as pa
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import HANJIANG
from tests.metrics.harness import CASES, load_case

COLOUR_ZH = {"red": "红色", "yellow": "黄色", "blue": "蓝色"}
NAMES = {"420606001001": "高庄社区", "420606001002": "刘埂社区", "420606002001": "施营社区"}


def latest_by_hand(last_month: str) -> dict[str, dict[str, Any]]:
    """Each community's assessment with the greatest period not after ``last_month``."""
    rows = load_case(CASES / "committees.yaml")["tables"]["committee_assessments"]
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        if str(r["period"]) <= last_month and (
                r["community_code"] not in out
                or str(r["period"]) > str(out[r["community_code"]]["period"])):
            out[r["community_code"]] = r
    return out


def frame_with(at: AppTest, column: str) -> pl.DataFrame:
    for d in at.dataframe:
        if column in d.value.columns:
            return pl.from_pandas(d.value)
    raise AssertionError(f"no table with a {column} column")


def test_the_party_page_lists_each_committees_latest_assessment(app: AppTest) -> None:
    app.query_params["period"] = "2024"
    app.run()
    app.switch_page("screens/party.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert any(s.value.startswith("两委班子三色研判") for s in app.subheader)
    want = latest_by_hand("2024-12")
    table = frame_with(app, "研判结果")
    got = {r["社区"]: r for r in table.iter_rows(named=True)}
    assert set(got) == {NAMES[c] for c in want}
    for code, r in want.items():
        row = got[NAMES[code]]
        assert row["研判期次"] == str(r["period"])
        assert row["研判结果"].endswith(COLOUR_ZH[r["colour"]])
        assert row["综合得分"] == float(r["score"])
        assert row["提级管理"] == ("是" if r["escalated"] else "否")
    # red first
    assert table["研判结果"][0].endswith("红色")
    counts = {c: sum(r["colour"] == c for r in want.values()) for c in COLOUR_ZH}
    escalated = sum(bool(r["escalated"]) for r in want.values())
    assert any(c.value == f"红色 {counts['red']} 个 · 黄色 {counts['yellow']} 个 · "
                          f"蓝色 {counts['blue']} 个 · 提级管理 {escalated} 个"
               for c in app.caption), [c.value for c in app.caption]
    # the three KPIs have their cards
    labels = {m.label.split(" ", 1)[1]: m.value for m in app.metric}
    reds = len({r["community_code"] for r in load_case(CASES / "committees.yaml")["tables"][
        "committee_assessments"] if str(r["period"]).startswith("2024") and r["colour"] == "red"})
    assert labels["红色研判社区数"] == str(reds)
    assert {"提级管理社区班子数（累计）", "红色班子整改完成率"} <= set(labels)


def test_a_street_page_lists_only_its_own_communities(app: AppTest) -> None:
    app.query_params.update({"period": "2024", "street": HANJIANG})
    app.run()
    app.switch_page("screens/party.py").run()
    table = frame_with(app, "研判结果")
    want = {NAMES[c] for c in latest_by_hand("2024-12") if c.startswith(HANJIANG[:9])}
    assert set(table["社区"]) == want


def test_the_party_page_splits_consultations_by_mechanism(app: AppTest) -> None:
    app.query_params["period"] = "2024-Q2"
    app.run()
    app.switch_page("screens/party.py").run()
    assert any(s.value == "议事协商按形式" for s in app.subheader)
    rows = load_case(CASES / "party_civic.yaml")["tables"]["consultations"]
    inq = [r for r in rows if "2024-04" <= str(r["raised_at"])[:7] <= "2024-06"]
    want: dict[str, tuple[int, int]] = {}
    for r in inq:
        n, done = want.get(r["mechanism"], (0, 0))
        want[r["mechanism"]] = (n + 1, done + (r.get("resolved_at") is not None))
    table = frame_with(app, "议事形式")
    got = {r["议事形式"]: (r["议题数"], r["已解决"]) for r in table.iter_rows(named=True)}
    assert got == want
    assert any(json.loads(c.proto.spec).get("mark", {}).get("type") == "bar"
               for c in app.get("vega_lite_chart"))


def test_the_overview_board_shows_the_assessment_colour_beside_the_kpis(app: AppTest) -> None:
    app.query_params.update({"period": "2024", "street": HANJIANG})
    app.session_state["overview_tab_street_zh"] = "红黄蓝三色榜（社区 × 指标）"
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    board = [c for c in app.get("vega_lite_chart")
             if json.loads(c.proto.spec).get("mark", {}).get("type") == "rect"]
    assert board, "the board tab did not open"
    proto = board[0].proto
    data = proto.datasets[0].data.data if proto.datasets else proto.data.data
    rows = pa.ipc.open_stream(data).read_all().to_pylist()
    cells = {r["area"]: r for r in rows if r["kpi_label"] == "两委三色研判"}
    want = {c: r for c, r in latest_by_hand("2024-12").items() if c.startswith(HANJIANG[:9])}
    assert set(cells) == {NAMES[c] for c in want}
    for code, r in want.items():
        assert cells[NAMES[code]]["status"] == r["colour"]
        assert cells[NAMES[code]]["shown"].startswith(COLOUR_ZH[r["colour"]])
