"""The building register (楼栋) and its heads: codes checked against the grid list and the
register, a building outside the grid its row names, bad household counts; good rows load,
bad ones are quarantined naming file, row, column and reason; on both engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.conftest import divisions_source
from warehouse import runlog
from warehouse.engine import open_warehouse
from warehouse.schema import grid_staff
from warehouse.tables.buildings import buildings

A1, A2 = "420606001001001", "420606001001002"  # grids of 高庄社区 (in the grid list below)


def _grids(folder: Path) -> dict[str, Any]:
    p = folder / "grids" / "grids.csv"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"code,name,parent_code\n{A1},第1网格,420606001001\n"
                 f"{A2},第2网格,420606001001\n", encoding="utf-8")
    return {"id": "grids", "plugin": "files", "table": "divisions", "path": "grids/*.csv",
            "defaults": {"level": "grid"}}


def _file(folder: Path, sub: str, text: str, **extra: Any) -> dict[str, Any]:
    p = folder / sub / f"{sub}.csv"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return {"id": sub, "plugin": "files", "path": f"{sub}/*.csv", **extra}


def _quarantine(url: str, source: str) -> list[tuple[int, str, str, str]]:
    """(row, column, reason, message) of each quarantined row; each names its file."""
    eng = open_warehouse(url)
    rows = runlog.list_quarantine(eng, source=source)
    eng.dispose()
    assert all(r["origin"].endswith(f"{source}.csv") for r in rows)
    return sorted((r["row_number"], r["column_name"], r["reason"], r["message"]) for r in rows)


def _stored(url: str, table: Any) -> dict[str, Any]:
    eng = open_warehouse(url)
    with eng.connect() as c:
        out = {r[0]: r for r in c.execute(select(table))}
    eng.dispose()
    return out


def test_buildings_and_heads_are_checked_against_grids_and_the_register(
        tmp_path: Path, warehouse_url: str, run_sources) -> None:
    register = "\n".join([
        "楼栋编码,所属网格,楼栋名称,户数",  # row 1 of the file: the header
        f"{A1}001,{A1},1栋,120",            # row 2: good
        f"{A1}002,{A1},2栋,96",             # row 3: good
        f"{A2}001,{A2},1栋,80",             # row 4: good
        "420606001001999001,420606001001999,1栋,50",  # row 5: no such grid
        f"{A1}003,{A2},3栋,70",             # row 6: the code lies in A1, the row names A2
        f"{A2}02,{A2},2栋,40",              # row 7: 17 digits
        f"{A2}003,{A2},3栋,-5",             # row 8: negative households
    ]) + "\n"
    roster = "\n".join([
        "staff_id,grid_code,role,building_code,is_party_member,name,phone",
        f"H1,{A1},楼栋长,{A1}001,是,王建国,13812348000",   # row 2: good
        f"H2,{A2},楼栋长,{A2}001,否,李秀英,13912345678",   # row 3: good
        f"H3,{A2},楼栋长,{A2}009,否,张伟,13712345678",     # row 4: not in the register
        f"H4,{A2},楼栋长,{A1}002,否,刘洋,13612345678",     # row 5: a building of another grid
        f"W1,{A1},网格员,,是,陈静,13512345678",            # row 6: good, no building
    ]) + "\n"
    cols = {"楼栋编码": "building_code", "所属网格": "grid_code", "楼栋名称": "name",
            "户数": "households"}
    sources = [divisions_source(), _grids(tmp_path),
               _file(tmp_path, "register", register, table="buildings", columns=cols),
               _file(tmp_path, "roster", roster, table="grid_staff")]
    results = run_sources(warehouse_url, sources)
    reg, heads = results[2], results[3]
    for r in (reg, heads):
        assert r.ok and r.read == r.loaded + r.quarantined + r.duplicates
    assert (reg.read, reg.loaded, reg.quarantined) == (7, 3, 4)
    assert (heads.read, heads.loaded, heads.quarantined) == (5, 3, 2)

    assert set(_stored(warehouse_url, buildings)) == {f"{A1}001", f"{A1}002", f"{A2}001"}
    q = _quarantine(warehouse_url, "register")
    assert [(row, reason) for row, _c, reason, _m in q] == [
        (5, "unknown_grid"), (6, "outside_area"), (7, "bad_format"), (8, "out_of_range")]
    assert "420606001001999" in q[0][3]
    assert q[1][1] == "building_code" and f"{A1}003" in q[1][3] and "grid_code" in q[1][3]

    staff = _stored(warehouse_url, grid_staff)
    assert set(staff) == {"H1", "H2", "W1"}
    assert staff["H1"].building_code == f"{A1}001" and staff["W1"].building_code is None
    # a head's name and phone are stored masked only, never in clear
    assert staff["H1"].phone_masked == "138****8000"
    assert staff["H1"].name_masked != "王建国" and "建国" not in (staff["H1"].name_masked or "")
    q = _quarantine(warehouse_url, "roster")
    assert [(row, col, reason) for row, col, reason, _m in q] == [
        (4, "building_code", "unknown_building"), (5, "building_code", "outside_area")]
    assert f"{A2}009" in q[0][3] and "not a known building code" in q[0][3]

    # the register gains the building H3 named: `gongzhi reprocess` loads the head (a missing
    # reference is retryable), the head outside its grid stays quarantined
    from ingest.registry import load_validated
    from ingest.reprocess import Reprocessor, Selection
    from tests.conftest import write_config

    (tmp_path / "register" / "more.csv").write_text(
        f"楼栋编码,所属网格,楼栋名称,户数\n{A2}009,{A2},9栋,60\n", encoding="utf-8")
    assert run_sources(warehouse_url, sources, ids=["register"])[0].loaded == 1
    settings = load_validated(write_config(tmp_path, warehouse_url, sources))
    eng = open_warehouse(settings.warehouse_url)
    again = {r.source: r for r in Reprocessor(settings, eng).reprocess(
        Selection(), username="cli:test", role="cli")}
    eng.dispose()
    assert again["roster"].loaded == 1
    assert again["register"].loaded == 0  # its grid is still not in the grid list
    assert _stored(warehouse_url, grid_staff)["H3"].building_code == f"{A2}009"
    eng = open_warehouse(warehouse_url)
    still = [r["reason"] for r in runlog.list_quarantine(eng, source="roster")
             if r["resolved_run_id"] is None]
    eng.dispose()
    assert still == ["outside_area"]
