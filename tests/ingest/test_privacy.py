"""Personal data: ID numbers checked and pseudonymised, phones and names masked, and no clear
ID number or phone in the warehouse, the quarantine, the run log, CLI output or logs."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from core import privacy
from ingest.normalize.personal import valid_id_numbers
from tests.conftest import divisions_source, write_config
from warehouse.engine import open_warehouse
from warehouse.schema import volunteers

KEY = "test-pseudonym-key-0123456789"
GOOD_ID = "11010519491231002X"  # the standard's own example: valid checksum
GOOD_ID2 = "420606199001011239"
BAD_ID = "420606199001011234"  # wrong check digit
PHONE = "13812348000"
PHONE2 = "+86 139-0000-1111"
HEADER = "志愿者编号,社区代码,注册时间,姓名,身份证号,手机号,备注"


def make_id(prefix17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(prefix17, weights, strict=True))
    return prefix17 + "10X98765432"[total % 11]


def test_gb11643_checks() -> None:
    assert make_id("42060619900101123") == GOOD_ID2
    s = pl.Series([GOOD_ID, GOOD_ID2, BAD_ID, "42060619901301123" + "0", "123", None])
    got = valid_id_numbers(s, today=dt.date(2026, 1, 1)).to_list()
    assert got == [True, True, False, False, False, False]


def test_masks() -> None:
    assert privacy.mask_id(GOOD_ID2) == "420***********1239"
    assert privacy.mask_phone(PHONE) == "138****8000"
    assert privacy.mask_name("张三") == "张*" and privacy.mask_name("欧阳娜娜") == "欧***"
    text = f"id {GOOD_ID2} tel {PHONE}."
    assert privacy.redact(text) == "id 420***********1239 tel 138****8000."


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("GONGZHI_PSEUDONYM_KEY", KEY)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rows = [
        HEADER,
        f"V1,420606001001,2024-01-02,张三,{GOOD_ID2},{PHONE},",
        f"V2,420606001002,2024-01-03,欧阳娜娜,{GOOD_ID},{PHONE2},",
        f"V3,420606001001,2024-01-04,李四,{BAD_ID},13700001111,",  # bad ID: quarantined
        f"V4,420606999999,2024-01-05,王五,{make_id('42060619850505567')},13600002222,"
        f"联系{PHONE}",  # unknown community, phone also in a free-text column
    ]
    (inbox / "v.csv").write_text("\n".join(rows) + "\n", encoding="utf-8-sig")
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", [
        divisions_source(),
        {"id": "vols", "plugin": "files", "table": "volunteers", "path": "inbox/*.csv",
         "columns": {"志愿者编号": "volunteer_id", "社区代码": "community_code",
                     "注册时间": "registered_at", "姓名": "name", "身份证号": "id_number",
                     "手机号": "phone"}},
    ])
    return tmp_path, cfg


def test_personal_fields_are_masked_hashed_and_never_stored_in_clear(planted) -> None:
    folder, cfg = planted
    gz = str(Path(sys.executable).with_name("gongzhi"))
    env_out = subprocess.run([gz, "--config", str(cfg), "ingest"], capture_output=True,
                             text=True, timeout=120)
    assert env_out.returncode == 0, env_out.stderr
    engine = open_warehouse(f"sqlite:///{folder / 'w.db'}")
    with engine.connect() as c:
        rows = {r.volunteer_id: r for r in c.execute(select(volunteers))}
    assert set(rows) == {"V1", "V2"}
    v1 = rows["V1"]
    assert (v1.name_masked, v1.id_masked, v1.phone_masked) == ("张*", "420***********1239",
                                                               "138****8000")
    assert v1.id_hash == privacy.pseudonym(GOOD_ID2, KEY.encode())
    assert rows["V2"].phone_masked == "139****1111"
    assert rows["V2"].id_masked == "110***********002X"
    outputs = [env_out.stdout, env_out.stderr]
    from warehouse import accounts

    accounts.add_user(engine, "boss", "district-leader-2024", "leader", "420606000000")
    leader_env = {**os.environ, "GONGZHI_PASSWORD": "district-leader-2024"}
    for cmd in (["quarantine", "--user", "boss"],
                ["quarantine", "--format", "json", "--user", "boss"], ["runs"]):
        res = subprocess.run([gz, "--config", str(cfg), *cmd], capture_output=True, text=True,
                             timeout=60, env=leader_env)
        outputs += [res.stdout, res.stderr]
    joined = "\n".join(outputs)
    assert "invalid_id_number" in joined and "420***********1234" in joined
    engine.dispose()
    stored = b"".join(p.read_bytes() for p in folder.glob("w.db*"))
    secrets = [GOOD_ID, GOOD_ID2, BAD_ID, PHONE, "13900001111", "13700001111", "13600002222",
               "张三", "欧阳娜娜", "李四"]
    for secret in secrets:
        assert secret.encode() not in stored, f"{secret} reached the warehouse file"
        assert secret not in joined, f"{secret} reached CLI output"


def test_ids_need_the_pseudonym_key(planted, monkeypatch: pytest.MonkeyPatch) -> None:
    _, cfg = planted
    monkeypatch.delenv("GONGZHI_PSEUDONYM_KEY")
    from ingest.registry import load_validated
    from ingest.runner import Runner

    settings = load_validated(cfg)
    r = Runner(settings, open_warehouse(settings.warehouse_url)).run()[1]
    assert not r.ok and "GONGZHI_PSEUDONYM_KEY" in r.error
