"""Bad input that used to load wrong or fail a whole source: mixed encodings, NUL bytes and
over-long text, bare numbers read as Excel dates, "1,5" read as 15, repeated headers.

Each test plants the bad value next to good rows and checks the good rows loaded, the bad one
is in the quarantine with its file, row, column and reason, and read = loaded + quarantined +
duplicates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from sqlalchemy import String, select

from tests.conftest import divisions_source
from warehouse import runlog
from warehouse.engine import open_warehouse
from warehouse.schema import content_columns, data_tables, service_cases, volunteer_services

CASES_HEADER = "办件编号,事项编码,社区代码,办理渠道,受理时间,办件状态"
CASES_COLUMNS = {"办件编号": "case_id", "事项编码": "item_code", "社区代码": "community_code",
                 "办理渠道": "channel", "受理时间": "submitted_at", "办件状态": "status"}
SERVICES_HEADER = "record_id,volunteer_id,community_code,activity,started_at,hours"


def cases(pattern: str = "inbox/*", **extra: Any) -> dict[str, Any]:
    return {"id": "cases", "plugin": "files", "table": "service_cases", "path": pattern,
            "columns": CASES_COLUMNS, **extra}


def services(**extra: Any) -> dict[str, Any]:
    return {"id": "services", "plugin": "files", "table": "volunteer_services",
            "path": "svc/*", **extra}


def drop(folder: Path, sub: str, name: str, data: bytes) -> Path:
    p = folder / sub / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def stored(url: str, table: Any, key: str) -> dict[str, Any]:
    eng = open_warehouse(url)
    with eng.connect() as c:
        rows = {getattr(r, key): r for r in c.execute(select(table))}
    eng.dispose()
    return rows


def quarantined(url: str, source: str) -> list[dict[str, Any]]:
    eng = open_warehouse(url)
    rows = runlog.list_quarantine(eng, source=source)
    eng.dispose()
    return sorted(rows, key=lambda r: r["row_number"])


def balanced(r: Any) -> bool:
    return r.ok and r.read == r.loaded + r.quarantined + r.duplicates


# -- item 7: a file mixing UTF-8 and GB18030 rows ---------------------------------------------

def test_a_gb18030_row_in_a_utf8_file_is_quarantined_not_stored_as_mojibake(
        tmp_path: Path, sqlite_url: str, run_sources) -> None:
    utf8 = [CASES_HEADER, "C1,I01,420606001001,窗口,2023-08-14 09:30,已办结",
            "C2,I01,420606001001,网上办,2023-08-14 10:30,已受理",
            "C4,I01,420606001002,驿站,2023-08-15 10:30,已受理"]
    gb_row = "C3,事项,420606001001,窗口,2023-08-15 09:30,已办结"
    data = ("\n".join(utf8[:3]) + "\n").encode() + (gb_row + "\n").encode("gb18030") \
        + (utf8[3] + "\n").encode()
    drop(tmp_path, "inbox", "mixed.csv", data)
    r = run_sources(sqlite_url, [divisions_source(), cases()])[1]
    assert balanced(r) and (r.read, r.loaded, r.quarantined) == (4, 3, 1)
    rows = stored(sqlite_url, service_cases, "case_id")
    assert set(rows) == {"C1", "C2", "C4"}
    assert rows["C4"].channel == "station"  # the row after the bad one is read right
    q = quarantined(sqlite_url, "cases")
    assert len(q) == 1 and q[0]["reason"] == "bad_encoding" and q[0]["row_number"] == 4
    assert q[0]["origin"].endswith("mixed.csv") and q[0]["column_name"] == "事项编码"
    assert "not valid UTF-8" in q[0]["message"] and "GB18030" in q[0]["message"]
    assert "事项" in q[0]["raw"]  # shown as it reads in its own encoding, never as mojibake
    mojibake = gb_row.encode("gb18030").decode("utf-8", errors="replace")
    assert "\ufffd" in mojibake and mojibake not in q[0]["raw"]


def test_a_utf8_row_in_a_gb18030_file_is_quarantined(tmp_path: Path, sqlite_url: str,
                                                      run_sources) -> None:
    gb = [CASES_HEADER, "C1,I01,420606001001,窗口,2023-08-14 09:30,已办结",
          "C2,I01,420606001001,网上办,2023-08-14 10:30,已受理",
          "C3,I01,420606001002,驿站,2023-08-15 10:30,已受理"]
    utf8_row = "C9,事项,420606001001,window,2023-08-15 09:30,completed"
    data = ("\n".join(gb) + "\n").encode("gb18030") + (utf8_row + "\n").encode()
    # GB18030 decodes these UTF-8 bytes without an error: 事项 becomes 浜嬮」
    assert utf8_row.encode().decode("gb18030") == utf8_row.replace("事项", "浜嬮」")
    drop(tmp_path, "inbox", "mixed.csv", data)
    r = run_sources(sqlite_url, [divisions_source(), cases()])[1]
    assert balanced(r) and (r.loaded, r.quarantined) == (3, 1)
    q = quarantined(sqlite_url, "cases")
    assert q[0]["reason"] == "bad_encoding" and q[0]["row_number"] == 5
    assert "UTF-8 inside a GB18030 file" in q[0]["message"]
    assert "浜嬮" not in q[0]["raw"] and "事项" in q[0]["raw"]
    assert set(stored(sqlite_url, service_cases, "case_id")) == {"C1", "C2", "C3"}


def test_a_declared_encoding_is_checked_per_row_too(tmp_path: Path, sqlite_url: str,
                                                    run_sources) -> None:
    rows = [CASES_HEADER, "C1,I01,420606001001,窗口,2023-08-14 09:30,已办结"]
    data = ("\n".join(rows) + "\n").encode("gb18030") \
        + "C2,事项,420606001001,窗口,2023-08-14 09:30,已办结\n".encode()
    drop(tmp_path, "inbox", "declared.csv", data)
    r = run_sources(sqlite_url, [divisions_source(), cases(encoding="gb18030")])[1]
    assert balanced(r) and (r.loaded, r.quarantined) == (1, 1)
    assert quarantined(sqlite_url, "cases")[0]["reason"] == "bad_encoding"


def test_plugins_that_rebuild_their_frame_keep_the_encoding_marks(
        tmp_path: Path, sqlite_url: str, run_sources) -> None:
    from tests.conftest import DIVISIONS_CSV

    lines = DIVISIONS_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
    gb_at = next(i for i, ln in enumerate(lines) if ln.startswith("420606001001"))
    data = b"".join(ln.encode("gb18030" if i == gb_at else "utf-8")
                    for i, ln in enumerate(lines))
    drop(tmp_path, "divs", "fancheng_divisions_2023.csv", data)
    r = run_sources(sqlite_url, [{"id": "divs", "plugin": "divisions", "path": "divs/*.csv"}])[0]
    assert balanced(r) and r.quarantined == 1 and r.loaded == len(lines) - 2
    [q] = quarantined(sqlite_url, "divs")
    assert q["reason"] == "bad_encoding" and q["row_number"] == gb_at + 1


def test_utf16_with_bom_loads(tmp_path: Path, sqlite_url: str, run_sources) -> None:
    text = "\t".join(CASES_HEADER.split(",")) + "\r\n" + \
        "\t".join(["C1", "I01", "420606001001", "窗口", "2023-08-14 09:30", "已办结"]) + "\r\n"
    drop(tmp_path, "inbox", "unicode.txt", text.encode("utf-16"))
    r = run_sources(sqlite_url, [divisions_source(), cases()])[1]
    assert balanced(r) and r.loaded == 1
    assert stored(sqlite_url, service_cases, "case_id")["C1"].channel == "window"


# -- item 8: NUL bytes and over-long values, on both engines ----------------------------------

def test_nul_bytes_and_over_long_values_are_quarantined_on_both_engines(
        tmp_path: Path, warehouse_url: str, run_sources) -> None:
    long_activity = "清扫楼道" * 100  # 400 characters; activity holds 256
    lines = [SERVICES_HEADER,
             "S1,V1,420606001001,助老,2024-01-02 09:00,2",
             "S2,V1,420606001001,助\x00老,2024-01-02 09:00,2",
             f"S3,V2,420606001001,{long_activity},2024-01-03 09:00,1.5",
             "S4,V\x002,420606001001,助残,2024-01-03 09:00,1",
             f"S{'9' * 80},V3,420606001002,巡逻,2024-01-04 09:00,3",
             "S6,V3,420606001002,巡逻,2024-01-04 09:00,3"]
    drop(tmp_path, "svc", "services.csv", ("\n".join(lines) + "\n").encode())
    r = run_sources(warehouse_url, [divisions_source(), services()])[1]
    assert balanced(r), r.error  # PostgreSQL used to fail the whole source here
    assert (r.loaded, r.quarantined) == (2, 4)
    assert set(stored(warehouse_url, volunteer_services, "record_id")) == {"S1", "S6"}
    q = {x["row_number"]: x for x in quarantined(warehouse_url, "services")}
    assert {n: (x["column_name"], x["reason"]) for n, x in q.items()} == {
        3: ("activity", "bad_text"), 4: ("activity", "too_long"),
        5: ("volunteer_id", "bad_text"), 6: ("record_id", "too_long")}
    assert "400 characters, longer than the maximum of 256" in q[4]["message"]
    assert "81 characters, longer than the maximum of 64" in q[6]["message"]
    assert all(x["origin"].endswith("services.csv") for x in q.values())
    assert "\x00" not in "".join(x["message"] for x in q.values())


def test_every_text_column_declares_its_maximum() -> None:
    for table in data_tables().values():
        for col in content_columns(table):
            if isinstance(col.type, String):
                assert col.type.length, f"{table.name}.{col.name} has no declared maximum"


# -- item 9: bare numbers are not Excel dates in text; "1,5" is not 15 ------------------------

def test_bare_integers_in_a_text_file_are_not_excel_dates(tmp_path: Path, sqlite_url: str,
                                                          run_sources) -> None:
    lines = [CASES_HEADER, "C1,I01,420606001001,窗口,2023,已办结",
             "C2,I01,420606001001,窗口,1,已办结", "C3,I01,420606001001,窗口,99999,已办结",
             "C4,I01,420606001001,窗口,45152,已办结", "C5,I01,420606001001,窗口,20230814,已办结"]
    drop(tmp_path, "inbox", "cases.csv", ("\n".join(lines) + "\n").encode())
    r = run_sources(sqlite_url, [divisions_source(), cases()])[1]
    assert balanced(r) and (r.loaded, r.quarantined) == (1, 4)
    assert [(x["row_number"], x["reason"], x["column_name"])
            for x in quarantined(sqlite_url, "cases")] == [
        (n, "bad_date", "submitted_at") for n in (2, 3, 4, 5)]
    assert stored(sqlite_url, service_cases, "case_id")["C5"].submitted_at == \
        dt.datetime(2023, 8, 13, 16)


def test_serial_dates_where_the_source_declares_them(tmp_path: Path, sqlite_url: str,
                                                     run_sources) -> None:
    lines = [CASES_HEADER, "C4,I01,420606001001,窗口,45152.5,已办结",
             "C1,I01,420606001001,窗口,2023,已办结"]
    drop(tmp_path, "inbox", "cases.csv", ("\n".join(lines) + "\n").encode())
    src = cases(formats={"submitted_at": "excel_serial"})
    r = run_sources(sqlite_url, [divisions_source(), src])[1]
    assert balanced(r) and (r.loaded, r.quarantined) == (1, 1)  # 2023 is still no date
    assert stored(sqlite_url, service_cases, "case_id")["C4"].submitted_at == \
        dt.datetime(2023, 8, 14, 4)


def test_serial_dates_in_xlsx_cells(tmp_path: Path, sqlite_url: str, run_sources) -> None:
    (tmp_path / "inbox").mkdir()
    wb = xlsxwriter.Workbook(str(tmp_path / "inbox" / "cases.xlsx"))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, CASES_HEADER.split(","))
    ws.write_row(1, 0, ["C1", "I01", "420606001001", "窗口"])
    ws.write_number(1, 4, 45152.5)  # a date cell that lost its format
    ws.write_row(1, 5, ["已办结"])
    ws.write_row(2, 0, ["C2", "I01", "420606001001", "窗口"])
    ws.write_number(2, 4, 2023)  # a year typed into a date column
    ws.write_row(2, 5, ["已办结"])
    wb.close()
    r = run_sources(sqlite_url, [divisions_source(), cases()])[1]
    assert balanced(r) and (r.loaded, r.quarantined) == (1, 1)
    assert stored(sqlite_url, service_cases, "case_id")["C1"].submitted_at == \
        dt.datetime(2023, 8, 14, 4)
    assert quarantined(sqlite_url, "cases")[0]["reason"] == "bad_date"


def test_a_comma_that_does_not_group_thousands_is_quarantined(
        tmp_path: Path, sqlite_url: str, run_sources) -> None:
    lines = [SERVICES_HEADER, 'S1,V1,420606001001,助老,2024-01-02 09:00,"1,5"',
             "S2,V1,420606001001,助老,2024-01-02 09:00,2.5"]
    drop(tmp_path, "svc", "services.csv", ("\n".join(lines) + "\n").encode())
    r = run_sources(sqlite_url, [divisions_source(), services()])[1]
    assert balanced(r) and (r.loaded, r.quarantined) == (1, 1)
    q = quarantined(sqlite_url, "services")[0]
    assert (q["row_number"], q["column_name"], q["reason"]) == (2, "hours", "bad_number")
    assert "'1,5'" in q["message"]


def test_a_declared_decimal_comma(tmp_path: Path, sqlite_url: str, run_sources) -> None:
    lines = [SERVICES_HEADER.replace(",", ";"), "S1;V1;420606001001;助老;2024-01-02 09:00;1,5",
             "S2;V1;420606001001;助老;2024-01-02 09:00;2"]
    drop(tmp_path, "svc", "services.csv", ("\n".join(lines) + "\n").encode())
    r = run_sources(sqlite_url, [divisions_source(), services(decimal_comma=True)])[1]
    assert balanced(r) and r.loaded == 2
    rows = stored(sqlite_url, volunteer_services, "record_id")
    assert rows["S1"].hours == 1.5 and rows["S2"].hours == 2.0


def test_bad_formats_settings_are_config_errors(tmp_path: Path, sqlite_url: str) -> None:
    from core.errors import ConfigError
    from ingest.registry import load_validated
    from tests.conftest import write_config

    cfg = write_config(tmp_path, sqlite_url, [cases(formats={"submitted_at": "abc",
                                                             "channel": "%Y"},
                                                    decimal_comma="yes")])
    with pytest.raises(ConfigError) as e:
        load_validated(cfg)
    text = str(e.value)
    assert "formats.submitted_at" in text and "not a date format" in text
    assert "formats.channel" in text and "decimal_comma" in text


# -- item 10: a repeated header is an error naming the file and the header ---------------------

@pytest.mark.parametrize("header", ["rating,rating", "评价,rating"])
def test_a_repeated_header_is_an_error_naming_file_and_header(
        tmp_path: Path, sqlite_url: str, run_sources, header: str) -> None:
    lines = [CASES_HEADER + "," + header, "C1,I01,420606001001,窗口,2023-08-14 09:30,已办结,5,1"]
    drop(tmp_path, "inbox", "twice.csv", ("\n".join(lines) + "\n").encode())
    src = cases()
    src["columns"] = {**CASES_COLUMNS, "评价": "rating"}
    r = run_sources(sqlite_url, [divisions_source(), src])[1]
    assert not r.ok and "twice.csv" in r.error
    first, second = header.split(",")
    assert (f"the header '{first}' appears twice" in r.error if first == second
            else f"the headers '{first}' and '{second}' both map to the column 'rating'"
            in r.error)
    assert stored(sqlite_url, service_cases, "case_id") == {}


def test_a_repeated_header_in_xlsx_and_harmless_repeats(tmp_path: Path, sqlite_url: str,
                                                        run_sources) -> None:
    (tmp_path / "inbox").mkdir()
    wb = xlsxwriter.Workbook(str(tmp_path / "inbox" / "twice.xlsx"))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, [*CASES_HEADER.split(","), "受理时间"])
    ws.write_row(1, 0, ["C1", "I01", "420606001001", "窗口", "2023-08-14", "已办结", "2023-08-15"])
    wb.close()
    r = run_sources(sqlite_url, [divisions_source(), cases()])[1]
    assert not r.ok and "twice.xlsx" in r.error and "'受理时间' appears twice" in r.error
    # two columns nobody maps (备注, 备注) lose nothing that would load: allowed
    (tmp_path / "inbox" / "twice.xlsx").unlink()
    lines = [CASES_HEADER + ",备注,备注", "C1,I01,420606001001,窗口,2023-08-14 09:30,已办结,a,b"]
    drop(tmp_path, "inbox", "notes.csv", ("\n".join(lines) + "\n").encode())
    r = run_sources(sqlite_url, [divisions_source(), cases()])[1]
    assert balanced(r) and r.loaded == 1
