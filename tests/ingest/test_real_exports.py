"""Real exports load with configuration only (issue 11, item 5).

- A Chinese 问政 export (XLSX written here with openpyxl): headers 留言编号, 留言时间, 留言主题,
  留言详情, 答复时间; 留言时间 mixes text (``2020/1/6 12:09:38``) and true Excel datetimes in
  one column. ``[sources.columns]`` alone loads it into hotline_requests (Asia/Shanghai).
- A US 311 export (CSV): 12-hour dates (``%m/%d/%Y %I:%M:%S %p``, ``[sources.formats]``) in
  ``timezone = "America/New_York"``; stored UTC times are checked against the standard library's
  zoneinfo on both sides of both daylight-saving changes. A value the format does not match is
  quarantined naming the column, the value and the format; a wall time the spring-forward gap
  skips is quarantined as such.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from core.errors import ConfigError
from ingest.registry import load_validated
from ingest.runner import Runner
from tests.conftest import divisions_source, write_config
from warehouse.engine import open_warehouse
from warehouse.schema import data_tables, quarantine

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
US_FORMAT = "%m/%d/%Y %I:%M:%S %p"


def _utc(local: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Independent of the code under test: the standard library's conversion (fold=0, the
    earlier of two readings of an ambiguous wall time)."""
    return local.replace(tzinfo=zone).astimezone(dt.UTC).replace(tzinfo=None)


def _load(tmp_path: Path, source: dict) -> tuple[object, dict, list]:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    cfg = write_config(tmp_path, url, [divisions_source(), source])
    engine = open_warehouse(url)
    results = {r.source: r for r in Runner(load_validated(cfg), engine).run()}
    t = data_tables()["hotline_requests"]
    with engine.connect() as c:
        rows = {x.request_id: x for x in c.execute(select(t))}
        bad = [dict(x._mapping) for x in c.execute(select(quarantine))]
    engine.dispose()
    return results[source["id"]], rows, bad


WENZHENG = [  # 留言编号, 留言时间 (text or a true datetime), 留言主题, 留言详情, 答复时间
    (2549, "2020/1/6 12:09:38", "A市西湖建筑集团占道施工有安全隐患",
     "施工围挡占用人行道，联系电话13812348000", "2020/1/7 9:10:00"),
    (2554, dt.datetime(2020, 1, 4, 11, 17, 46), "A市在水一方大厦人为烂尾多年",
     "多年未交房，身份证420606199001011234的业主无法入住", dt.datetime(2020, 1, 9, 16, 0, 0)),
    (2555, "2019/12/30 17:06:14", "投诉A市A1区苑物业违规收停车费", "物业收费不合理", None),
    (2557, dt.datetime(2020, 1, 6, 0, 30, 5), "A1区华庭小区高层二次供水", "二次供水水压不足",
     "2020/1/8 10:00:00"),
]


def test_a_wenzheng_xlsx_loads_with_columns_only(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "留言"
    ws.append(["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "答复时间"])
    for no, at, title, text, answered in WENZHENG:
        ws.append([no, f"A{no:08d}", title, at, text, answered])
    for row in ws.iter_rows(min_row=2, min_col=4, max_col=4):  # show dates as offices do
        if isinstance(row[0].value, dt.datetime):
            row[0].number_format = "yyyy/m/d h:mm:ss"
    wb.save(tmp_path / "in" / "问政留言.xlsx")
    assert {type(ws.cell(row=r, column=4).value) for r in range(2, 6)} == {str, dt.datetime}
    res, rows, bad = _load(tmp_path, {
        "id": "wenzheng", "plugin": "files", "table": "hotline_requests", "path": "in/*.xlsx",
        "columns": {"留言编号": "request_id", "留言时间": "received_at", "留言主题": "title",
                    "留言详情": "content", "答复时间": "responded_at"}})
    assert res.ok, res.error
    assert (res.read, res.loaded, res.quarantined) == (4, 4, 0), bad
    for no, at, title, _text, answered in WENZHENG:
        row = rows[str(no)]
        local = at if isinstance(at, dt.datetime) else dt.datetime.strptime(
            at, "%Y/%m/%d %H:%M:%S")
        assert row.received_at == _utc(local, SHANGHAI), no
        if answered is None:
            assert row.responded_at is None
        else:
            ans = answered if isinstance(answered, dt.datetime) else dt.datetime.strptime(
                answered, "%Y/%m/%d %H:%M:%S")
            assert row.responded_at == _utc(ans, SHANGHAI), no
        assert row.title == title and row.channel == "other" and row.community_code is None
    assert rows["2549"].content == "施工围挡占用人行道，联系电话138****8000"
    assert "420***********1234" in rows["2554"].content


US_ROWS = [  # local wall time in New York around both 2024 daylight-saving changes
    ("7001", "03/09/2024 11:30:00 PM"),  # EST, the evening before spring forward
    ("7002", "03/10/2024 01:59:59 AM"),  # EST, one second before the gap
    ("7003", "03/10/2024 03:30:00 AM"),  # EDT, after the gap
    ("7004", "07/04/2024 12:00:00 PM"),  # noon (12 PM), EDT
    ("7005", "11/03/2024 12:30:00 AM"),  # half past midnight (12 AM), EDT
    ("7006", "11/03/2024 01:30:00 AM"),  # ambiguous: taken as the first (EDT) reading
    ("7007", "11/03/2024 03:00:00 AM"),  # EST, after fall back
    ("7008", "12/31/2024 11:59:59 PM"),  # EST, the year's last second
]


def test_a_us_311_csv_loads_in_new_york_time_and_bad_values_name_the_format(
        tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    lines = ["Unique Key,Created Date,Closed Date,Complaint Type,Descriptor,"
             "Open Data Channel Type"]
    lines += [f"{k},{v},,Noise - Residential,Loud Music/Party,PHONE" for k, v in US_ROWS]
    lines += ["7101,2024-03-11 10:00:00,,Noise,Banging,ONLINE",  # ISO: not the declared format
              "7102,03/10/2024 02:30:00 AM,,Noise,Banging,MOBILE",  # skipped by the clock
              "7103,03/12/2024 09:00:00 AM,03/12/2024 25:00:00 PM,Noise,Banging,UNKNOWN"]
    (tmp_path / "in" / "311_Service_Requests.csv").write_text("\n".join(lines) + "\n",
                                                              encoding="utf-8")
    res, rows, bad = _load(tmp_path, {
        "id": "nyc311", "plugin": "files", "table": "hotline_requests", "path": "in/*.csv",
        "timezone": "America/New_York",
        "formats": {"received_at": US_FORMAT, "closed_at": US_FORMAT},
        "columns": {"Unique Key": "request_id", "Created Date": "received_at",
                    "Closed Date": "closed_at", "Complaint Type": "category",
                    "Descriptor": "title", "Open Data Channel Type": "channel"}})
    assert res.ok, res.error
    assert (res.read, res.loaded, res.quarantined) == (11, 8, 3)
    for key, text in US_ROWS:
        want = _utc(dt.datetime.strptime(text, US_FORMAT), NEW_YORK)
        assert rows[key].received_at == want, (key, text, rows[key].received_at, want)
        assert rows[key].channel == "phone"
    # spot values, so the oracle above is not the only witness
    assert rows["7001"].received_at == dt.datetime(2024, 3, 10, 4, 30)
    assert rows["7003"].received_at == dt.datetime(2024, 3, 10, 7, 30)
    assert rows["7006"].received_at == dt.datetime(2024, 11, 3, 5, 30)
    assert rows["7007"].received_at == dt.datetime(2024, 11, 3, 8, 0)
    by_row = {b["row_number"]: b for b in bad}
    iso, gap, closed = by_row[10], by_row[11], by_row[12]
    assert (iso["column_name"], iso["reason"]) == ("received_at", "bad_date")
    assert iso["message"] == ("Created Date (received_at): '2024-03-11 10:00:00' does not match "
                              f"the format '{US_FORMAT}' ([sources.formats])")
    assert (gap["column_name"], gap["reason"]) == ("received_at", "no_local_time")
    assert "'03/10/2024 02:30:00 AM' is not a time in America/New_York" in gap["message"]
    assert (closed["column_name"], closed["reason"]) == ("closed_at", "bad_date")
    assert f"'03/12/2024 25:00:00 PM' does not match the format '{US_FORMAT}'" \
        in closed["message"]


def test_a_source_timezone_must_be_a_known_zone(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", [
        {"id": "a", "plugin": "files", "table": "hotline_requests", "path": "in/*.csv",
         "timezone": "America/Gotham"},
        {"id": "b", "plugin": "files", "table": "hotline_requests", "path": "in/*.csv",
         "timezone": 8}])
    with pytest.raises(ConfigError) as e:
        load_validated(cfg)
    msg = str(e.value)
    assert "(id=a)" in msg and "'America/Gotham'" in msg
    assert "(id=b)" in msg and "must be an IANA time zone" in msg
