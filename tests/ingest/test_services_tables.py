"""帮办团, 商圈党建 and 街道职权清单 tables through the real runner: the source systems' words
for roles, kinds and statuses, codes checked against the division list at their level (a
community for teams and merchants, a street for the power list, enforcers and cases), bad rows
quarantined with file, row, column and reason, and people's names, phones and ID numbers
masked or pseudonymised before storage (the warehouse's bytes are searched, not only its rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ingest.registry import load_validated
from ingest.runner import Runner
from tests.conftest import divisions_source, write_config
from warehouse import runlog
from warehouse.engine import open_warehouse
from warehouse.schema import data_tables

MOBILE = "13812348000"
ID18 = "420606199001011239"  # a valid check digit
BAD_ID = "420606199001011234"  # the same with a wrong one


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key that pseudonymises ID numbers (from the environment, as in production)."""
    monkeypatch.setenv("GONGZHI_PSEUDONYM_KEY", "test-key-for-the-service-tables")


def _load(tmp_path: Path, files: dict[str, tuple[str, list[str]]],
          sources: list[dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    for name, (header, rows) in files.items():
        p = tmp_path / "in" / name
        p.parent.mkdir(exist_ok=True)
        p.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    cfg = write_config(tmp_path, url, [divisions_source(), *sources])
    engine = open_warehouse(url)
    results = {r.source: r for r in Runner(load_validated(cfg), engine).run()}
    return engine, results


def _rows(engine: Any, table: str, key: str) -> dict[str, Any]:
    t = data_tables()[table]
    with engine.connect() as c:
        return {getattr(r, key): r for r in c.execute(select(t))}


def _reasons(engine: Any, source: str) -> list[tuple[int, str, str]]:
    return sorted((r["row_number"], r["column_name"], r["reason"])
                  for r in runlog.list_quarantine(engine, source=source))


def _stored_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp_path.glob("w*.db*"))


def test_help_teams_members_and_services(tmp_path: Path) -> None:
    engine, res = _load(tmp_path, {
        "teams.csv": ("team_id,community_code,name,formed_on", [
            "T1,420606001001,高庄社区红色帮办团,2023-06-01",
            "T2,420606001099,不存在社区帮办团,2023-06-01",  # not in the division list
            "T3,420606001000,街道帮办团,2023-06-01"]),  # a street's code, not a community's
        "members.csv": ("member_id,team_id,community_code,role,姓名,手机,身份证号", [
            f"M1,T1,420606001001,网格员,张三丰,{MOBILE},{ID18}",
            "M2,T1,420606001001,双报到党员,李四,,",
            f"M3,T1,420606001001,志愿者,王五,,{BAD_ID}"]),  # wrong check digit
        "services.csv": ("service_id,team_id,community_code,case_id,served_at,kind,beneficiary", [
            "S1,T1,420606001001,C100,2024-05-02 09:00,代办,行动不便老人",
            "S2,T1,420606001001,,2024-05-03 09:00,预约,在外务工人员",
            "S3,T1,420606001001,,2024-05-04 09:00,快递,残疾人",  # not a kind of service
            "S4,T1,420606001001,,,帮办,残疾人"]),  # no time
    }, [
        {"id": "teams", "plugin": "files", "table": "help_teams", "path": "in/teams.csv"},
        {"id": "members", "plugin": "files", "table": "help_team_members",
         "path": "in/members.csv", "columns": {"姓名": "name", "手机": "phone",
                                               "身份证号": "id_number"}},
        {"id": "services", "plugin": "files", "table": "help_team_services",
         "path": "in/services.csv"}])
    for source, counts in (("teams", (3, 1, 2)), ("members", (3, 2, 1)),
                           ("services", (4, 2, 2))):
        r = res[source]
        assert r.ok and (r.read, r.loaded, r.quarantined) == counts, (source, r)
    assert _reasons(engine, "teams") == [(3, "community_code", "unknown_community"),
                                         (4, "community_code", "unknown_community")]
    assert _reasons(engine, "services") == [(4, "kind", "bad_code"),
                                            (5, "served_at", "missing_value")]
    assert _reasons(engine, "members")[0][2] == "invalid_id_number"
    members = _rows(engine, "help_team_members", "member_id")
    assert (members["M1"].role, members["M2"].role) == ("grid_worker", "party_member")
    assert members["M1"].name_masked == "张**" and members["M1"].phone_masked == "138****8000"
    assert members["M1"].id_masked == "420***********1239" and members["M1"].id_hash
    services = _rows(engine, "help_team_services", "service_id")
    assert (services["S1"].kind, services["S1"].beneficiary, services["S1"].case_id) == (
        "proxy", "elderly", "C100")
    assert (services["S2"].kind, services["S2"].case_id) == ("appointment", None)
    quarantined = runlog.list_quarantine(engine, source="members")[0]
    assert BAD_ID not in quarantined["raw"] and "王五" not in quarantined["raw"]
    engine.dispose()
    stored = _stored_bytes(tmp_path)
    for clear in (MOBILE, ID18, BAD_ID, "张三丰"):
        assert clear.encode() not in stored, clear


def test_model_merchants_and_their_problems(tmp_path: Path) -> None:
    engine, res = _load(tmp_path, {
        "merchants.csv": ("商户编号,商户名称,社区编码,命名日期,店主姓名,联系电话", [
            f"MM1,高庄红心便利店,420606001001,2022-05-01,赵六,{MOBILE}",
            "MM2,汉江面馆,420606001002,2022-13-01,钱七,"]),  # no 13th month
        "problems.csv": ("问题编号,示范商户编号,社区编码,提出或帮解,提出时间,解决时间,状态", [
            "P1,MM1,420606001001,帮助解决,2024-05-03 10:00,2024-05-10 16:00,已解决",
            "P2,MM1,420606001001,提出,2024-05-12 09:00,,办理中",
            "P3,MM1,420606001001,围观,2024-05-12 09:00,,办理中",  # neither raised nor helped
            "P4,MM1,420606999999,帮带,2024-05-12 09:00,,待解决"]),  # unknown community
    }, [
        {"id": "merchants", "plugin": "files", "table": "model_merchants",
         "path": "in/merchants.csv",
         "columns": {"商户编号": "merchant_id", "商户名称": "merchant_name",
                     "社区编码": "community_code", "命名日期": "designated_on",
                     "店主姓名": "name", "联系电话": "phone"}},
        {"id": "problems", "plugin": "files", "table": "merchant_problems",
         "path": "in/problems.csv",
         "columns": {"问题编号": "problem_id", "示范商户编号": "merchant_id",
                     "社区编码": "community_code", "提出或帮解": "role", "提出时间": "raised_at",
                     "解决时间": "resolved_at", "状态": "status"}}])
    assert (res["merchants"].loaded, res["merchants"].quarantined) == (1, 1)
    assert (res["problems"].loaded, res["problems"].quarantined) == (2, 2)
    assert _reasons(engine, "merchants") == [(3, "designated_on", "bad_date")]
    assert _reasons(engine, "problems") == [(4, "role", "bad_code"),
                                            (5, "community_code", "unknown_community")]
    m = _rows(engine, "model_merchants", "merchant_id")["MM1"]
    assert (m.merchant_name, m.name_masked, m.phone_masked) == ("高庄红心便利店", "赵*",
                                                                "138****8000")
    p = _rows(engine, "merchant_problems", "problem_id")
    assert [(p[k].role, p[k].status) for k in ("P1", "P2")] == [
        ("helped", "resolved"), ("raised", "in_progress")]
    engine.dispose()
    assert MOBILE.encode() not in _stored_bytes(tmp_path)


def test_street_power_list_enforcers_and_cases(tmp_path: Path) -> None:
    engine, res = _load(tmp_path, {
        "items.csv": ("street_code,item_code,item_name,kind,legal_basis,department,delegated_on", [
            "420606001000,D1,对占道经营的处罚,行政处罚,《城市市容和环境卫生管理条例》第三十六条,"
            "区城市管理执法局,2021-09-01",
            "420606001000,D2,临时占用道路许可,行政许可,,区住房和城乡建设局,2021-09-01",
            "420606001001,D1,对占道经营的处罚,行政处罚,,区城市管理执法局,2021-09-01",
            "420606002000,D9,对占道经营的处罚,行政处罚,,,2021-09-01"]),  # no department
        "enforcers.csv": ("enforcer_id,street_code,certificate_no,certified_on,姓名,身份证号", [
            f"E1,420606001000,42060621001,2021-10-01,孙八,{ID18}",
            "E2,420606999000,42060621002,2021-10-01,周九,"]),  # unknown street
        "cases.csv": ("case_id,street_code,item_code,opened_at,closed_at,status", [
            "Z1,420606001000,D1,2024-05-06 09:00,2024-05-20 10:00,已结案",
            "Z2,420606001000,D1,2024-05-08 09:00,,办理中",
            "Z3,420606001000,D1,2024-05-08 09:00,,搁置"]),  # not a case status
    }, [
        {"id": "items", "plugin": "files", "table": "delegated_items", "path": "in/items.csv"},
        {"id": "enforcers", "plugin": "files", "table": "enforcers", "path": "in/enforcers.csv",
         "columns": {"姓名": "name", "身份证号": "id_number"}},
        {"id": "cases", "plugin": "files", "table": "enforcement_cases",
         "path": "in/cases.csv"}])
    assert (res["items"].loaded, res["items"].quarantined) == (2, 2)
    # a community's code where a street's belongs is not a street: unknown at that level
    assert _reasons(engine, "items") == [(4, "street_code", "unknown_street"),
                                         (5, "department", "missing_value")]
    assert _reasons(engine, "enforcers") == [(3, "street_code", "unknown_street")]
    assert _reasons(engine, "cases") == [(4, "status", "bad_code")]
    items = _rows(engine, "delegated_items", "item_code")
    assert (items["D1"].kind, items["D2"].kind) == ("penalty", "licence")
    e = _rows(engine, "enforcers", "enforcer_id")["E1"]
    assert (e.name_masked, e.id_masked, e.certificate_no) == ("孙*", "420***********1239",
                                                              "42060621001")
    cases = _rows(engine, "enforcement_cases", "case_id")
    assert (cases["Z1"].status, cases["Z2"].status) == ("closed", "open")
    engine.dispose()
    assert ID18.encode() not in _stored_bytes(tmp_path)
