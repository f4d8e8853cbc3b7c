"""The files plugin: encodings, title rows, Chinese headers, XLSX, hashes, bad input."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from sqlalchemy import select

from core.errors import EncodingError
from ingest.plugins.textfile import decode
from tests.conftest import divisions_source
from tests.ingest.plugin_contract import PluginContract
from warehouse.engine import open_warehouse
from warehouse.schema import service_cases, service_items

HEADER_ZH = "办件编号,事项编码,社区代码,办理渠道,受理时间,办结时间,办件状态,跑动次数,评价,是否整改"
COLUMNS_ZH = {
    "办件编号": "case_id", "事项编码": "item_code", "社区代码": "community_code",
    "办理渠道": "channel", "受理时间": "submitted_at", "办结时间": "completed_at",
    "办件状态": "status", "跑动次数": "visits", "评价": "rating", "是否整改": "rectified",
}
ROWS_ZH = [
    "BJ001,I01,420606001001,网上办,2023年8月14日 09:30,2023-08-15 10:00,已办结,0,非常满意,",
    "BJ002,I01,420606001002,窗口,2023.8.14,,已受理,１,满意,",
    "BJ003,I02,420606002001,驿站,20230814,2023/8/16 17:00,已办结,2,2,是",
]


def cases_source(folder: Path, pattern: str = "inbox/*.csv", **extra: Any) -> dict[str, Any]:
    return {"id": "gov_cases", "plugin": "files", "table": "service_cases", "path": pattern,
            "columns": COLUMNS_ZH, **extra}


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = folder / "inbox" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text.encode(encoding))
    return p


class TestFilesContract(PluginContract):
    plugin = "files"
    expected_rows = 3

    def source_config(self, tmp_path: Path) -> dict[str, Any]:
        write(tmp_path, "cases.csv", "\n".join([HEADER_ZH, *ROWS_ZH]) + "\n", "gb18030")
        return cases_source(tmp_path)

    def check_loaded(self, tmp_path: Path, warehouse_url: str) -> None:
        eng = open_warehouse(warehouse_url)
        with eng.connect() as c:
            rows = {r.case_id: r for r in c.execute(select(service_cases))}
        eng.dispose()
        assert rows["BJ001"].channel == "online" and rows["BJ001"].rating == 5
        # 09:30 in Asia/Shanghai is 01:30 UTC: sources are local time, storage is UTC
        assert rows["BJ001"].submitted_at == dt.datetime(2023, 8, 14, 1, 30)
        assert rows["BJ002"].visits == 1 and rows["BJ002"].status == "accepted"
        assert rows["BJ003"].rectified is True and rows["BJ003"].channel == "station"


def test_gb18030_without_bom_and_utf8_with_bom_both_load(
        tmp_path: Path, sqlite_url: str, run_sources) -> None:
    write(tmp_path, "a.csv", "\n".join([HEADER_ZH, ROWS_ZH[0]]) + "\n", "gb18030")
    write(tmp_path, "b.csv", "\ufeff" + "\n".join([HEADER_ZH, ROWS_ZH[1]]) + "\n", "utf-8")
    r = run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path)])[1]
    assert r.ok, r.error
    assert (r.read, r.loaded, r.quarantined) == (2, 2, 0)


def test_title_rows_above_header_are_skipped_and_rows_numbered_as_in_the_file(
        tmp_path: Path, sqlite_url: str, run_sources) -> None:
    bad = "BJ009,I01,420606001001,网上办,not-a-date,,已办结,0,5,"
    text = "\n".join(["樊城区政务服务办件明细表", "统计时间：2023年8月", HEADER_ZH,
                      ROWS_ZH[0], bad])
    write(tmp_path, "titled.csv", text + "\n")
    r = run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path)])[1]
    assert r.ok and (r.loaded, r.quarantined) == (1, 1)
    eng = open_warehouse(sqlite_url)
    q = runlog.list_quarantine(eng, source="gov_cases")
    assert q[0]["row_number"] == 5 and q[0]["column_name"] == "submitted_at"
    assert q[0]["reason"] == "bad_date" and "受理时间" in q[0]["message"]
    assert "not-a-date" in q[0]["raw"]


def test_invalid_bytes_in_both_encodings_name_the_line(tmp_path: Path) -> None:
    data = (HEADER_ZH + "\n" + ROWS_ZH[0] + "\n").encode("utf-8") + b"BJ9,\xff\xfe\x80,x\n"
    dec = decode(data, "inbox/x.csv")
    assert dec.encoding == "utf-8" and list(dec.bad) == [3]
    assert "line 3" in dec.bad[3] and "ff fe 80" in dec.bad[3]
    assert dec.lines is not None and dec.lines[2] == "BJ9,\\xff\\xfe\\x80,x"  # escaped, not guessed
    with pytest.raises(EncodingError) as e:  # a header that does not decode: the whole file
        decode(b"\x80\xff\x80,\xff\xff\n" + data, "inbox/x.csv")
    assert "line 1" in str(e.value) and "inbox/x.csv" in str(e.value)


def test_undecodable_file_fails_the_source_but_not_the_others(tmp_path: Path, sqlite_url: str,
                                                               run_sources) -> None:
    p = write(tmp_path, "bad.csv", HEADER_ZH + "\n")
    p.write_bytes(p.read_bytes() + b"\xff\xff\xff\n" * 3 + (ROWS_ZH[0] + "\n").encode())
    items = tmp_path / "items" / "items.csv"
    items.parent.mkdir()
    items.write_text("item_code,item_name,online_capable\nI01,身份证,是\n", encoding="utf-8")
    results = run_sources(sqlite_url, [
        divisions_source(), cases_source(tmp_path),
        {"id": "items", "plugin": "files", "table": "service_items", "path": "items/*.csv"},
    ])
    by = {r.source: r for r in results}
    assert not by["gov_cases"].ok and "bad.csv" in by["gov_cases"].error
    assert "line 2" in by["gov_cases"].error and "3 of 5 lines" in by["gov_cases"].error
    assert by["items"].ok and by["items"].loaded == 1


def test_header_only_file_empties_no_table(tmp_path: Path, sqlite_url: str, run_sources) -> None:
    write(tmp_path, "a.csv", "\n".join([HEADER_ZH, *ROWS_ZH]) + "\n")
    assert run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path)])[1].ok
    write(tmp_path, "empty.csv", HEADER_ZH + "\n")
    r = run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path)], ids=["gov_cases"])[0]
    assert r.ok and r.read == 0
    eng = open_warehouse(sqlite_url)
    with eng.connect() as c:
        assert len(c.execute(select(service_cases.c.case_id)).all()) == 3


def test_missing_required_columns_are_all_listed(tmp_path: Path, sqlite_url: str,
                                                 run_sources) -> None:
    write(tmp_path, "a.csv", "办件编号,办理渠道\nBJ1,窗口\n")
    r = run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path)])[1]
    assert not r.ok
    for col in ("item_code", "community_code", "submitted_at", "status"):
        assert col in r.error
    assert "a.csv" in r.error


def test_unknown_community_is_quarantined_with_reason(tmp_path: Path, sqlite_url: str,
                                                      run_sources) -> None:
    row = "BJ100,I01,420606999999,窗口,2023-08-14,,已受理,1,,"
    write(tmp_path, "a.csv", "\n".join([HEADER_ZH, row]) + "\n")
    r = run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path)])[1]
    assert r.ok and r.quarantined == 1 and r.loaded == 0
    q = runlog.list_quarantine(open_warehouse(sqlite_url), source="gov_cases")[0]
    assert q["reason"] == "unknown_community" and q["column_name"] == "community_code"
    assert "420606999999" in q["message"]


def test_duplicate_keys_in_one_batch_latest_wins_and_are_counted(tmp_path: Path, sqlite_url: str,
                                                                 run_sources) -> None:
    first = "BJ7,I01,420606001001,窗口,2023-08-14,,已受理,1,,"
    second = "BJ7,I01,420606001001,窗口,2023-08-14,2023-08-20,已办结,1,3,"
    write(tmp_path, "a.csv", "\n".join([HEADER_ZH, first, second]) + "\n")
    r = run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path)])[1]
    assert (r.read, r.loaded, r.duplicates) == (2, 1, 1)
    with open_warehouse(sqlite_url).connect() as c:
        row = c.execute(select(service_cases)).one()
    assert row.status == "completed" and row.rating == 3


def test_same_content_under_another_name_is_skipped(tmp_path: Path, sqlite_url: str,
                                                    run_sources) -> None:
    text = "\n".join([HEADER_ZH, *ROWS_ZH]) + "\n"
    write(tmp_path, "a.csv", text)
    run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path)])
    write(tmp_path, "copy-of-a.csv", text)
    r = run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path)], ids=["gov_cases"])[0]
    assert r.ok and r.read == 0


def test_a_loaded_file_is_skipped_even_if_its_first_piece_no_longer_reads(
        tmp_path: Path, sqlite_url: str, run_sources) -> None:
    """The hash is computed while the first piece is read (files._scan_and_start): an error
    reading it counts only for a file not loaded before."""
    rows = [f"{r},x,y" for r in ROWS_ZH]
    write(tmp_path, "a.csv", "\n".join([HEADER_ZH + ",备注,备注", *rows]) + "\n")
    assert run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path)])[1].loaded == 3
    # 备注 named now (rectified): its two columns are an error when the file is read
    mapped = {k: v for k, v in COLUMNS_ZH.items() if v != "rectified"}
    named = cases_source(tmp_path, columns={**mapped, "备注": "rectified"})
    r = run_sources(sqlite_url, [divisions_source(), named], ids=["gov_cases"])[0]
    assert r.ok and r.read == 0
    write(tmp_path, "b.csv", "\n".join([HEADER_ZH + ",备注,备注", rows[0].replace("BJ001", "BJ9")])
          + "\n")
    r = run_sources(sqlite_url, [divisions_source(), named], ids=["gov_cases"])[0]
    assert not r.ok and "b.csv" in r.error and "appears twice" in r.error


def test_changed_row_in_a_new_file_updates_and_keeps_others(tmp_path: Path, sqlite_url: str,
                                                            run_sources) -> None:
    write(tmp_path, "a.csv", "\n".join([HEADER_ZH, *ROWS_ZH]) + "\n")
    run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path)])
    changed = ROWS_ZH[1].replace("已受理", "已办结").replace(",,", ",2023-08-20 12:00,", 1)
    write(tmp_path, "b.csv", "\n".join([HEADER_ZH, changed, ROWS_ZH[0]]) + "\n")
    r = run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path)], ids=["gov_cases"])[0]
    assert (r.inserted, r.updated, r.loaded) == (0, 1, 2)


def _xlsx(path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("事项清单")
    ws.merge_range(0, 0, 0, 4, "樊城区政务服务事项目录（2023版）")
    ws.write_row(1, 0, ["事项编码", "事项名称", "实施部门", "可网办", "承诺时限", "发布日期"])
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(2, 0, ["I01", "居民身份证申领", "公安分局", "是", 5])
    ws.write_datetime(2, 5, dt.datetime(2023, 8, 14), date_fmt)
    ws.write_row(3, 0, ["I02", "户口迁移", "公安分局", "否", "２０", 45152])
    ws.write_row(5, 0, ["I03", "", "民政局", "是", 3])  # a blank row above, and no name
    wb.close()


def test_xlsx_with_title_row_serial_dates_and_fullwidth_digits(tmp_path: Path, sqlite_url: str,
                                                               run_sources) -> None:
    (tmp_path / "items").mkdir()
    _xlsx(tmp_path / "items" / "items.xlsx")
    src = {"id": "items", "plugin": "files", "table": "service_items", "path": "items/*.xlsx",
           "columns": {"事项编码": "item_code", "事项名称": "item_name", "实施部门": "department",
                       "可网办": "online_capable", "承诺时限": "promised_days"}}
    r = run_sources(sqlite_url, [src])[0]
    assert r.ok, r.error
    assert (r.read, r.loaded, r.quarantined) == (3, 2, 1)
    with open_warehouse(sqlite_url).connect() as c:
        rows = {x.item_code: x for x in c.execute(select(service_items))}
    assert rows["I02"].promised_days == 20 and rows["I01"].online_capable is True
    q = runlog.list_quarantine(open_warehouse(sqlite_url), source="items")[0]
    assert q["sheet"] == "事项清单" and q["row_number"] == 6 and q["reason"] == "missing_value"


def test_excel_dates_in_date_columns(tmp_path: Path) -> None:
    import polars as pl

    from ingest.normalize.values import parse_datetime

    s = pl.Series(["45152", "45152.5", "2023-08-14 00:00:00"])
    out = parse_datetime(s, serials=True).to_list()
    assert out[0] == dt.datetime(2023, 8, 13, 16) and out[1] == dt.datetime(2023, 8, 14, 4)
    assert out[2] == out[0]


def test_unsupported_suffix_is_a_clear_error(tmp_path: Path, sqlite_url: str, run_sources) -> None:
    p = tmp_path / "inbox" / "x.json"
    p.parent.mkdir()
    p.write_text("{}")
    r = run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path, "inbox/*")])[1]
    assert not r.ok and "x.json" in r.error and "unsupported" in r.error


def test_file_over_size_limit_is_refused_before_reading(tmp_path: Path, sqlite_url: str,
                                                        run_sources) -> None:
    p = write(tmp_path, "big.csv", HEADER_ZH + "\n")
    with open(p, "ab") as f:
        f.truncate(2 * 2**20)
    r = run_sources(sqlite_url, [divisions_source(),
                                 cases_source(tmp_path, max_file_mb=1)])[1]
    assert not r.ok and "over the limit" in r.error
    assert os.path.getsize(p) == 2 * 2**20


from warehouse import runlog  # noqa: E402


@pytest.mark.parametrize("bad", ["/etc/*.csv", "../outside/*.csv", "inbox/../../x.csv"])
def test_paths_outside_the_config_folder_are_refused(tmp_path: Path, bad: str) -> None:
    from core.errors import ConfigError
    from ingest.registry import load_validated
    from tests.conftest import write_config

    cfg = write_config(tmp_path, "sqlite:///w.db", [cases_source(tmp_path, bad)])
    with pytest.raises(ConfigError) as e:
        load_validated(cfg)
    assert "path" in str(e.value) and "config folder" in str(e.value)


def test_symlinks_in_the_drop_folder_are_refused(tmp_path: Path, sqlite_url: str,
                                                 run_sources) -> None:
    secret = tmp_path / "elsewhere" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("\n".join([HEADER_ZH, *ROWS_ZH]) + "\n", encoding="utf-8")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "link.csv").symlink_to(secret)
    r = run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path)])[1]
    assert not r.ok and "symbolic link" in r.error and "link.csv" in r.error
    (tmp_path / "inbox" / "link.csv").unlink()
    (tmp_path / "inbox" / "sub").symlink_to(secret.parent, target_is_directory=True)
    r = run_sources(sqlite_url, [divisions_source(), cases_source(tmp_path, "inbox/**/*.csv")])[1]
    assert not r.ok and "symbolic link" in r.error


def test_xlsx_zip_bomb_is_refused_before_parsing(tmp_path: Path, sqlite_url: str,
                                                 run_sources) -> None:
    import zipfile

    (tmp_path / "items").mkdir()
    bomb = tmp_path / "items" / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<" + b"a" * (300 * 2**20) + b">")
    assert bomb.stat().st_size < 2 * 2**20
    src = {"id": "items", "plugin": "files", "table": "service_items", "path": "items/*.xlsx"}
    r = run_sources(sqlite_url, [src])[0]
    assert not r.ok and "zip bomb" in r.error and "bomb.xlsx" in r.error
