"""Rows a source flags deleted (``[sources.delete_flag]``, e.g. SCBZ / 删除标志) leave the
warehouse in the run's transaction, the KPI rollups lose what they contributed, and the run
log counts them: read = loaded + quarantined + duplicates + deleted."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core.errors import ConfigError
from core.settings import settings_from_dict
from ingest.registry import load_validated
from ingest.runner import Runner
from metrics import periods
from metrics.catalog import load_catalog
from metrics.rollup import RollupObserver, ensure_rollups
from metrics.service import Metrics
from tests.conftest import divisions_source, write_config
from tests.metrics.test_rollup import assert_rollups_match_rebuild
from warehouse import runlog
from warehouse.engine import data_version, open_warehouse
from warehouse.schema import service_cases

HEAD = "办件编号,item_code,community_code,channel,submitted_at,status,删除标志\n"


def _case(cid: str, day: int, flag: str = "否") -> str:
    return f"{cid},I1,420606001001,online,2024-05-{day:02d} 10:00,accepted,{flag}\n"


def _setup(folder: Path, url: str, flag: dict | None) -> tuple[Runner, Metrics]:
    (folder / "items").mkdir()
    (folder / "items" / "i.csv").write_text("item_code,item_name,promised_days\nI1,事项,3\n",
                                            encoding="utf-8")
    (folder / "in").mkdir()
    src = {"id": "cases", "plugin": "files", "table": "service_cases", "path": "in/*.csv",
           "columns": {"办件编号": "case_id"}}
    if flag is not None:
        src["delete_flag"] = flag
    cfg = write_config(folder, url, [divisions_source(), {
        "id": "items", "plugin": "files", "table": "service_items", "path": "items/*.csv"}, src])
    settings = load_validated(cfg)
    engine = open_warehouse(settings.warehouse_url)
    catalog = load_catalog()
    ensure_rollups(engine, catalog)
    return Runner(settings, engine, observers=[RollupObserver(catalog)]), Metrics(engine, catalog)


def _ids(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(service_cases.c.case_id)).scalars())


def test_flagged_rows_leave_the_warehouse_the_rollups_and_the_kpis(
        tmp_path: Path, warehouse_url: str) -> None:
    runner, m = _setup(tmp_path, warehouse_url, {"column": "删除标志", "values": ["是", "1"]})
    (tmp_path / "in" / "a.csv").write_text(
        HEAD + "".join(_case(f"C{i}", i) for i in range(1, 5)), encoding="utf-8")
    assert all(r.ok for r in runner.run())
    may = periods.parse("2024-05")
    assert m.compute(["gov.case_count"], m.district(), may)["value"][0] == 4.0
    version = data_version(m.engine)
    # the export of the next day: C1 deleted in the source system (flag 是), C5 new
    (tmp_path / "in" / "b.csv").write_text(HEAD + _case("C1", 1, " 是 ") + _case("C5", 5),
                                           encoding="utf-8")
    [res] = runner.run(["cases"])
    assert res.ok, res.error
    assert (res.read, res.loaded, res.deleted, res.quarantined, res.duplicates) == (2, 1, 1, 0, 0)
    assert _ids(m.engine) == ["C2", "C3", "C4", "C5"]
    assert data_version(m.engine) > version
    for metrics in (m, Metrics(m.engine, m.catalog, use_rollups=False)):
        assert metrics.compute(["gov.case_count"], metrics.district(), may)["value"][0] == 4.0
    assert_rollups_match_rebuild(m.engine)
    run = runlog.list_runs(m.engine, source="cases", limit=1)[0]
    assert (run["read"], run["loaded"], run["deleted"]) == (2, 1, 1)
    # the same deletion again (a re-sent file under another name) changes nothing
    (tmp_path / "in" / "c.csv").write_text(HEAD + _case("C1", 1, "是"), encoding="utf-8")
    version = data_version(m.engine)
    [res] = runner.run(["cases"])
    assert res.ok and res.deleted == 1 and data_version(m.engine) == version
    m.engine.dispose()


def test_a_key_flagged_and_unflagged_in_one_run_is_deleted(tmp_path: Path,
                                                           sqlite_url: str) -> None:
    runner, m = _setup(tmp_path, sqlite_url, {"column": "删除标志"})  # default values
    (tmp_path / "in" / "a.csv").write_text(
        HEAD + _case("C1", 1) + _case("C2", 2) + _case("C1", 1, "Y") + _case("C2", 3, "0"),
        encoding="utf-8")
    results = {r.source: r for r in runner.run()}
    res = results["cases"]
    assert res.ok, res.error
    assert (res.read, res.loaded, res.deleted, res.duplicates) == (4, 1, 1, 2)
    assert _ids(m.engine) == ["C2"]
    m.engine.dispose()


def test_a_missing_flag_column_fails_the_run_naming_the_file(tmp_path: Path,
                                                             sqlite_url: str) -> None:
    runner, m = _setup(tmp_path, sqlite_url, {"column": "SCBZ"})
    (tmp_path / "in" / "a.csv").write_text(HEAD + _case("C1", 1), encoding="utf-8")
    res = {r.source: r for r in runner.run()}["cases"]
    assert not res.ok and "SCBZ" in (res.error or "") and "a.csv" in (res.error or "")
    assert _ids(m.engine) == []
    m.engine.dispose()


@pytest.mark.parametrize("flag", [{"values": ["1"]}, {"column": ""}, "SCBZ",
                                  {"column": "SCBZ", "values": []},
                                  {"column": "SCBZ", "value": ["1"]}])
def test_a_bad_delete_flag_is_a_config_error_naming_the_source(flag: object) -> None:
    with pytest.raises(ConfigError) as err:
        settings_from_dict({"sources": [{"id": "cases", "plugin": "files",
                                         "delete_flag": flag}]})
    assert "cases" in str(err.value) and "delete_flag" in str(err.value)


def test_a_deleted_holiday_moves_the_deadlines_back(tmp_path: Path, warehouse_url: str) -> None:
    """An office withdraws a day it had loaded as a holiday (flagged deleted in its calendar
    file): the working days and the 按期 rollups follow at once."""
    (tmp_path / "in").mkdir()
    (tmp_path / "cal").mkdir()
    (tmp_path / "in" / "items.csv").write_text("item_code,item_name,promised_days\nI1,事项,1\n",
                                               encoding="utf-8")
    # submitted Friday 6 June 2025, due the next working day (Monday 9), done Tuesday 10
    (tmp_path / "in" / "cases.csv").write_text(
        "case_id,item_code,community_code,channel,submitted_at,completed_at,status\n"
        "C1,I1,420606001001,window,2025-06-06 10:00,2025-06-10 15:00,completed\n",
        encoding="utf-8")
    head = "day,workday,holiday,SCBZ\n"
    (tmp_path / "cal" / "a.csv").write_text(head + "2025-06-09,false,测试,0\n", encoding="utf-8")
    flag = {"column": "SCBZ", "values": ["1"]}
    cfg = write_config(tmp_path, warehouse_url, [divisions_source(), {
        "id": "items", "plugin": "files", "table": "service_items", "path": "in/items.csv"}, {
        "id": "cases", "plugin": "files", "table": "service_cases", "path": "in/cases.csv"}, {
        "id": "cal", "plugin": "files", "table": "holiday_calendar", "path": "cal/*.csv",
        "delete_flag": flag}])
    settings = load_validated(cfg)
    engine = open_warehouse(settings.warehouse_url)
    catalog = load_catalog()
    ensure_rollups(engine, catalog)
    runner = Runner(settings, engine, observers=[RollupObserver(catalog)])
    assert all(r.ok for r in runner.run())
    june = periods.parse("2025-06")

    def rates() -> list[float]:
        return [mm.compute(["gov.on_time_rate"], mm.district(), june)["value"][0]
                for mm in (Metrics(engine, catalog),
                           Metrics(engine, catalog, use_rollups=False))]

    assert rates() == [1.0, 1.0]  # Monday 9 June is a holiday: due Tuesday, on time
    (tmp_path / "cal" / "b.csv").write_text(head + "2025-06-09,false,测试,1\n",
                                            encoding="utf-8")
    [res] = runner.run(["cal"])
    assert res.ok and res.deleted == 1, res
    assert rates() == [0.0, 0.0]  # a working day again: due Monday, done a day late
    assert_rollups_match_rebuild(engine)
    engine.dispose()
