"""The holiday calendar an office loads (国务院办公厅关于20XX年部分节假日安排的通知 as a
``holiday_calendar`` source) wins over chinese-calendar: 按期 results follow it exactly as an
independent working-day count says, through the rollups and straight from the facts, and a
missing next year is reported."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path

import chinese_calendar
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gongzhi.cli import cli
from ingest.registry import load_validated
from ingest.runner import Runner
from metrics import calendar, periods
from metrics.catalog import load_catalog
from metrics.rollup import RollupObserver, ensure_rollups
from metrics.service import Metrics
from tests.conftest import divisions_source, write_config
from tests.metrics.test_rollup import assert_rollups_match_rebuild
from warehouse.engine import data_version, open_warehouse
from warehouse.schema import work_calendar

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config" / "calendar"
COMMUNITY = "420606001001"
PROMISED = {"I0": 0, "I1": 1, "I3": 3, "I5": 5}
NOTICE_SOURCE = {"id": "work_calendar", "plugin": "files", "table": "holiday_calendar",
                 "path": "calendar/*.csv",
                 "columns": {"日期": "day", "安排": "workday", "节日": "holiday"}}


def package_or_week(day: dt.date) -> bool:
    """A working day before any notice is loaded: the package where it knows the year."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def deadline(sub: dt.date, n: int, workday) -> dt.date:
    """End of the Nth working day after ``sub`` (that day not counted; N = 0: ``sub``)."""
    day = sub
    while n > 0:
        day += dt.timedelta(days=1)
        n -= bool(workday(day))
    return day


def expected(cases: list[tuple[str, dt.date, dt.date]], workday, month: str) -> tuple[int, int]:
    """(on time, completed) of the cases completed in ``month``, counted day by day."""
    done = [(item, s, c) for item, s, c in cases if c.strftime("%Y-%m") == month]
    on_time = sum(c <= deadline(s, PROMISED[item], workday) for item, s, c in done)
    return on_time, len(done)


def first(year: int, month: int, weekday: int, want_work: bool) -> dt.date:
    """The first ``weekday`` (0 = Monday) of the month whose status before the notice is
    ``want_work``: the test notice then flips it, whatever the installed package says."""
    day = dt.date(year, month, 1)
    while day.weekday() != weekday or package_or_week(day) != want_work:
        day += dt.timedelta(days=1)
    return day


def write_cases(path: Path, cases: list[tuple[str, dt.date, dt.date]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case_id", "item_code", "community_code", "channel", "submitted_at",
                    "completed_at", "status"])
        for i, (item, s, c) in enumerate(cases):
            w.writerow([f"C{i:05d}", item, COMMUNITY, "window", f"{s} 10:00:00",
                        f"{c} 15:00:00", "completed"])


def on_time_parts(m: Metrics, period: str) -> tuple[int, int]:
    row = m.compute(["gov.on_time_rate"], m.district(), periods.parse(period),
                    compare=False).row(0, named=True)
    return int(row["numerator"] or 0), int(row["denominator"] or 0)


def test_a_loaded_notice_sets_on_time_exactly_as_a_day_by_day_count(
        tmp_path: Path, warehouse_url: str) -> None:
    # A made-up notice for next year (test data, not the real arrangement): a Saturday in March
    # becomes a 调休 working day, a Wednesday in March and a Monday–Wednesday in May holidays.
    year = calendar.local_today().year + 1
    saturday = first(year, 3, 5, want_work=False)
    wednesday = first(year, 3, 2, want_work=True)
    may = first(year, 5, 0, want_work=True)
    may_block = [may + dt.timedelta(days=i) for i in range(3)]
    notice = {saturday: True, wednesday: False} | {d: False for d in may_block}

    def with_notice(day: dt.date) -> bool:
        return notice[day] if day in notice else package_or_week(day)

    friday, monday = saturday - dt.timedelta(days=1), saturday + dt.timedelta(days=2)
    cases = [
        ("I1", friday, monday),  # due on Monday; once Saturday is a working day, late
        ("I1", friday, saturday),  # done on the 调休 Saturday itself: on time either way
        # due on Wednesday, done on Thursday: on time once Wednesday is a holiday
        ("I1", wednesday - dt.timedelta(days=1), wednesday + dt.timedelta(days=1)),
        ("I1", may - dt.timedelta(days=3), may + dt.timedelta(days=3)),  # likewise, in May
    ]
    rnd = random.Random(9)
    for _ in range(400):
        sub = dt.date(year, 2, 1) + dt.timedelta(days=rnd.randrange(0, 110))
        cases.append((rnd.choice(list(PROMISED)), sub, sub + dt.timedelta(days=rnd.randint(0, 9))))

    (tmp_path / "items").mkdir()
    (tmp_path / "items" / "items.csv").write_text(
        "item_code,item_name,promised_days\n"
        + "".join(f"{k},事项{k},{v}\n" for k, v in PROMISED.items()), encoding="utf-8")
    (tmp_path / "cases").mkdir()
    write_cases(tmp_path / "cases" / "cases.csv", cases)
    (tmp_path / "calendar").mkdir()
    cfg = write_config(tmp_path, warehouse_url, [
        divisions_source(),
        {"id": "items", "plugin": "files", "table": "service_items", "path": "items/*.csv"},
        {"id": "cases", "plugin": "files", "table": "service_cases", "path": "cases/*.csv"},
        NOTICE_SOURCE,
    ])
    settings = load_validated(cfg)
    engine = open_warehouse(settings.warehouse_url)
    catalog = load_catalog()
    ensure_rollups(engine, catalog)

    def run(*ids: str) -> None:
        results = Runner(settings, engine, observers=[RollupObserver(catalog)]).run(list(ids))
        assert all(r.ok and not r.quarantined for r in results), [
            (r.source, r.error, r.quarantined) for r in results]

    months = [f"{year}-{m:02d}" for m in range(2, 7)]
    run("divs", "items", "cases")
    before = {p: on_time_parts(Metrics(engine, catalog), p) for p in months}
    assert before == {p: expected(cases, package_or_week, p) for p in months}

    with (tmp_path / "calendar" / f"notice_{year}.csv").open("w", encoding="utf-8") as f:
        f.write("日期,安排,节日\n" + "".join(
            f"{d.year}年{d.month}月{d.day}日,{'班' if w else '休'},{'测试' if w else '测试假日'}\n"
            for d, w in sorted(notice.items())))
    version = data_version(engine)
    run("work_calendar")
    assert data_version(engine) > version  # cached results of the old calendar are not served
    for use_rollups in (True, False):  # the rollups were rebuilt in the run; the facts agree
        m = Metrics(engine, catalog, use_rollups=use_rollups)
        after = {p: on_time_parts(m, p) for p in months}
        assert after == {p: expected(cases, with_notice, p) for p in months}
    assert_rollups_match_rebuild(engine)
    assert after != before
    assert [c <= deadline(s, 1, package_or_week) for _, s, c in cases[:3]] == [True, True, False]
    assert [c <= deadline(s, 1, with_notice) for _, s, c in cases[:3]] == [False, True, True]
    # day and week periods are counted from the facts: the Monday after the 调休 Saturday
    m = Metrics(engine, catalog)
    for period in (monday.isoformat(), f"{monday.isocalendar()[0]}-W{monday.isocalendar()[1]:02d}"):
        p = periods.parse(period)
        inside = [c for c in cases if p.start <= c[2] < p.end]
        on_time = sum(c <= deadline(s, PROMISED[i], with_notice) for i, s, c in inside)
        assert on_time_parts(m, period) == (on_time, len(inside)), period

    # A correction: the Saturday is a rest day after all. Loading the day again fixes it.
    (tmp_path / "calendar" / f"fix_{year}.csv").write_text(
        f"日期,安排,节日\n{saturday.isoformat()},休,\n", encoding="utf-8")
    run("work_calendar")
    notice[saturday] = False
    m = Metrics(engine, catalog)
    assert {p: on_time_parts(m, p) for p in months} == {
        p: expected(cases, with_notice, p) for p in months}
    with engine.connect() as c:
        flags = dict(c.execute(select(work_calendar.c.day, work_calendar.c.workday).where(
            work_calendar.c.day.in_([saturday, wednesday, *may_block]))).all())
    assert {calendar._as_date(d): bool(w) for d, w in flags.items()} == notice
    engine.dispose()


def test_the_shipped_2026_notice_agrees_with_chinese_calendar_day_by_day(
        tmp_path: Path, sqlite_url: str) -> None:
    """The file in config/calendar, loaded as documented, gives every 2026 day the flag the
    package (an independent transcription of the same notice) gives it."""
    (tmp_path / "calendar").mkdir()
    (tmp_path / "calendar" / "holiday_calendar_2026.csv").write_bytes(
        (SHIPPED / "holiday_calendar_2026.csv").read_bytes())
    cfg = write_config(tmp_path, sqlite_url, [NOTICE_SOURCE])
    settings = load_validated(cfg)
    engine = open_warehouse(settings.warehouse_url)
    ensure_rollups(engine)
    [res] = Runner(settings, engine, observers=[RollupObserver(load_catalog())]).run()
    assert res.ok and (res.read, res.loaded, res.quarantined) == (39, 39, 0)
    with engine.connect() as c:
        rows = c.execute(select(work_calendar.c.day, work_calendar.c.workday,
                                work_calendar.c.official)
                         .where(work_calendar.c.day.between(dt.date(2026, 1, 1),
                                                            dt.date(2026, 12, 31)))).all()
    assert len(rows) == 365
    assert all(bool(o) for _, _, o in rows)
    assert {d: bool(w) for d, w, _ in rows} == {
        d: chinese_calendar.is_workday(d) for d, _, _ in rows}
    st = calendar.calendar_status(engine, today=dt.date(2026, 12, 1))
    assert st.years[0].origin == "notice" and st.years[0].sources == ("work_calendar",)
    assert st.years[0].days == 39
    engine.dispose()


def _notice_warehouse(tmp_path: Path, days: dict[str, str], extra: str = "") -> Path:
    (tmp_path / "calendar").mkdir(exist_ok=True)
    (tmp_path / "calendar" / "notice.csv").write_text(
        "日期,安排,节日\n" + "".join(f"{d},{k},元旦\n" for d, k in days.items()),
        encoding="utf-8")
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", [NOTICE_SOURCE], extra)
    res = CliRunner().invoke(cli, ["--config", str(cfg), "ingest", "--quiet"])
    assert res.exit_code == 0, res.output
    return cfg


def test_next_years_calendar_is_reported_missing_from_december(tmp_path: Path) -> None:
    # Years far ahead: no package will know them soon; 2040 comes from a loaded notice.
    cfg = _notice_warehouse(tmp_path, {"2040-01-01": "休", "2040-01-02": "休"})
    engine = open_warehouse(load_validated(cfg).warehouse_url)
    status = calendar.calendar_status
    assert status(engine, today=dt.date(2040, 12, 1)).missing == (2041,)
    assert status(engine, today=dt.date(2040, 11, 30)).missing == ()  # 32 days ahead
    assert status(engine, today=dt.date(2040, 11, 15), warn_days_ahead=60).missing == (2041,)
    assert status(engine, today=dt.date(2040, 12, 31), warn_days_ahead=0).missing == ()
    # this year uncovered is always reported, whatever the lead time
    assert status(engine, today=dt.date(2042, 3, 1), warn_days_ahead=0).missing == (2042,)
    assert status(engine, today=dt.date(2020, 12, 20)).missing == ()  # both in the package
    y = status(engine, today=dt.date(2040, 12, 1)).years
    assert [(c.year, c.origin, c.days) for c in y] == [(2040, "notice", 2), (2041, None, 0)]
    engine.dispose()


def test_commands_and_the_data_page_warn_when_next_year_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    cfg = _notice_warehouse(tmp_path, {"2040-01-01": "休"}, '[dashboard]\nsign_in = "open"\n')
    monkeypatch.setattr(calendar, "local_today", lambda: dt.date(2040, 12, 5))
    runner = CliRunner()
    res = runner.invoke(cli, ["--config", str(cfg), "runs"])
    assert res.exit_code == 0
    assert "no holiday calendar for 2041" in res.stderr
    assert "国务院办公厅关于2041年部分节假日安排的通知" in res.stderr
    assert "work_calendar" in res.stdout  # the run log itself is unchanged
    res = runner.invoke(cli, ["--config", str(cfg), "runs", "--format", "json"])
    assert json.loads(res.stdout)[0]["source"] == "work_calendar" and not res.stderr
    res = runner.invoke(cli, ["--config", str(cfg), "sources", "--format", "json"])
    cal = json.loads(res.stdout)["calendar"]
    assert cal == {"missing": [2041], "years": [
        {"year": 2040, "origin": "notice", "sources": ["work_calendar"], "days": 1},
        {"year": 2041, "origin": None, "sources": [], "days": 0}]}
    res = runner.invoke(cli, ["--config", str(cfg), "sources"])
    assert "no holiday calendar for 2041" in res.stderr
    assert "2040  loaded notice" in res.stdout and "2041  none: Monday-Friday" in res.stdout

    monkeypatch.setenv("GONGZHI_CONFIG", str(cfg))
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=60).run()
    at.switch_page("screens/runs.py").run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any("尚未载入 2041 年节假日安排" in w and "2041年部分节假日安排的通知" in w
               for w in warnings), warnings
    captions = [c.value.replace("\\", "") for c in at.caption]  # Markdown escapes off
    assert any("2040 年（已载入通知，work_calendar）；2041 年（未载入）" in c
               for c in captions), captions

    # a shorter lead time: no warning on 5 December
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\n[calendar]\nwarn_days_ahead = 7\n",
                   encoding="utf-8")
    res = runner.invoke(cli, ["--config", str(cfg), "runs"])
    assert res.exit_code == 0 and "holiday calendar" not in res.stderr


def test_a_notice_loaded_without_the_rollup_follower_is_taken_up_before_the_next_run(
        sqlite_url: str) -> None:
    """As when the package gains a year: the next ensure_rollups (every ingest starts with it)
    rebuilds the index and the 按期 rollups, and moves the data version."""
    from sqlalchemy import insert

    from warehouse.engine import utcnow, write_transaction
    from warehouse.schema import holiday_calendar

    engine = open_warehouse(sqlite_url)
    catalog = load_catalog()
    ensure_rollups(engine, catalog)
    assert ensure_rollups(engine, catalog) == []
    version = data_version(engine)
    day = first(calendar.local_today().year + 1, 3, 2, want_work=True)
    with write_transaction(engine) as c:
        c.execute(insert(holiday_calendar).values(day=day, workday=False, holiday="测试",
                                                  _run_id=1, _ingested_at=utcnow(),
                                                  _source="elsewhere"))
    assert ensure_rollups(engine, catalog) == ["rollup_service_cases__completed_at"]
    assert data_version(engine) == version + 1
    with engine.connect() as c:
        assert c.execute(select(work_calendar.c.workday).where(
            work_calendar.c.day == day)).scalar_one() is False
    assert ensure_rollups(engine, catalog) == []
    engine.dispose()
