"""The divisions plugin: the official code list, vintages, retirement, placeholders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ingest.plugins.divisions import short_name
from tests.conftest import DIVISIONS_CSV
from tests.ingest.plugin_contract import PluginContract
from warehouse.engine import open_warehouse
from warehouse.schema import divisions


def _rows(url: str) -> dict[str, Any]:
    eng = open_warehouse(url)
    with eng.connect() as c:
        rows = {r.code: r for r in c.execute(select(divisions))}
    eng.dispose()
    return rows


class TestDivisionsContract(PluginContract):
    plugin = "divisions"
    expected_rows = 237

    def prerequisites(self, tmp_path: Path) -> list[dict[str, Any]]:
        return []

    def source_config(self, tmp_path: Path) -> dict[str, Any]:
        return {"id": "divs", "plugin": "divisions", "path": str(DIVISIONS_CSV)}

    def check_loaded(self, tmp_path: Path, warehouse_url: str) -> None:
        rows = _rows(warehouse_url)
        assert len(rows) == 237
        assert rows["420606000000"].level == "district"
        assert rows["420606001000"].level == "street" and rows["420606001000"].name == "汉江街道"
        c = rows["420606001001"]
        assert (c.level, c.parent_code, c.short_name) == ("community", "420606001000", "高庄社区")
        assert sum(r.placeholder for r in rows.values()) == 4
        assert rows["420606480498"].placeholder and rows["420606480498"].active


def test_same_name_under_two_codes_stays_two_units(tmp_path: Path, sqlite_url: str,
                                                   run_sources) -> None:
    run_sources(sqlite_url, [{"id": "divs", "plugin": "divisions", "path": str(DIVISIONS_CSV)}])
    rows = _rows(sqlite_url)
    assert rows["420606100001"].short_name == "竹条社区"
    assert rows["420606100202"].short_name == "竹条村"


def test_newer_vintage_retires_missing_codes_and_keeps_first_valid_from(
        tmp_path: Path, warehouse_url: str, run_sources) -> None:
    folder = tmp_path / "lists"
    folder.mkdir()
    lines = DIVISIONS_CSV.read_text(encoding="utf-8").splitlines()
    (folder / "fancheng_2023.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    src = {"id": "divs", "plugin": "divisions", "path": "lists/*.csv"}
    assert run_sources(warehouse_url, [src])[0].ok
    # The 2024 list lacks 高庄社区 (420606001001) and adds a new community.
    newer = [ln for ln in lines if not ln.startswith("420606001001,")]
    newer.append("420606001099,420606001099,新城社区居委会,5,村级,社区居委会,420606001000,"
                 "汉江街道,420606001,汉江街道")
    (folder / "fancheng_2024.csv").write_text("\n".join(newer) + "\n", encoding="gb18030")
    r = run_sources(warehouse_url, [src])[0]
    assert r.ok, r.error
    assert r.retired == 1 and r.inserted == 1
    rows = _rows(warehouse_url)
    gone = rows["420606001001"]
    assert gone.active is False and gone.valid_to == dt.date(2024, 6, 30)
    assert rows["420606001099"].valid_from == dt.date(2024, 6, 30)
    assert rows["420606001002"].valid_from == dt.date(2023, 6, 30)  # first vintage kept
    assert len(rows) == 238  # retired, never deleted


def test_list_without_a_district_row_is_refused(tmp_path: Path, sqlite_url: str,
                                                run_sources) -> None:
    lines = DIVISIONS_CSV.read_text(encoding="utf-8").splitlines()
    p = tmp_path / "list_2023.csv"
    p.write_text("\n".join([lines[0], *lines[2:]]) + "\n", encoding="utf-8")
    r = run_sources(sqlite_url, [{"id": "divs", "plugin": "divisions", "path": str(p)}])[0]
    assert not r.ok and "exactly one district" in r.error
    assert _rows(sqlite_url) == {}


def test_short_names() -> None:
    assert short_name("高庄社区居委会", "社区居委会", "汉江街道") == "高庄社区"
    assert short_name("竹条村委会", "村委会", "牛首镇") == "竹条村"
    # 15 communities of the 2023 list spell it out in full: 万达社区居民委员会
    assert short_name("万达社区居民委员会", "居委会", "汉江街道") == "万达社区"
    assert short_name("前进村民委员会", "村委会", "太平店镇") == "前进村"
    assert short_name("虚拟社区", "虚拟社区", "高新区汽车工业园") == "虚拟社区（高新区汽车工业园）"
