"""Exports never hand a spreadsheet a formula: text cells starting with =, +, -, @, a tab or
a carriage return are neutralised in CSV and XLSX (the dashboard's exports, through the real
export path from the warehouse), while numbers stay numbers."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import polars as pl
import pytest

from core.spreadsheet import safe_cell, safe_frame
from dashboard.components import exports
from tests.conftest import divisions_source, write_config

EVIL = {"R1": '=HYPERLINK("http://127.0.0.1/x","点我")', "R2": "+1+cmd|' /C calc'!A0",
        "R3": "-2+3", "R4": "@SUM(A1:A9)", "R5": "敬老助残"}


def test_cells_that_start_a_formula_get_an_apostrophe() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert safe_cell(f"{start}1+1") == f"'{start}1+1"
    for fine in ("高庄社区", "1-2", "a=b", "", " =x"):
        assert safe_cell(fine) == fine
    assert safe_cell(-3) == -3 and safe_cell(-0.5) == -0.5 and safe_cell(None) is None
    frame = pl.DataFrame({"text": ["=1", "-5", "ok", None], "n": [-1, 2, -3, 4],
                          "x": [-0.5, 1.0, None, 2.5]})
    out = safe_frame(frame)
    assert out["text"].to_list() == ["'=1", "'-5", "ok", None]
    assert out.schema == frame.schema  # numbers stay numbers: negative ones too
    assert out["n"].equals(frame["n"]) and out["x"].equals(frame["x"])


@pytest.fixture
def evil_config(tmp_path: Path) -> Path:
    (tmp_path / "services").mkdir()
    lines = ["record_id,volunteer_id,community_code,activity,started_at,hours,timebank"]
    lines += [f'{rid},V1,420606001001,"{text.replace(chr(34), chr(34) * 2)}",'
              f"2024-05-0{i + 1} 09:00,{i + 1}.5,false" for i, (rid, text) in
              enumerate(EVIL.items())]
    (tmp_path / "services" / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", [
        divisions_source(),
        {"id": "services", "plugin": "files", "table": "volunteer_services",
         "path": "services/*.csv"},
    ], '[dashboard]\nsign_in = "open"\n')
    from ingest.registry import load_validated
    from ingest.runner import Runner
    from warehouse.engine import open_warehouse

    settings = load_validated(cfg)
    engine = open_warehouse(settings.warehouse_url)
    results = Runner(settings, engine).run()
    assert all(r.ok for r in results) and results[1].loaded == len(EVIL)
    engine.dispose()
    return cfg


def test_csv_and_xlsx_exports_of_the_detail_rows_hold_no_formula(
        evil_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGZHI_CONFIG", str(evil_config))
    from dashboard import auth, data

    key = data.key(auth.current_user())
    rows = data.export_rows(key, "vol", data.district(key), "2024-05", "zh", "csv")
    assert set(rows["服务内容"]) == set(EVIL.values())  # stored as written
    want = {rid: ("'" + text if text[0] in "=+-@" else text) for rid, text in EVIL.items()}

    raw = exports.to_csv(rows).decode("utf-8-sig")
    got = {r["记录编号"]: r for r in csv.DictReader(io.StringIO(raw))}
    assert {rid: r["服务内容"] for rid, r in got.items()} == want
    assert sorted(float(r["时长(小时)"]) for r in got.values()) == [1.5, 2.5, 3.5, 4.5, 5.5]

    book = exports.to_xlsx(data.export_rows(key, "vol", data.district(key), "2024-05", "zh",
                                            "xlsx"))
    with zipfile.ZipFile(io.BytesIO(book)) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert not any("<f>" in s or "<f " in s for s in sheets)  # no formula cell at all
    back = pl.read_excel(io.BytesIO(book))
    assert dict(zip(back["记录编号"], back["服务内容"], strict=True)) == want
    assert back["时长(小时)"].dtype.is_numeric()
