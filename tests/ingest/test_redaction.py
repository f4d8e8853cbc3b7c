"""One redaction step for every value leaving ingestion: free-text columns in the warehouse,
quarantine rows, run-log errors and CLI output never hold a clear ID number (15 or 18 digits,
any check digit), phone (mobile or landline, in its common spellings), bank-card-like number,
or a name after a label such as 联系人; codes and keys stay as the source gave them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from core import privacy
from tests.conftest import divisions_source, write_config
from warehouse.engine import open_warehouse
from warehouse.schema import service_cases, volunteer_services

ID15 = "420606900101123"
ID18_BAD_CHECK = "420606199001011234"  # any check digit is redacted
CARD = "6222 0212 3456 7890"
CARD_PLAIN = "6222021234567890123"
PHONES = ["138-0013-8000", "138 0013 8001", "+86 13800138002", "+86-138-0013-8003",
          "0086 13800138004", "(+86)13800138005", "0710-1234567", "(0710)7654321",
          "（0710）2345678", "0710 23456789"]
CLEAR = [ID15, ID18_BAD_CHECK, CARD, CARD_PLAIN, "13800138000", "13800138001", "13800138002",
         "13800138003", "13800138004", "13800138005", "1234567", "7654321", "2345678",
         "23456789", "张三丰", "李四"]


@pytest.mark.parametrize(("text", "expected"), [
    (f"身份证{ID15}", "身份证420********1123"),
    (f"证号 {ID18_BAD_CHECK}。", "证号 420***********1234。"),
    ("420606 19900101 123X", "420***********123X"),
    ("138-0013-8000", "138****8000"), ("138 0013 8000", "138****8000"),
    ("+86 13800138000", "138****8000"), ("8613800138000", "138****8000"),
    ("(+86)13800138000", "138****8000"), ("tel13800138000", "tel138****8000"),
    ("0710-1234567", "0710-****567"), ("(0710)1234567", "0710-****567"),
    ("（0710）1234567", "0710-****567"), ("010-12345678-123", "010-****678"),
    ("卡号 6222 0212 3456 7890", "卡号 6222********7890"),
    ("6222021234567890123", "6222***********0123"),
    # a name is taken as 2-4 characters: 说 is masked too (more, never less)
    ("姓名：张三，联系人 欧阳娜娜，投诉人:李四说", "姓名：张*，联系人 欧***，投诉人:李**"),
    # not personal: dates, amounts, codes inside identifiers, short numbers
    ("2023-08-14 09:30:00 共 1,234 件", "2023-08-14 09:30:00 共 1,234 件"),
    ("4fd3b167e750846744000005", "4fd3b167e750846744000005"),
    ("编号 12345 门牌 88 号", "编号 12345 门牌 88 号"),
])
def test_redact_covers_the_common_spellings(text: str, expected: str) -> None:
    assert privacy.redact(text) == expected
    assert privacy.redact(expected) == expected  # idempotent


def test_name_labels_are_configurable(tmp_path: Path, sqlite_url: str) -> None:
    from ingest.registry import load_validated

    assert privacy.redact("报修户 王五 来电") == "报修户 王五 来电"
    load_validated(write_config(tmp_path, sqlite_url, [],
                                '[privacy]\nname_labels = ["报修户"]\n'))
    try:
        assert privacy.redact("报修户 王五 来电") == "报修户 王* 来电"
    finally:
        privacy.configure([])


def test_nothing_personal_leaves_ingestion_in_clear(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    (tmp_path / "svc").mkdir()
    svc_file = f"走访_{ID15}.csv"  # a file named after a person
    free = [f"走访 {ID15} 家", f"联系 {PHONES[0]} / {PHONES[1]}", f"回访 {PHONES[2]}",
            f"{PHONES[3]} 已联系", f"电话 {PHONES[4]}", f"电话{PHONES[5]}", f"座机 {PHONES[6]}",
            f"座机{PHONES[7]}", f"座机{PHONES[8]}", f"座机 {PHONES[9]}", f"卡 {CARD}",
            f"卡{CARD_PLAIN}", "联系人：张三丰 上门", f"姓名 李四 {ID18_BAD_CHECK}"]
    lines = ["record_id,volunteer_id,community_code,activity,started_at,hours,备注"]
    lines += [f"S{i},V1,420606001001,{a},2024-01-02 09:00,1,{a}" for i, a in enumerate(free)]
    # quarantined rows (bad hours, unknown community) carrying the same values
    lines += [f"Q1,V2,420606001001,{free[0]},2024-01-02 09:00,99,{free[1]}",
              f"Q2,V3,420606999999,{free[12]},2024-01-02 09:00,1,{free[13]}",
              f"Q3,V4,420606001001,{free[10]},not a date {PHONES[6]},1,{free[11]}"]
    (tmp_path / "svc" / svc_file).write_text("\n".join(lines) + "\n", encoding="utf-8")
    # an 18-digit case number is a key, not an ID number: it stays as it is
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "c.csv").write_text(
        "case_id,item_code,community_code,channel,submitted_at,status\n"
        "420606202308140001,I01,420606001001,online,2023-08-14 09:30,completed\n",
        encoding="utf-8")
    # a file named after a person, with a header twice: its error names the file, redacted
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / f"申请_{ID18_BAD_CHECK}.csv").write_text(
        "case_id,case_id\n1,2\n", encoding="utf-8")
    cfg = write_config(tmp_path, url, [
        divisions_source(),
        {"id": "svc", "plugin": "files", "table": "volunteer_services", "path": "svc/*.csv"},
        {"id": "cases", "plugin": "files", "table": "service_cases", "path": "cases/*.csv"},
        {"id": "bad", "plugin": "files", "table": "service_cases", "path": "bad/*.csv"},
    ], '[dashboard]\nsign_in = "open"\n')  # `gongzhi quarantine` without an account
    gz = str(Path(sys.executable).with_name("gongzhi"))
    ingest = subprocess.run([gz, "--config", str(cfg), "ingest"], capture_output=True,
                            text=True, timeout=180)
    assert ingest.returncode == 1 and "appears twice" in ingest.stderr  # only 'bad' failed
    engine = open_warehouse(url)
    with engine.connect() as c:
        acts = {r.record_id: r.activity for r in c.execute(select(volunteer_services))}
        case_ids = [r.case_id for r in c.execute(select(service_cases))]
    assert len(acts) == len(free) and case_ids == ["420606202308140001"]
    assert acts["S0"] == "走访 420********1123 家"
    assert acts["S1"] == "联系 138****8000 / 138****8001"
    assert acts["S6"] == "座机 0710-****567" and acts["S10"] == "卡 6222********7890"
    assert acts["S12"] == "联系人：张** 上门"
    outputs = [ingest.stdout, ingest.stderr]
    for cmd in (["quarantine"], ["quarantine", "--format", "json"], ["runs"],
                ["runs", "--format", "json"]):
        res = subprocess.run([gz, "--config", str(cfg), *cmd], capture_output=True, text=True,
                             timeout=60)
        assert res.returncode == 0, res.stderr
        outputs += [res.stdout, res.stderr]
    joined = "\n".join(outputs)
    assert "Q1" in joined and "Q2" in joined and "Q3" in joined  # the rows are there…
    assert "申请_420***********1234.csv" in joined  # …and the failed file, named redacted
    assert "走访_420********1123.csv" in joined
    engine.dispose()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("w*.db*"))
    for secret in CLEAR:
        assert secret.encode() not in stored, f"{secret} reached the warehouse"
        assert secret not in joined, f"{secret} reached CLI output"
    assert b"420606202308140001" in stored  # the key was kept


def test_codes_are_kept_in_the_quarantine_even_when_they_look_like_ids() -> None:
    import polars as pl

    from ingest.normalize.cast import cast_batch
    from warehouse.schema import grid_events

    grid = "420606003002999"  # 15 digits, like an old ID number: a grid code all the same
    frame = pl.DataFrame({"event_id": ["E1"], "grid_code": [grid], "reported_at": ["2024-01-02"],
                          "备注": [f"居民 {ID15} 反映"]})
    bad = cast_batch(frame, grid_events, columns={}, defaults={}, known_codes={},
                     location="e.csv").bad.row(0, named=True)
    assert bad["reason"] == "unknown_grid" and f"'{grid}' is not a known grid code" in \
        bad["message"]
    assert f'"grid_code":"{grid}"' in bad["raw"] and ID15 not in bad["raw"]
    assert "420********1123" in bad["raw"]
