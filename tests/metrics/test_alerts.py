"""预警 alerts end to end: real ingestion runs with the alert observer, a real JSON webhook
receiver and a real SMTP server on 127.0.0.1; payloads checked against figures counted from
the rows; one alert per rule × area × period; quiet hours; unreachable destinations; secrets
never shown."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.errors import ConfigError
from gongzhi.cli import cli
from ingest.extensions import OBSERVERS, registered
from ingest.registry import load_validated
from ingest.runner import Runner, build_runner
from metrics.alerts import AlertObserver, check
from metrics.catalog import load_catalog
from metrics.rollup import RollupObserver, ensure_rollups
from tests.metrics.alert_world import (
    HANJIANG,
    NAMES,
    WANGZHAI,
    HttpReceiver,
    SmtpReceiver,
    case_rows,
    expected_rate,
    free_port,
    months,
    write_world,
)
from warehouse import cycle
from warehouse.engine import app_engine, open_warehouse, utcnow

TOKEN = "S3cr3tT0kenXYZ987"


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    r = HttpReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    r = SmtpReceiver()
    yield r
    r.stop()


def _load(cfg: Path) -> Any:
    return load_validated(cfg, kpi_ids=set(load_catalog().kpis))


def _ingest(cfg: Path) -> tuple[Any, Any, list[Any]]:
    """A run as the product does it: the observers of the installed extensions (rollups,
    alerts) through the ``gongzhi.observers`` entry points."""
    settings = _load(cfg)
    engine = open_warehouse(settings.warehouse_url)
    ensure_rollups(engine, load_catalog())
    runner = build_runner(settings, engine)
    assert {type(o) for o in runner.observers} == {RollupObserver, AlertObserver}
    return settings, engine, runner.run()


def test_the_alert_observer_is_registered_as_an_extension() -> None:
    [ep] = [e for e in registered(OBSERVERS) if e.name == "alerts"]
    assert ep.value == "metrics.alerts:observers_for"


def _field(message: str, name: str) -> str:
    m = re.search(rf"^{name}：(.*)$", message, re.M)
    assert m, (name, message)
    return m.group(1)


@pytest.mark.extension_point("gongzhi.observers.after_run")
def test_red_and_drop_alerts_reach_the_webhook_and_the_mailbox_once(
        tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver,
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GZ_TEST_ALERT_URLS", f"json://127.0.0.1:{http.port}/robot/{TOKEN}")
    cfg = write_world(tmp_path, f"""
[[alerts]]
id = "red_cards"
rule = "kpi_red"
kpis = ["gov.online_case_rate"]
level = "street"
notify = ["json://127.0.0.1:{http.port}/hook",
          "mailto://127.0.0.1:{smtp.port}?from=gz@example.org&to=office@example.org&mode=insecure"]

[[alerts]]
id = "falls"
rule = "kpi_drop"
kpis = ["gov.online_case_rate"]
level = "street"
points = 10
notify_env = "GZ_TEST_ALERT_URLS"
""")
    settings, engine, results = _ingest(cfg)
    assert all(r.ok for r in results), results
    p, q = months()
    rows = case_rows(p, q)

    hooks = [body for path, body in http.posts if path == "/hook"]
    robot = [body for path, body in http.posts if path == f"/robot/{TOKEN}"]
    # 汉江街道 is the only red street; 王寨街道 the only one that fell by more than 10 points
    assert len(hooks) == 1 and len(robot) == 1, http.posts
    red = hooks[0]["message"]
    assert _field(red, "区域") == f"{NAMES[HANJIANG]}（{HANJIANG}）"
    assert _field(red, "指标") == "网办率（gov.online_case_rate）"
    assert _field(red, "期间") == p.label
    assert _field(red, "数值") == f"{expected_rate(rows, HANJIANG, p) * 100:.1f}%"  # 25.0%
    assert _field(red, "目标") == "60.0%"
    assert hooks[0]["type"] == "failure" and "红色预警" in hooks[0]["title"]

    drop = robot[0]["message"]
    assert _field(drop, "区域") == f"{NAMES[WANGZHAI]}（{WANGZHAI}）"
    now_v, prev_v = expected_rate(rows, WANGZHAI, p), expected_rate(rows, WANGZHAI, q)
    assert _field(drop, "数值") == f"{now_v * 100:.1f}%"
    assert _field(drop, "上期").startswith(f"{prev_v * 100:.1f}%")
    assert f"{(now_v - prev_v) * 100:+.1f}pp" in drop and robot[0]["type"] == "warning"

    assert len(smtp.messages) == 1
    subject, body = smtp.bodies()[0]
    assert "汉江街道" in subject and "网办率" in subject
    assert _field(body, "数值") == f"{expected_rate(rows, HANJIANG, p) * 100:.1f}%"

    # a re-run of the same input and a manual check send nothing again
    results = build_runner(settings, engine).run()
    rep = check(engine, settings)
    assert rep.new == [] and rep.sent == []
    assert len(http.posts) == 2 and len(smtp.messages) == 1
    with app_engine(engine).connect() as conn:
        logged = conn.execute(select(cycle.alert_log)).mappings().all()
        dests = conn.execute(select(cycle.alert_deliveries)).mappings().all()
    assert sorted((a["rule_id"], a["subject_code"], a["status"]) for a in logged) == [
        ("falls", WANGZHAI, "sent"), ("red_cards", HANJIANG, "sent")]
    assert len(dests) == 3 and all(d["status"] == "sent" for d in dests)
    # staff of 王寨街道 see the alerts about their street only
    assert [a["subject_code"] for a in cycle.alert_entries(engine, prefix="420606002")] == [
        WANGZHAI]

    # the secret never appears: not in what the run printed, the CLI, or the warehouse
    out = capfd.readouterr()
    runner = CliRunner()
    texts = [out.out, out.err, str([dict(d) for d in dests]), str([dict(a) for a in logged])]
    for args in (["alerts", "rules"], ["alerts", "list"], ["alerts", "list", "--format", "json"],
                 ["alerts", "check"]):
        res = runner.invoke(cli, ["--config", str(cfg), *args])
        assert res.exit_code == 0, res.output
        texts.append(res.output)
    assert "json://127.0.0.1" in texts[-4]  # the rules list shows where, masked
    assert all(TOKEN not in t for t in texts)
    engine.dispose()


def test_quiet_hours_hold_alerts_and_send_them_when_they_end(
        tmp_path: Path, http: HttpReceiver, warehouse_url: str) -> None:
    from zoneinfo import ZoneInfo

    now = utcnow()
    local = now.replace(tzinfo=dt.UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    start, end = local - dt.timedelta(hours=1), local + dt.timedelta(hours=1)
    cfg = write_world(tmp_path, f"""
[alerting]
quiet_hours = "{start:%H:%M}-{end:%H:%M}"
schedule = ""

[[alerts]]
id = "red_cards"
rule = "kpi_red"
kpis = ["gov.online_case_rate"]
notify = ["json://127.0.0.1:{http.port}/hook"]
""", url=warehouse_url)
    settings = _load(cfg)
    engine = open_warehouse(settings.warehouse_url)
    Runner(settings, engine).run()
    held = check(engine, settings, now=now)
    assert [n["status"] for n in held.new] == ["held"] and held.sent == []
    assert http.posts == []
    again = check(engine, settings, now=now + dt.timedelta(minutes=30))  # still quiet
    assert again.new == [] and again.sent == [] and http.posts == []
    after = check(engine, settings, now=now + dt.timedelta(hours=2))
    assert [s["ok"] for s in after.sent] == [True] and len(http.posts) == 1
    assert "汉江街道" in http.posts[0][1]["message"]
    assert check(engine, settings, now=now + dt.timedelta(hours=3)).sent == []
    engine.dispose()


def test_an_unreachable_destination_never_fails_the_run_and_is_retried(
        tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet
    cfg = write_world(tmp_path, f"""
[alerting]
retry_minutes = 5

[[alerts]]
id = "red_cards"
rule = "kpi_red"
kpis = ["gov.online_case_rate"]
notify = ["json://127.0.0.1:{port}/hook"]
""")
    settings, engine, results = _ingest(cfg)
    assert all(r.ok for r in results) and {r.status for r in results} == {"succeeded"}
    entries = cycle.alert_entries(engine)
    assert len(entries) == 1 and entries[0]["status"] == "failed"
    d = entries[0]["deliveries"][0]
    assert d["attempts"] == 1 and d["next_try_at"] is not None and d["last_error"]
    assert d["dest"] == f"json://127.0.0.1:{port}/…"
    # before the retry time nothing is tried; after it, the now reachable receiver gets it
    assert check(engine, settings).sent == []
    receiver = HttpReceiver(port=port).start()
    try:
        rep = check(engine, settings, now=utcnow() + dt.timedelta(minutes=6))
        assert [s["ok"] for s in rep.sent] == [True] and len(receiver.posts) == 1
    finally:
        receiver.stop()
    assert cycle.alert_entries(engine)[0]["status"] == "sent"
    engine.dispose()


def test_failed_and_stale_sources_and_overdue_tasks_alert(tmp_path: Path,
                                                          http: HttpReceiver) -> None:
    cfg = write_world(tmp_path, f"""
[[sources]]
id = "hotline"
plugin = "files"
table = "grid_events"
path = "nowhere/*.csv"
required = true

[[alerts]]
id = "broken"
rule = "source_failed"
notify = ["json://127.0.0.1:{http.port}/ops"]

[[alerts]]
id = "stale"
rule = "source_stale"
sources = ["hotline", "cases"]
hours = 24
notify = ["json://127.0.0.1:{http.port}/ops"]

[[alerts]]
id = "late"
rule = "task_overdue"
notify = ["json://127.0.0.1:{http.port}/ops"]
""")
    settings, engine, results = _ingest(cfg)
    assert {r.source: r.status for r in results}["hotline"] == "failed"
    titles = [b["title"] for _, b in http.posts]
    assert any("hotline 运行失败" in t for t in titles), titles
    assert any("hotline 超过 24 小时未更新" in t for t in titles), titles
    assert not any("cases" in t for t in titles)  # it ran a moment ago

    # a task two working weeks overdue raises task_overdue once
    from metrics.access import leader

    boss = leader("420606000000", "boss")
    tid = cycle.open_task(engine, boss, area_code=HANJIANG, area_level="street",
                          area_name="汉江街道", title="整改网办率",
                          due_date=dt.date.today() - dt.timedelta(days=14))
    n = len(http.posts)
    rep = check(engine, settings)
    assert [x["period"] for x in rep.new] == [f"task:{tid}"]
    assert len(http.posts) == n + 1 and f"#{tid}" in http.posts[-1][1]["title"]
    assert check(engine, settings).new == []
    engine.dispose()


def test_an_alert_can_open_a_task_for_the_red_area(tmp_path: Path) -> None:
    cfg = write_world(tmp_path, """
[[alerts]]
id = "red_cards"
rule = "kpi_red"
kpis = ["gov.online_case_rate"]
open_task = true
due_days = 3
""")
    _, engine, _ = _ingest(cfg)
    [alert] = cycle.alert_entries(engine)
    assert alert["status"] == "logged" and alert["task_id"]
    [task] = cycle.open_tasks_of_area(engine, HANJIANG)
    p, q = months()
    assert (task["id"], task["kpi"], task["period"], task["origin"]) == (
        alert["task_id"], "gov.online_case_rate", p.label, "alert")
    assert task["value"] == pytest.approx(expected_rate(case_rows(p, q), HANJIANG, p))
    assert "网上办理的办件数" in task["definition"]
    assert task["created_by"] == "alert:red_cards" and task["due_date"] > task[
        "created_at"].date()
    assert cycle.open_tasks_of_area(engine, WANGZHAI) == []
    engine.dispose()


def test_bad_rules_fail_start_up_with_every_problem_and_its_line(tmp_path: Path) -> None:
    cfg = write_world(tmp_path, """
[[alerts]]
id = "a"
rule = "kpi_redd"
kpis = ["gov.no_such_kpi", "gov.online_case_rate"]
level = "province"

[[alerts]]
id = "b"
rule = "kpi_drop"
notify = "not a url"
quiet_hours = "late"

[[alerts]]
id = "c"
rule = "source_stale"
sources = ["nosuch"]
""")
    lines = cfg.read_text(encoding="utf-8").splitlines()
    first = lines.index("[[alerts]]") + 1
    with pytest.raises(ConfigError) as e:
        _load(cfg)
    msg = str(e.value)
    assert f"{cfg}:{first} alerts[0] (id=a): unknown rule 'kpi_redd'" in msg
    assert "unknown KPI 'gov.no_such_kpi'" in msg and "online_case_rate'" not in msg
    assert "unknown level 'province'" in msg
    assert "kpi_drop needs 'points'" in msg and "'notify' must be a list" in msg
    assert "'quiet_hours' must look like" in msg
    assert "source_stale needs 'hours'" in msg and "unknown source 'nosuch'" in msg
    assert len(e.value.problems) == 8
    res = CliRunner().invoke(cli, ["--config", str(cfg), "alerts", "rules"])
    assert res.exit_code != 0 and "gov.no_such_kpi" in str(res.exception or res.output)


@pytest.mark.extension_point("gongzhi.observers.on_schedule")
def test_the_scheduler_checks_the_rules_on_their_schedule(tmp_path: Path,
                                                          http: HttpReceiver) -> None:
    from ingest.scheduler import SchedulerService

    cfg = write_world(tmp_path, f"""
[alerting]
schedule = "*/10 * * * *"

[[alerts]]
id = "red_cards"
rule = "kpi_red"
kpis = ["gov.online_case_rate"]
notify = ["json://127.0.0.1:{http.port}/hook"]
""")
    settings = _load(cfg)
    engine = open_warehouse(settings.warehouse_url)
    Runner(settings, engine).run()  # no observer: nothing checked yet
    assert http.posts == []
    service = SchedulerService(settings, engine)  # the observers of the installed extensions
    sched = service.start()
    try:
        [job] = [j for j in sched.get_jobs() if j.id.startswith("observer:")]
        assert job.name == "AlertObserver (*/10 * * * *)"
        assert job.next_run_time.minute % 10 == 0
        job.func(*job.args)  # what the scheduler does when the time comes
    finally:
        service.shutdown()
    assert len(http.posts) == 1 and "汉江街道" in http.posts[0][1]["title"]
    engine.dispose()
