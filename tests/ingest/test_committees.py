"""三色研判 assessments (committee_assessments) from a spreadsheet export: the words offices use
become codes, and every bad row lands in the quarantine with its file, row, column and reason
while the good rows load."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.conftest import divisions_source
from warehouse import runlog
from warehouse.engine import open_warehouse
from warehouse.tables.committees import committee_assessments

HEADER = "研判编号,社区编码,研判期次,综合得分,研判结果,研判理由,是否提级管理,整改情况"
COLUMNS = {"研判编号": "assessment_id", "社区编码": "community_code", "研判期次": "period",
           "综合得分": "score", "研判结果": "colour", "研判理由": "reasons",
           "是否提级管理": "escalated", "整改情况": "rectification"}
ROWS = [
    "A1,420606001001,2024-06,55.5,红色,软弱涣散 联系人13812345678,提级管理,整改中",  # good
    "A2,420606001002,2024-06,72,黄,议事不经常,否,已销号",  # good
    "A3,420606002001,2024-06,91,蓝,,否,无需整改",  # good
    "A4,420606001001,2024-12,88,green,,,",  # good: blank escalated → default false
    "A5,420606999999,2024-06,60,红色,,否,未整改",  # unknown community
    "A6,420606001003,2024-06,60,紫色,,否,未整改",  # not a colour
    "A7,420606001003,2024-06,160,红色,,否,未整改",  # score over 100
    "A8,420606001003,2024-13,60,红色,,否,未整改",  # no month 13
    "A9,420606001003,2024-06,60,,,否,未整改",  # colour missing
    "A10,420606001003,2024-06,60,红色,,否,差不多",  # not a rectification status
]


def test_assessments_load_with_their_words_and_bad_rows_are_quarantined(
        tmp_path: Path, warehouse_url: str, run_sources) -> None:
    inbox = tmp_path / "yp"
    inbox.mkdir()
    (inbox / "三色研判.csv").write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    source = {"id": "yp", "plugin": "files", "table": "committee_assessments",
              "path": "yp/*.csv", "columns": COLUMNS}
    r = run_sources(warehouse_url, [divisions_source(), source])[1]
    assert r.ok, r.error
    assert (r.read, r.loaded, r.quarantined) == (10, 4, 6)
    eng = open_warehouse(warehouse_url)
    with eng.connect() as c:
        got = {x.assessment_id: x for x in c.execute(select(committee_assessments))}
    q = sorted(runlog.list_quarantine(eng, source="yp"), key=lambda x: x["row_number"])
    eng.dispose()
    assert {k: (v.colour, v.escalated, v.rectification, v.score) for k, v in got.items()} == {
        "A1": ("red", True, "in_progress", 55.5), "A2": ("yellow", False, "done", 72.0),
        "A3": ("blue", False, "not_needed", 91.0), "A4": ("blue", False, None, 88.0)}
    assert "13812345678" not in (got["A1"].reasons or "") and "138" in got["A1"].reasons
    # row numbers are the lines a person sees (the header is line 1)
    assert [(x["row_number"], x["column_name"], x["reason"]) for x in q] == [
        (6, "community_code", "unknown_community"), (7, "colour", "bad_code"),
        (8, "score", "out_of_range"), (9, "period", "bad_format"),
        (10, "colour", "missing_value"), (11, "rectification", "bad_code")]
    assert all(x["origin"].endswith("三色研判.csv") for x in q)
    assert "紫色" in q[1]["message"] and "420606999999" in q[0]["message"]
