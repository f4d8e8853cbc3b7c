"""``gongzhi reprocess``: quarantined rows whose reference was missing load once it exists,
in a run of trigger ``reprocess`` that balances like any run; rows that still fail stay, once,
with the reason they fail with now; a newer stored version of a row wins; pseudonyms survive;
the dashboard's request is done by the scheduler process."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from core import privacy
from core.errors import SourceError
from ingest.registry import load_validated
from ingest.reprocess import Reprocessor, Selection
from ingest.runner import Runner, RunResult
from ingest.scheduler import SchedulerService
from tests.conftest import DIVISIONS_CSV, write_config
from warehouse import audit, requests, runlog
from warehouse.engine import open_warehouse
from warehouse.schema import quarantine, service_cases, volunteers

HEADER = "办件编号,事项编码,社区代码,办理渠道,受理时间,办件状态"
COLUMNS = {"办件编号": "case_id", "事项编码": "item_code", "社区代码": "community_code",
           "办理渠道": "channel", "受理时间": "submitted_at", "办件状态": "status"}
ROWS = [
    "C1,I01,420606001001,窗口,2023-08-14 09:30,已办结",
    "C2,I01,420606001002,网上办,2023-08-14 10:30,已受理",
    "C3,I01,420606002001,驿站,2023-08-15 10:30,已受理",
    "C4,I01,420606999999,窗口,2023-08-16 10:30,已受理",  # unknown even in the real list
    "C5,I01,420606001001,窗口,not-a-date,已办结",  # a bad value: never retried by default
    "C6,I01,420606001001,,2023-08-16 11:00,已办结",  # no channel: missing_value
]
KEY = "reprocess-test-pseudonym-key-0001"


class World:
    """One warehouse with a division source that can be broken and a case source."""

    def __init__(self, folder: Path, url: str):
        self.folder, self.url = folder, url
        (folder / "inbox").mkdir(parents=True)
        (folder / "divs").mkdir()
        self.engines: list[Engine] = []
        self.extra: dict[str, Any] = {}
        self.break_divisions()

    def break_divisions(self) -> None:  # the division list fails to load (a truncated file)
        (self.folder / "divs" / "fancheng_divisions_2023.csv").write_text(
            "统计用区划代码,名称\n", encoding="utf-8")

    def fix_divisions(self) -> None:
        (self.folder / "divs" / "fancheng_divisions_2023.csv").write_bytes(
            DIVISIONS_CSV.read_bytes())

    def drop(self, name: str, rows: list[str]) -> None:
        (self.folder / "inbox" / name).write_text("\n".join([HEADER, *rows]) + "\n",
                                                  encoding="utf-8")

    def sources(self) -> list[dict[str, Any]]:
        return [{"id": "divs", "plugin": "divisions", "path": "divs/*.csv"},
                {"id": "cases", "plugin": "files", "table": "service_cases",
                 "path": "inbox/*.csv", "columns": COLUMNS, **self.extra}]

    def settings(self) -> Any:
        return load_validated(write_config(self.folder, self.url, self.sources()))

    def engine(self) -> Engine:
        eng = open_warehouse(self.url)
        self.engines.append(eng)
        return eng

    def ingest(self, ids: list[str] | None = None) -> list[RunResult]:
        return Runner(self.settings(), self.engine()).run(ids)

    def reprocess(self, sel: Selection | None = None) -> list[RunResult]:
        return Reprocessor(self.settings(), self.engine()).reprocess(
            sel or Selection(), username="cli:test", role="cli")

    def cases(self) -> dict[str, Any]:
        with self.engine().connect() as c:
            return {r.case_id: r for r in c.execute(select(service_cases))}

    def quarantine(self, **kw: Any) -> list[dict[str, Any]]:
        return sorted(runlog.list_quarantine(self.engine(), source="cases", **kw),
                      key=lambda r: r["row_number"])

    def quarantine_rows(self) -> int:
        with self.engine().connect() as c:
            return c.execute(select(func.count()).select_from(quarantine)).scalar_one()


@pytest.fixture
def world(tmp_path: Path, warehouse_url: str) -> Any:
    w = World(tmp_path, warehouse_url)
    yield w
    for e in w.engines:
        e.dispose()


def balanced(r: RunResult) -> bool:
    return r.ok and r.read == r.loaded + r.quarantined + r.duplicates


def test_rows_quarantined_while_the_division_list_was_missing_load_on_reprocess(world) -> None:
    world.drop("cases.csv", ROWS)
    divs, cases = world.ingest()
    assert not divs.ok and cases.ok and cases.loaded == 0  # every community unknown
    assert {r["reason"] for r in world.quarantine()} == {"unknown_community"}
    assert len(world.quarantine()) == 6
    world.fix_divisions()
    assert world.ingest(["divs"])[0].ok
    again = world.ingest(["cases"])[0]
    assert again.read == 0  # the file is marked loaded: a re-run never retries the rows

    [r] = world.reprocess()
    assert balanced(r) and r.run_id is not None
    # C1-C3 pass; C4 is still unknown; C5 and C6 fail for their own value now
    assert (r.read, r.loaded, r.quarantined, r.duplicates) == (6, 3, 3, 0)
    [logged] = runlog.list_runs(world.engine(), source="cases", limit=1)
    assert (logged["trigger"], logged["status"]) == ("reprocess", "succeeded")
    assert (logged["read"], logged["loaded"], logged["quarantined"]) == (6, 3, 3)
    cases_now = world.cases()
    assert set(cases_now) == {"C1", "C2", "C3"}
    assert all(c._run_id == r.run_id and c._source == "cases" for c in cases_now.values())
    assert cases_now["C2"].channel == "online" and cases_now["C3"].status == "accepted"
    open_rows = world.quarantine()
    assert [(q["row_number"], q["reason"], q["column_name"]) for q in open_rows] == [
        (5, "unknown_community", "community_code"), (6, "bad_date", "submitted_at"),
        (7, "missing_value", "channel")]
    assert world.quarantine_rows() == 6  # no second row for the ones that stay
    resolved = world.quarantine(resolved=True)
    assert {q["row_number"] for q in resolved} == {2, 3, 4}
    assert {q["resolved_run_id"] for q in resolved} == {r.run_id}
    # audited, with what was asked and which run did it
    [entry] = [a for a in audit.entries(world.engine()) if a["action"] == "reprocess"]
    assert entry["username"] == "cli:test" and entry["row_count"] == 3
    assert json.loads(entry["filters"])["runs"] == [r.run_id]

    # the same rows loaded directly (divisions present from the start) are the same rows
    direct = World(world.folder / "direct", world.url.replace("warehouse.db", "direct.db"))
    if "postgresql" in world.url:
        return  # one private schema per test: the direct comparison runs on SQLite
    direct.fix_divisions()
    direct.drop("cases.csv", ROWS)
    direct.ingest()
    for cid, row in direct.cases().items():
        mine = cases_now[cid]
        assert {k: v for k, v in row._mapping.items() if not k.startswith("_")} == \
            {k: v for k, v in mine._mapping.items() if not k.startswith("_")}
    for e in direct.engines:
        e.dispose()

    # a second reprocess finds nothing retryable that can pass, and changes nothing
    [r2] = world.reprocess()
    assert balanced(r2) and (r2.read, r2.loaded, r2.quarantined) == (1, 0, 1)


def test_a_bad_value_reason_is_retried_only_when_asked(world) -> None:
    world.fix_divisions()
    world.drop("cases.csv", ROWS)
    world.ingest()
    [r0] = world.reprocess()  # only C4 is retryable (its community is still unknown)
    assert balanced(r0) and (r0.read, r0.loaded, r0.quarantined) == (1, 0, 1)
    world.extra = {"defaults": {"channel": "window"}}  # the office fixes its config
    [r] = world.reprocess(Selection(source="cases", reason="missing_value"))
    assert balanced(r) and (r.read, r.loaded) == (1, 1)
    assert world.cases()["C6"].channel == "window"
    assert {q["reason"] for q in world.quarantine()} == {"unknown_community", "bad_date"}


def test_a_newer_version_loaded_later_wins(world) -> None:
    world.drop("a.csv", ROWS[:1])
    world.ingest()  # C1 quarantined: the division list is broken
    world.fix_divisions()
    world.ingest(["divs"])
    world.drop("b.csv", [ROWS[0].replace("已办结", "已受理").replace("窗口", "网上办")])
    assert world.ingest(["cases"])[0].loaded == 1  # a later file brings C1 anew
    [r] = world.reprocess(Selection(run_id=world.quarantine()[0]["run_id"]))
    assert balanced(r) and (r.read, r.loaded, r.duplicates) == (1, 0, 1)
    c1 = world.cases()["C1"]
    assert (c1.status, c1.channel) == ("accepted", "online")  # not overwritten by the old row
    assert world.quarantine() == []


def test_rows_that_cannot_be_reprocessed(world) -> None:
    world.fix_divisions()
    data = (HEADER + "\n" + ROWS[0] + "\n").encode() + \
        "C7,事项,420606001001,窗口,2023-08-15 09:30,已办结\n".encode("gb18030")
    (world.folder / "inbox" / "mixed.csv").write_bytes(data)
    world.ingest()
    assert [q["reason"] for q in world.quarantine()] == ["bad_encoding"]
    with pytest.raises(SourceError, match="cannot be reprocessed"):
        world.reprocess(Selection(reason="bad_encoding"))
    with pytest.raises(SourceError, match="unknown source"):
        world.reprocess(Selection(source="nope"))


def test_pseudonyms_survive_reprocessing(tmp_path: Path, sqlite_url: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.ingest.test_privacy import GOOD_ID2, make_id

    monkeypatch.setenv(privacy.KEY_ENV, KEY)
    w = World(tmp_path, sqlite_url)
    (tmp_path / "vols").mkdir()
    third = make_id("42060619850505567")
    (tmp_path / "vols" / "v.csv").write_text(
        "志愿者编号,社区代码,注册时间,身份证号,手机号\n"
        f"V1,420606001001,2024-01-02,{GOOD_ID2},13812348000\n"
        f"V2,420606001002,2024-01-03,{third[:-1]}0,13900001111\n"  # bad check digit
        f"V3,420606001002,2024-01-03,{third},+86 139-0000-2222\n", encoding="utf-8")
    vols = {"id": "vols", "plugin": "files", "table": "volunteers", "path": "vols/*.csv",
            "columns": {"志愿者编号": "volunteer_id", "社区代码": "community_code",
                        "注册时间": "registered_at", "身份证号": "id_number", "手机号": "phone"}}
    settings = load_validated(write_config(tmp_path, sqlite_url, [w.sources()[0], vols]))
    Runner(settings, w.engine()).run()
    stored = runlog.list_quarantine(w.engine(), source="vols")
    assert all(GOOD_ID2 not in q["raw"] and third not in q["raw"] for q in stored)
    w.fix_divisions()
    Runner(settings, w.engine()).run(["divs"])
    [r] = Reprocessor(settings, w.engine()).reprocess(Selection(), username="t", role="cli")
    # V1, V3 load with the pseudonym of their clear ID; V2's ID is invalid: not even retried
    assert balanced(r) and (r.read, r.loaded, r.quarantined) == (2, 2, 0)
    [forced] = Reprocessor(settings, w.engine()).reprocess(
        Selection(reason="invalid_id_number"), username="t", role="cli")
    assert balanced(forced) and (forced.read, forced.quarantined) == (1, 1)
    with w.engine().connect() as c:
        rows = {x.volunteer_id: x for x in c.execute(select(volunteers))}
    assert rows["V1"].id_hash == privacy.pseudonym(GOOD_ID2, KEY.encode())
    assert rows["V3"].id_hash == privacy.pseudonym(third, KEY.encode())
    assert rows["V3"].phone_masked == "139****2222"
    [left] = runlog.list_quarantine(w.engine(), source="vols")
    assert left["reason"] == "invalid_id_number" and "V2" in left["raw"]
    for e in w.engines:
        e.dispose()


def test_reprocess_command_line(tmp_path: Path, sqlite_url: str) -> None:
    w = World(tmp_path, sqlite_url)
    w.drop("cases.csv", ROWS[:2])
    w.ingest()
    w.fix_divisions()
    w.ingest(["divs"])
    gz = str(Path(sys.executable).with_name("gongzhi"))
    cfg = str(tmp_path / "gongzhi.toml")
    bad = subprocess.run([gz, "--config", cfg, "reprocess", "--reason", "nonsense"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown reason 'nonsense'" in bad.stderr
    out = subprocess.run([gz, "--config", cfg, "reprocess", "--source", "cases", "--quiet"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "cases: run" in out.stdout and "read 2, loaded 2, still quarantined 0" in out.stdout
    assert set(w.cases()) == {"C1", "C2"}
    # as an account: a leader's name goes to the audit log; staff are refused (audited too)
    from warehouse import accounts

    accounts.add_user(w.engine(), "li", "leader-pass-123", "leader", "420606000000")
    accounts.add_user(w.engine(), "wz", "staff-pass-1234", "street_staff", "420606002000")
    env = {**os.environ, "GONGZHI_PASSWORD": "staff-pass-1234"}
    staff = subprocess.run([gz, "--config", cfg, "reprocess", "--user", "wz", "--quiet"],
                           capture_output=True, text=True, timeout=120, env=env)
    assert staff.returncode == 1 and "leaders only" in staff.stderr
    env["GONGZHI_PASSWORD"] = "leader-pass-123"
    lead = subprocess.run([gz, "--config", cfg, "reprocess", "--user", "li", "--quiet"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert lead.returncode == 0, lead.stderr
    entries = audit.entries(w.engine())
    assert [a["username"] for a in entries if a["action"] == "reprocess"] == ["li", "cli:" +
                                                                             getpass.getuser()]
    assert any(a["username"] == "wz" and a["action"] == "denied" for a in entries)
    for e in w.engines:
        e.dispose()


def test_a_dashboard_request_is_done_by_the_scheduler(world) -> None:
    world.drop("cases.csv", ROWS[:3])
    world.ingest()
    world.fix_divisions()
    world.ingest(["divs"])
    settings = load_validated(write_config(world.folder, world.url, world.sources(),
                                           "[scheduler]\npoll_seconds = 0.2\n"))
    engine = world.engine()
    rid = requests.request_reprocess(engine, source="cases", reason=None, run_id=None,
                                     requested_by="li")
    # a forced bad_encoding request (the page does not offer it) is refused when done
    bad = requests.request_reprocess(engine, source=None, reason="bad_encoding", run_id=None,
                                     requested_by="li")
    svc = SchedulerService(settings, engine)
    svc.start()
    try:
        deadline = time.monotonic() + 60
        while len(done := [r for r in requests.recent_reprocess(engine)
                           if r["id"] in (rid, bad) and r["finished_at"]]) < 2:
            assert time.monotonic() < deadline, "the request was not done"
            time.sleep(0.1)
    finally:
        svc.shutdown()
    [ok] = [r for r in done if r["id"] == rid]
    assert "read 3, loaded 3" in ok["outcome"]
    [refused] = [r for r in done if r["id"] == bad]
    assert refused["outcome"].startswith("failed:") and "cannot be reprocessed" in \
        refused["outcome"]
    assert set(world.cases()) == {"C1", "C2", "C3"}
    [entry] = [a for a in audit.entries(engine) if a["action"] == "reprocess"]
    assert entry["username"] == "li"


def test_a_claimed_request_goes_back_when_the_scheduler_stops_first(world) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    settings = world.settings()
    engine = world.engine()
    rid = requests.request_reprocess(engine, source=None, reason=None, run_id=None,
                                     requested_by="li")
    svc = SchedulerService(settings, engine)
    svc.scheduler = BackgroundScheduler()  # not started: the claimed job never begins
    svc._poll_reprocess()
    [claimed] = [r for r in requests.recent_reprocess(engine) if r["id"] == rid]
    assert claimed["picked_at"] is not None
    svc.shutdown(wait=False)
    [back] = [r for r in requests.recent_reprocess(engine) if r["id"] == rid]
    assert back["picked_at"] is None and back["finished_at"] is None
    assert [r["id"] for r in requests.take_reprocess(engine)] == [rid]  # taken again
