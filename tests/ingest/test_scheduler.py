"""The scheduler: due times, start-up catch-up, cron jobs, run-now requests, and two scheduler
processes that never load one source at once (guarantee 5). Short triggers, no night waits."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from core.errors import ConfigError
from ingest.registry import load_validated
from ingest.runner import Runner
from ingest.scheduler import SchedulerService, cron_trigger, previous_fire_time
from tests.conftest import divisions_source, write_config
from warehouse import runlog
from warehouse.engine import app_engine, open_warehouse, utcnow
from warehouse.schema import ingest_runs, run_requests

SH = ZoneInfo("Asia/Shanghai")
GONGZHI = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "gongzhi"
CERTS = "certificate_id,name,status,changed_at\nC1,营业执照,retained,2024-01-02\n"
# ~0.5 s of CPU in SQLite per read, every run: long enough for runs of two processes to collide
SLOW_QUERY = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) "
    "SELECT 'C1' AS certificate_id, 'licence' AS name, 'retained' AS status, "
    "'2024-01-02 00:00:00' AS changed_at FROM (SELECT count(*) AS n FROM c) WHERE n > 0")


def certs_source(folder: Path, sid: str = "certs", schedule: str | None = None,
                 text: str = CERTS) -> dict[str, Any]:
    (folder / sid).mkdir(parents=True, exist_ok=True)
    (folder / sid / "certs.csv").write_text(text, encoding="utf-8")
    src = {"id": sid, "plugin": "files", "table": "certificates", "path": f"{sid}/*.csv"}
    if schedule:
        src["schedule"] = schedule
    return src


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Callable[..., tuple[SchedulerService, Engine]]]:
    """``service(url, sources, extra="", clock=None)`` → a SchedulerService and its engine."""
    made: list[tuple[SchedulerService, Engine]] = []

    def make(url: str, sources: list[dict[str, Any]], extra: str = "",
             clock: Callable[[], datetime] | None = None) -> tuple[SchedulerService, Engine]:
        settings = load_validated(write_config(tmp_path, url, sources, extra))
        engine = open_warehouse(settings.warehouse_url)
        svc = SchedulerService(settings, engine, clock=clock)
        made.append((svc, engine))
        return svc, engine

    yield make
    for svc, engine in made:
        svc.shutdown()
        engine.dispose()


def runs(engine: Engine, source: str | None = None) -> list[Any]:
    r = ingest_runs.c
    stmt = select(r.run_id, r.source, r.trigger, r.status, r.started_at, r.finished_at, r.error,
                  r.pid).order_by(r.run_id)
    if source:
        stmt = stmt.where(r.source == source)
    with engine.connect() as c:
        return list(c.execute(stmt))


def loading(engine: Engine) -> list[int]:
    """Runs loading now: 'running' for over 0.15 s (a refused run is 'running' only for the
    instant between its start and its 'skipped')."""
    since = utcnow() - timedelta(seconds=0.15)
    return [r.run_id for r in runs(engine) if r.status == "running" and r.started_at < since]


def wait_for(check: Callable[[], bool], timeout: float = 8.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.05)


# --- due times ----------------------------------------------------------------------------

@pytest.mark.parametrize(("expr", "now", "due"), [
    ("0 2 * * *", datetime(2024, 5, 10, 1, 0), datetime(2024, 5, 9, 2, 0)),
    ("0 2 * * *", datetime(2024, 5, 10, 3, 0), datetime(2024, 5, 10, 2, 0)),
    ("0 2 * * *", datetime(2024, 5, 10, 2, 0), datetime(2024, 5, 10, 2, 0)),  # inclusive
    ("*/15 * * * * *", datetime(2024, 5, 10, 1, 0, 44, 500), datetime(2024, 5, 10, 1, 0, 30)),
    ("0 0 29 2 *", datetime(2024, 5, 10), datetime(2024, 2, 29)),
    ("0 0 29 2 *", datetime(2024, 2, 28, 23), datetime(2020, 2, 29)),
    # crontab weekdays: 1 is Monday (6 May 2024), 0 and 7 Sunday (5 May); APScheduler 3's own
    # numbering would say Tuesday
    ("30 8 * * 1", datetime(2024, 5, 10, 1, 0), datetime(2024, 5, 6, 8, 30)),
    ("30 8 * * 7", datetime(2024, 5, 10, 1, 0), datetime(2024, 5, 5, 8, 30)),
    ("30 8 * * 1-5", datetime(2024, 5, 11, 12, 0), datetime(2024, 5, 10, 8, 30)),
    # day of month and day of week both given: either fires, as in cron (1 May was a Wednesday)
    ("0 9 1 * 0", datetime(2024, 5, 4, 12, 0), datetime(2024, 5, 1, 9, 0)),
    ("0 9 1 * 0", datetime(2024, 5, 6, 12, 0), datetime(2024, 5, 5, 9, 0)),
])
def test_previous_fire_time(expr: str, now: datetime, due: datetime) -> None:
    got = previous_fire_time(cron_trigger(expr, SH), now.replace(tzinfo=SH))
    assert got == due.replace(tzinfo=SH)
    assert got is not None and got.utcoffset() == timedelta(hours=8)


def test_previous_fire_time_agrees_with_walking_forward() -> None:
    trigger = cron_trigger("10,40 */5 1-10 * *", SH)
    now = datetime(2024, 3, 7, 13, 20, 5, tzinfo=SH)
    walked, t = None, trigger.get_next_fire_time(None, datetime(2024, 2, 1, tzinfo=SH))
    while t is not None and t <= now:
        walked, t = t, trigger.get_next_fire_time(t, now)
    assert previous_fire_time(trigger, now) == walked == datetime(2024, 3, 7, 10, 40, tzinfo=SH)


def test_last_due_uses_the_source_schedule_and_zone(tmp_path: Path, sqlite_url: str,
                                                    service) -> None:
    svc, _ = service(sqlite_url, [certs_source(tmp_path, schedule="0 2 * * *"),
                                  certs_source(tmp_path, "manual_only")])
    # 01:00 in Shanghai is 17:00 UTC the day before: the due time is read in Shanghai time
    now = datetime(2024, 5, 9, 17, 0, tzinfo=ZoneInfo("UTC"))
    assert svc.last_due(svc.specs["certs"], now) == datetime(2024, 5, 9, 2, 0, tzinfo=SH)
    assert svc.last_due(svc.specs["manual_only"], now) is None


def test_bad_schedule_is_a_config_error_naming_the_source(tmp_path: Path, sqlite_url: str,
                                                          service) -> None:
    with pytest.raises(ConfigError) as e:
        service(sqlite_url, [certs_source(tmp_path, schedule="0 25 * * *"),
                             certs_source(tmp_path, "weekly", schedule="0 2 * * mon-xyz")])
    assert "id=certs" in str(e.value) and "id=weekly" in str(e.value)


def test_never_firing_and_too_frequent_schedules_are_refused_all_at_once(
        tmp_path: Path, sqlite_url: str) -> None:
    cfg = write_config(tmp_path, sqlite_url, [
        certs_source(tmp_path, "feb30", schedule="0 0 30 2 *"),
        certs_source(tmp_path, "apr31", schedule="15 3 31 4 *"),
        certs_source(tmp_path, "every_second", schedule="* * * * * *"),
        certs_source(tmp_path, "every_minute", schedule="* * * * *"),
        certs_source(tmp_path, "burst", schedule="0,2 2 1 1 *"),  # once a year, 2 min apart
        certs_source(tmp_path, "nightly", schedule="0 2 * * *"),
        certs_source(tmp_path, "leap_day", schedule="0 0 29 2 *"),  # fires, every 4 years
        {**certs_source(tmp_path, "fast", schedule="*/10 * * * * *"), "frequent": True},
    ])
    with pytest.raises(ConfigError) as e:
        load_validated(cfg)
    msg = str(e.value)
    assert "(5 problem(s))" in msg, msg
    for sid in ("feb30", "apr31"):
        assert f"id={sid}) schedule: '" in msg and "never fires" in msg
    for sid in ("every_second", "every_minute", "burst"):
        line = next(x for x in msg.splitlines() if f"id={sid})" in x)
        assert "more often than every 5 min" in line and "frequent = true" in line
    assert "every 1 s" in msg and "every 1 min" in msg and "every 2 min" in msg
    assert not any(f"id={s})" in msg for s in ("nightly", "leap_day", "fast"))


def test_schedule_command_refuses_a_never_firing_cron_naming_the_source(
        tmp_path: Path, sqlite_url: str) -> None:
    """On the old main this passed validation, then `gongzhi schedule` died at start-up with
    a TypeError, stopping every source."""
    cfg = write_config(tmp_path, sqlite_url, [
        certs_source(tmp_path, "nightly", schedule="0 2 * * *"),
        certs_source(tmp_path, "feb30", schedule="0 0 30 2 *")])
    out = subprocess.run([str(GONGZHI), "--config", str(cfg), "schedule"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert "id=feb30) schedule" in out.stderr and "never fires" in out.stderr
    assert "internal error" not in out.stderr and "Traceback" not in out.stderr


def test_a_schedule_that_cannot_fire_costs_only_its_own_source(
        tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Settings that bypassed validation (built in code): the scheduler starts, schedules the
    good source, warns about the bad one and still serves its run-now requests."""
    from core.settings import settings_from_dict

    sources = [certs_source(tmp_path, "nightly", schedule="0 2 * * *"),
               certs_source(tmp_path, "feb30", schedule="0 0 30 2 *"),
               certs_source(tmp_path, "typo", schedule="0 2 * * mon-xyz")]
    settings = settings_from_dict({"warehouse": {"url": sqlite_url}, "sources": sources,
                                   "scheduler": {"poll_seconds": 0.2}},
                                  path=tmp_path / "gongzhi.toml")
    engine = open_warehouse(settings.warehouse_url)
    svc = SchedulerService(settings, engine)
    try:
        sched = svc.start()
        assert {j.id for j in sched.get_jobs()} >= {"schedule:nightly", "requests"}
        assert not {"schedule:feb30", "schedule:typo"} & {j.id for j in sched.get_jobs()}
        req = runlog.request_run(engine, "feb30", requested_by="office")
        wait_for(lambda: any(r["id"] == req and r["run_id"]
                             for r in runlog.pending_requests(engine)))
    finally:
        svc.shutdown()
    out = capsys.readouterr().out
    assert "[feb30] warning: schedule ignored" in out and "never fires" in out
    assert "[typo] warning: schedule ignored" in out
    assert "scheduled nightly (0 2 * * *), next run" in out
    assert [r.status for r in runs(engine, "feb30")] == ["succeeded"]
    engine.dispose()


# --- catch-up -----------------------------------------------------------------------------

def test_catch_up_runs_a_missed_source_once(tmp_path: Path, warehouse_url: str,
                                            service) -> None:
    now = [datetime.now(SH)]
    divs = {**divisions_source(), "schedule": "30 1 * * *"}
    svc, engine = service(warehouse_url, [certs_source(tmp_path, schedule="0 2 * * *"), divs,
                                          certs_source(tmp_path, "manual_only")],
                          clock=lambda: now[0])
    first = svc.catch_up()
    # the division list goes first, as facts refer to its codes; no schedule, no catch-up
    assert [(r.source, r.status) for r in first] == [("divs", "succeeded"),
                                                     ("certs", "succeeded")]
    assert [(r.trigger, r.status) for r in runs(engine, "certs")] == [("catchup", "succeeded")]
    assert runs(engine, "manual_only") == []

    assert svc.catch_up() == []  # runs started after the last due times: nothing missed
    assert len(runs(engine)) == 2

    now[0] += timedelta(days=2)  # two nights later, the process was down: one run, not two
    again = svc.catch_up()
    assert [(r.source, r.trigger) for r in runs(engine, "certs")] == [("certs", "catchup")] * 2
    assert again[1].ok and again[1].read == 0  # the files plugin knows the file already


def test_schedule_once_command_catches_up_and_exits(tmp_path: Path, sqlite_url: str) -> None:
    from click.testing import CliRunner

    from gongzhi.cli import cli

    cfg = write_config(tmp_path, sqlite_url, [certs_source(tmp_path, schedule="0 2 * * *")])
    first = CliRunner().invoke(cli, ["--config", str(cfg), "schedule", "--once"])
    assert first.exit_code == 0, first.output
    assert "[certs] missed its run due" in first.output
    assert "[certs] catchup run succeeded: read 1, loaded 1" in first.output
    second = CliRunner().invoke(cli, ["--config", str(cfg), "schedule", "--once"])
    assert second.exit_code == 0 and "catch-up: no missed runs" in second.output
    engine = open_warehouse(sqlite_url)
    assert [(r.trigger, r.status) for r in runs(engine)] == [("catchup", "succeeded")]
    engine.dispose()


# --- the live scheduler -------------------------------------------------------------------

def test_scheduler_runs_every_second_and_survives_failing_sources(
        tmp_path: Path, sqlite_url: str, service, capsys: pytest.CaptureFixture[str]) -> None:
    svc, engine = service(sqlite_url, [
        {**certs_source(tmp_path, schedule="*/1 * * * * *"), "frequent": True},
        {**certs_source(tmp_path, "broken", schedule="*/1 * * * * *",
                        text="nothing,useful\n1,2\n"), "frequent": True},
    ], extra="[scheduler]\nmisfire_grace_hours = 6\n")
    sched = svc.start()

    jobs = {j.id: j for j in sched.get_jobs()}
    assert {"schedule:certs", "schedule:broken", "requests"} <= set(jobs)
    for job_id in ("schedule:certs", "schedule:broken"):
        job = jobs[job_id]
        assert job.misfire_grace_time == 6 * 3600  # not APScheduler's 1 s
        assert job.coalesce is True and job.max_instances == 1
        assert str(job.trigger.timezone) == "Asia/Shanghai"

    def scheduled(source: str) -> list[Any]:
        return [r for r in runs(engine, source) if r.trigger == "schedule"]

    wait_for(lambda: len(scheduled("certs")) >= 1 and len(scheduled("broken")) >= 2)
    svc.shutdown()
    assert runs(engine, "certs")[0].trigger == "catchup"  # nothing ran before: caught up first
    assert all(r.status == "failed" for r in scheduled("broken"))  # and the scheduler went on
    assert all(r.status in ("succeeded", "skipped") for r in scheduled("certs"))
    assert all(r.status != "running" for r in runs(engine))
    out = capsys.readouterr().out
    assert "[certs] schedule run started" in out and "[certs] schedule run succeeded" in out
    assert "[broken] schedule run failed" in out and "scheduler stopped" in out
    assert out.splitlines()[0][:4].isdigit()  # lines are timestamped


def test_run_now_request_is_picked_up_and_answered(tmp_path: Path, warehouse_url: str,
                                                  service) -> None:
    svc, engine = service(warehouse_url, [certs_source(tmp_path, "manual_only")],
                          extra="[scheduler]\npoll_seconds = 0.2\n")
    svc.start()
    req = runlog.request_run(engine, "manual_only", requested_by="data office")

    def answered() -> bool:
        return any(r["id"] == req and r["run_id"] for r in runlog.pending_requests(engine))

    wait_for(answered)
    [run] = runs(engine, "manual_only")
    assert (run.trigger, run.status) == ("request", "succeeded")
    with app_engine(engine).connect() as c:
        row = c.execute(select(run_requests).where(run_requests.c.id == req)).one()
    assert row.run_id == run.run_id and row.picked_at is not None


# --- two scheduler processes --------------------------------------------------------------

def test_two_scheduler_processes_never_load_a_source_at_once(tmp_path: Path, warehouse_url: str
                                                             ) -> None:
    """Two schedulers on one warehouse (two machines of a cluster): one is active, the other
    stands by; a manual run during a scheduled one is refused by the source's lock; when the
    active one is killed mid-load the other takes over, and no two loads ever overlap."""
    slow = {"id": "slow", "plugin": "sql", "table": "certificates", "url": "sqlite://",
            "query": SLOW_QUERY, "schedule": "*/1 * * * * *", "frequent": True}
    cfg = write_config(tmp_path, warehouse_url, [slow],
                       "[scheduler]\npoll_seconds = 1\nlease_seconds = 6\n")
    settings = load_validated(cfg)
    engine = open_warehouse(settings.warehouse_url)
    env = {k: v for k, v in os.environ.items() if k not in ("GONGZHI_WAREHOUSE_URL",
                                                              "GONGZHI_CONFIG")}
    logs = [tmp_path / f"scheduler{i}.log" for i in (1, 2)]
    procs: list[subprocess.Popen[bytes]] = []
    manual: list[Any] = []
    stopped_during: list[int] = []

    def active() -> list[int]:
        return [i for i, log in enumerate(logs) if "active: this scheduler" in log.read_text()]

    def standing_by() -> list[int]:
        return [i for i, log in enumerate(logs) if "standing by:" in log.read_text()]

    try:
        procs += [subprocess.Popen([str(GONGZHI), "--config", str(cfg), "schedule"],
                                   cwd=tmp_path, env=env, stdout=log.open("w"),
                                   stderr=subprocess.STDOUT) for log in logs]

        def first_leader_busy() -> bool:
            if loading(engine) and not manual:  # a manual run during a scheduled one
                manual.extend(Runner(settings, engine).run(["slow"], trigger="manual"))
                return False
            done = [r for r in runs(engine) if r.status == "succeeded"]
            return bool(len(done) >= 2 and manual and active() and standing_by()
                        and loading(engine))

        # generous: two scheduler processes take 15-24 s to start on 2 busy cores
        wait_for(first_leader_busy, timeout=90)
        assert len(active()) == 1 and len(standing_by()) == 1, [p.read_text() for p in logs]
        leader, spare = active()[0], standing_by()[0]
        procs[leader].kill()  # mid-load: its connection and lease go with it
        procs[leader].wait(10)

        def taken_over() -> bool:
            mine = [r for r in runs(engine) if r.pid == procs[spare].pid
                    and r.status == "succeeded" and r.trigger != "manual"]
            if len(mine) >= 2 and loading(engine):
                stopped_during[:] = loading(engine)  # stop the spare while it loads
                return True
            return False

        wait_for(taken_over, timeout=90)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = [p.wait(timeout=20) for p in procs]
    out = [log.read_text() for log in logs]
    assert codes[spare] == 0, out
    assert "active: this scheduler" in out[spare] and "scheduler stopped" in out[spare], out

    all_runs = runs(engine, "slow")
    engine.dispose()
    loads = sorted((r for r in all_runs if r.status == "succeeded"), key=lambda r: r.started_at)
    for a, b in pairwise(loads):
        assert a.finished_at <= b.started_at, f"runs {a.run_id} and {b.run_id} overlap"
    # the killed leader's last load never committed: marked interrupted by its successor
    assert not [r for r in all_runs if r.status in ("running", "failed")], all_runs
    assert [r.status for r in all_runs if r.pid == procs[leader].pid][-1] == "interrupted"
    assert {r.status for r in all_runs if r.run_id in stopped_during} == {"succeeded"}
    skipped = [r for r in all_runs if r.status == "skipped"]
    assert all("being loaded by" in r.error for r in skipped)
    scheduled_by = {r.pid for r in all_runs if r.trigger == "schedule"}
    assert scheduled_by == {procs[leader].pid, procs[spare].pid}  # one after the other
    assert manual[0].status in ("succeeded", "skipped")
