"""``gongzhi ingest --jobs N`` / ``[ingest] parallel_runs``: independent sources run at once,
each in a process of its own, on a real PostgreSQL server. The warehouse they leave (tables,
KPI rollups, KPI figures, the data version) is the one the same sources leave run one after
another; a failing or killed run leaves the others loaded and its own table as it was."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import func, inspect, select, text

from core.errors import ConfigError
from core.settings import load_settings
from ingest.parallel import clash, coupling
from ingest.registry import load_validated
from ingest.runner import Runner, build_runner
from tests.conftest import divisions_source, private_pg_schema, write_config
from tests.ingest.test_faults import write_cases
from warehouse import runlog
from warehouse.engine import data_version, open_warehouse
from warehouse.schema import data_tables, ingest_runs, population, service_cases

GONGZHI = str(Path(sys.executable).with_name("gongzhi"))
DEMO_SOURCES = ["divisions", "grids", "work_calendar", "gov_items", "gov_cases", "grid_events",
                "hotline_requests"]
LINEAGE = {"_run_id", "_ingested_at", "_source"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny demo district's sources (gongzhi demo), written once; returns its config."""
    from gongzhi.demo import write_demo

    root = tmp_path_factory.mktemp("jobs_demo")
    return Path(write_demo(root, scale=0.004, seed=5, end=dt.date(2025, 6, 30)))


def _load(config: Path, url: str, jobs: int) -> list[Any]:
    settings = load_validated(config)
    settings.warehouse_url = url
    engine = open_warehouse(url)
    try:
        return build_runner(settings, engine).run(DEMO_SOURCES, jobs=jobs)
    finally:
        engine.dispose()


def _contents(url: str) -> dict[str, Any]:
    """Every data table's rows without lineage, every rollup table, the KPI figures."""
    from metrics.periods import parse
    from metrics.service import Metrics

    engine = open_warehouse(url)
    out: dict[str, Any] = {}
    try:
        with engine.connect() as c:
            for name, t in data_tables().items():
                cols = [col for col in t.c if col.name not in LINEAGE]
                out[name] = sorted(tuple(map(str, r)) for r in c.execute(select(*cols)))
            for name in inspect(c).get_table_names():
                if name.startswith("rollup"):
                    rows = c.execute(text(f'SELECT * FROM "{name}"')).all()
                    out[name] = sorted(tuple(map(str, r)) for r in rows)
        m = Metrics(engine)
        figures = m.compute(None, m.district(), parse("2025-05"))
        out["kpi"] = figures.select("kpi", "value", "numerator", "denominator",
                                    "sample").sort("kpi").rows()
        out["data_version"] = data_version(engine)
    finally:
        engine.dispose()
    return out


@pytest.mark.postgres
def test_parallel_runs_leave_what_runs_one_after_another_leave(demo: Path) -> None:
    with private_pg_schema() as one, private_pg_schema() as two:
        seq = _load(demo, one, jobs=1)
        par = _load(demo, two, jobs=2)
        assert [r.source for r in par] == [r.source for r in seq]  # the configured order
        assert all(r.ok for r in par), [(r.source, r.error) for r in par if not r.ok]
        for s, p in zip(seq, par, strict=True):
            assert (p.read, p.loaded, p.quarantined, p.duplicates) == (
                s.read, s.loaded, s.quarantined, s.duplicates)
            assert p.read == p.loaded + p.quarantined + p.duplicates
        a, b = _contents(one), _contents(two)
        assert a.keys() == b.keys()
        assert any(k.startswith("rollup_service_cases") for k in a)
        for key in a:
            assert a[key] == b[key], key
        # independently of either: every run that changed data moved the version once (two
        # commits at once never lose a bump), and each table holds what its run loaded
        assert b["data_version"] == sum(1 for r in par if r.inserted or r.updated)
        tables = {"gov_cases": "service_cases", "grid_events": "grid_events",
                  "hotline_requests": "hotline_requests", "gov_items": "service_items"}
        for r in par:
            if r.source in tables:
                assert len(b[tables[r.source]]) == r.loaded > 0
        cases = next(r for r in par if r.source == "gov_cases")
        kpis = {k: (num, den) for k, _v, num, den, _s in b["kpi"]}
        # the district's 2025-05 case count (the denominator of the online rate) from the
        # stored facts, by the local month of submitted_at
        assert cases.loaded == len(b["service_cases"])
        engine = open_warehouse(two)
        with engine.connect() as c:
            may = c.execute(text(
                "SELECT count(*) FROM service_cases WHERE (submitted_at AT TIME ZONE 'UTC') "
                "AT TIME ZONE 'Asia/Shanghai' >= '2025-05-01' AND (submitted_at AT TIME ZONE "
                "'UTC') AT TIME ZONE 'Asia/Shanghai' < '2025-06-01'")).scalar_one()
        engine.dispose()
        assert may > 0 and kpis["gov.online_case_rate"][1] == may
        # the other sources ran in two worker processes (the calendar and the items at once);
        # cases, coupled with both (按期 deadlines), waited for them
        with engine.connect() as c:
            runs = {r.source: r for r in c.execute(select(
                ingest_runs.c.source, ingest_runs.c.pid, ingest_runs.c.started_at,
                ingest_runs.c.finished_at))}
        engine.dispose()
        pooled = [s for s in DEMO_SOURCES if s not in ("divisions", "grids")]
        assert {runs[s].pid for s in ("divisions", "grids")} == {os.getpid()}
        workers = {runs[s].pid for s in pooled}
        assert len(workers) == 2 and os.getpid() not in workers
        assert runs["gov_cases"].started_at >= max(runs["gov_items"].finished_at,
                                                   runs["work_calendar"].finished_at)


def _pop_csv(folder: Path, name: str, residents: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text("community_code,year,residents,households\n"
                 f"420606001001,2024,{residents},{residents // 3}\n"
                 f"420606001002,2024,{residents + 1},{residents // 3}\n", encoding="utf-8")
    return p


def _small(tmp_path: Path, url: str, extra: str = "") -> Path:
    write_cases(tmp_path / "inbox", "a.csv", 200, bad_every=10)
    _pop_csv(tmp_path / "pop", "p.csv", 900)
    return write_config(tmp_path, url, [
        divisions_source(),
        {"id": "cases", "plugin": "files", "table": "service_cases", "path": "inbox/*.csv"},
        {"id": "people", "plugin": "files", "table": "population", "path": "pop/*.csv"},
    ], extra)


def _count(url: str, table: Any) -> int:
    engine = open_warehouse(url)
    with engine.connect() as c:
        n = c.execute(select(func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return int(n)


@pytest.mark.postgres
def test_a_failing_source_leaves_the_other_loaded_and_its_table_unchanged(
        tmp_path: Path) -> None:
    with private_pg_schema() as url:
        cfg = _small(tmp_path, url)
        settings = load_validated(cfg)
        engine = open_warehouse(url)
        first = Runner(settings, engine).run(jobs=2)
        assert [r.status for r in first] == ["succeeded"] * 3
        before = _count(url, service_cases)
        assert before == 180  # 200 rows, every tenth names an unknown community
        write_cases(tmp_path / "inbox", "b.csv", 50, start=1000)
        (tmp_path / "inbox" / "c.csv").write_bytes(b"case_id,item_code\n\xff\xfe\xfd\n")
        _pop_csv(tmp_path / "pop", "q.csv", 5000)
        again = Runner(settings, engine).run(jobs=2)
        by = {r.source: r for r in again}
        assert not by["cases"].ok and "c.csv" in (by["cases"].error or "")
        assert by["people"].ok and by["people"].loaded == 2
        assert _count(url, service_cases) == before  # nothing of the failed run
        with engine.connect() as c:
            residents = sorted(c.execute(select(population.c.residents)).scalars())
        assert residents == [5000, 5001]
        engine.dispose()


@pytest.mark.postgres
def test_a_killed_run_is_a_failed_run_and_the_other_still_loads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with private_pg_schema() as url:
        write_cases(tmp_path / "inbox2", "x.csv", 20, start=5000)
        # a second source of cases: it waits for the first (one table), then goes to a new
        # worker, since the killed one is gone and the other is busy
        cfg = _small(tmp_path, url, "[[sources]]\nid = \"cases2\"\nplugin = \"files\"\n"
                     "table = \"service_cases\"\npath = \"inbox2/*.csv\"\n")
        settings = load_validated(cfg)
        engine = open_warehouse(url)
        Runner(settings, engine).run(["divs"])
        go = tmp_path / "go"
        monkeypatch.setenv("GONGZHI_FAULTPOINT", "after_extract")  # both children wait there
        monkeypatch.setenv("GONGZHI_FAULTPOINT_CONTINUE", str(go))
        out: list[Any] = []
        th = threading.Thread(target=lambda: out.extend(
            Runner(settings, engine).run(["cases", "people", "cases2"], jobs=2)))
        th.start()
        deadline = time.monotonic() + 60
        running: dict[str, int] = {}
        while len(running) < 2 and time.monotonic() < deadline:
            with engine.connect() as c:  # both runs under way at once, in two processes
                running = dict(c.execute(select(ingest_runs.c.source, ingest_runs.c.pid).where(
                    ingest_runs.c.status == runlog.RUNNING)).all())
            time.sleep(0.1)
        assert running.keys() == {"cases", "people"}
        assert len({*running.values(), os.getpid()}) == 3
        victim = running["cases"]
        os.kill(victim, signal.SIGKILL)
        time.sleep(0.5)
        go.touch()
        th.join(60)
        assert not th.is_alive()
        by = {r.source: r for r in out}
        assert by["cases"].status == "failed" and "SIGKILL" in (by["cases"].error or "")
        assert by["people"].ok and by["people"].loaded == 2
        assert by["cases2"].ok and by["cases2"].loaded == 20
        assert _count(url, service_cases) == 20  # nothing of the killed run
        with engine.connect() as c:
            pids = dict(c.execute(select(ingest_runs.c.source, ingest_runs.c.pid)).all())
        assert pids["cases2"] not in (victim, pids["people"])
        with engine.connect() as c:
            logged = c.execute(select(ingest_runs.c.status, ingest_runs.c.error).where(
                ingest_runs.c.run_id == by["cases"].run_id)).one()
        # the parent logged the dead child's run failed, with the reason
        assert logged.status == "failed" and "SIGKILL" in logged.error
        engine.dispose()


def test_parallel_runs_is_read_and_checked(tmp_path: Path) -> None:
    cfg = tmp_path / "gongzhi.toml"
    cfg.write_text('[warehouse]\nurl = "sqlite:///w.db"\n', encoding="utf-8")
    assert load_settings(cfg).ingest.parallel_runs == 1
    cfg.write_text('[ingest]\nparallel_runs = 2\n', encoding="utf-8")
    assert load_settings(cfg).ingest.parallel_runs == 2
    for bad in ("0", "2.5", "true", '"2"', "99"):
        cfg.write_text(f'\n\n[ingest]\nparallel_runs = {bad}\n', encoding="utf-8")
        with pytest.raises(ConfigError) as e:
            load_settings(cfg)
        assert "'parallel_runs' must be a whole number of runs from 1 to 32" in str(e.value)
        assert f"{cfg}:3" in str(e.value)


def test_coupled_tables_never_run_at_once() -> None:
    from metrics.catalog import load_catalog
    from metrics.rollup import RollupObserver

    coupled = coupling([RollupObserver(load_catalog())])
    # 按期 deadlines of cases come from the item catalogue; active volunteers are filed by
    # the volunteer's own community
    assert clash(frozenset({"service_items"}), frozenset({"service_cases"}), coupled)
    assert clash(frozenset({"volunteer_services"}), frozenset({"volunteers"}), coupled)
    assert clash(frozenset({"grid_events"}), frozenset({"grid_events"}), coupled)
    assert not clash(frozenset({"service_cases"}), frozenset({"hotline_requests"}), coupled)


def _cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GONGZHI, "--config", str(cfg), "ingest", *args],
                          capture_output=True, text=True, timeout=180)


@pytest.mark.postgres
def test_the_jobs_flag_end_to_end(tmp_path: Path) -> None:
    with private_pg_schema() as url:
        cfg = _small(tmp_path, url)
        bad = _cli(cfg, "--jobs", "0")
        assert bad.returncode == 2 and "must be a whole number of runs" in bad.stderr
        done = _cli(cfg, "--jobs", "2")
        assert done.returncode == 0, done.stderr
        assert "2 source(s), 2 at a time" in done.stderr
        for source in ("divs", "cases", "people"):
            assert f"[{source}] succeeded" in done.stderr
        assert _count(url, service_cases) == 180 and _count(url, population) == 2
        runs = pl.DataFrame(runlog.list_runs(open_warehouse(url)))
        assert sorted(runs["source"]) == ["cases", "divs", "people"]
        assert set(runs["status"]) == {"succeeded"}


def test_sqlite_runs_one_after_another_and_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    cfg = _small(tmp_path, url, "[ingest]\nparallel_runs = 2\n")
    done = _cli(cfg)
    assert done.returncode == 0, done.stderr
    assert "takes one writer at a time: the sources run one after another" in done.stderr
    assert _count(url, service_cases) == 180 and _count(url, population) == 2


def test_a_commit_rolled_back_for_a_deadlock_runs_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg
    from sqlalchemy.exc import OperationalError

    import ingest.runner as runner_module

    url = f"sqlite:///{tmp_path / 'w.db'}"
    cfg = _small(tmp_path, url)
    settings = load_validated(cfg)
    engine = open_warehouse(url)
    Runner(settings, engine).run(["divs"])
    real = runner_module.bump_data_version
    calls: list[int] = []

    def deadlocked_once(conn: Any) -> int:
        calls.append(1)
        if len(calls) == 1:  # what psycopg raises when the server breaks a deadlock
            raise OperationalError("UPDATE warehouse_meta …", {},
                                   psycopg.errors.DeadlockDetected("deadlock detected"))
        return real(conn)

    monkeypatch.setattr(runner_module, "bump_data_version", deadlocked_once)
    [r] = Runner(settings, engine).run(["cases"])
    assert r.ok and r.loaded == 180 and len(calls) == 2
    runs = runlog.list_runs(engine, source="cases")
    assert [x["status"] for x in runs] == ["succeeded", "failed"]  # newest first
    assert "WriteConflict" in runs[1]["error"] and "goes again" in runs[1]["error"]
    assert _count(url, service_cases) == 180  # loaded once
    engine.dispose()
