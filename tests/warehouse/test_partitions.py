"""Fact tables partitioned by month on PostgreSQL (warehouse/partitions.py): the layout of a
new warehouse, a partition made on demand when a run brings a new month, a row whose time
moves to another month (moved, never doubled), the DEFAULT partition, converting an existing
warehouse, and rollups refreshed only for the months a run touched, with the same figures as
an unpartitioned SQLite warehouse fed the same files."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import DateTime, func, insert, select, text

import metrics.rollup.build as rollup_build
import metrics.rollup.observe as rollup_mod
from ingest.registry import load_validated
from ingest.runner import Runner
from metrics.catalog import load_catalog
from metrics.rollup import RollupObserver, ensure_rollups, families, rebuild
from tests.conftest import divisions_source, write_config
from tests.metrics.test_rollup import items_csv, snapshot
from warehouse import partitions, schema
from warehouse.engine import open_warehouse, write_transaction

COMMUNITIES = ["420606001001", "420606001002", "420606002001"]
HEADER = "case_id,item_code,community_code,channel,submitted_at,completed_at,status,visits"
LOCAL = dt.timedelta(hours=8)  # the CSV's times are Beijing time; the warehouse keeps UTC


def case_rows(ids: range, months: list[int], seed: int) -> dict[str, dict[str, Any]]:
    """Cases (local times) by id: submitted in one of ``months`` of 2024, mostly completed
    in the next month."""
    rnd = random.Random(seed)
    out = {}
    for i in ids:
        m = rnd.choice(months)
        sub = dt.datetime(2024, m, rnd.randint(2, 27), 10, 0)
        done = dt.datetime(2024 + m // 12, m % 12 + 1, rnd.randint(2, 27), 11, 0) \
            if rnd.random() < 0.7 else None
        out[f"C{i:04d}"] = {"item_code": rnd.choice(["I1", "I2", "I3"]),
                            "community_code": rnd.choice(COMMUNITIES), "channel": "online",
                            "submitted_at": sub, "completed_at": done,
                            "status": "completed" if done else "accepted",
                            "visits": rnd.randint(0, 3)}
    return out


def write_cases(path: Path, rows: dict[str, dict[str, Any]]) -> None:
    def fmt(v: Any) -> str:
        return "" if v is None else v.strftime("%Y-%m-%d %H:%M") if isinstance(
            v, dt.datetime) else str(v)
    lines = [HEADER] + [",".join([k] + [fmt(r[c]) for c in HEADER.split(",")[1:]])
                        for k, r in rows.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def setup_sources(folder: Path, url: str) -> Any:
    (folder / "inbox").mkdir(parents=True)
    (folder / "items").mkdir()
    items_csv(folder / "items" / "a.csv", 3)
    cfg = write_config(folder, url, [
        divisions_source(),
        {"id": "items", "plugin": "files", "table": "service_items", "path": "items/*.csv"},
        {"id": "cases", "plugin": "files", "table": "service_cases", "path": "inbox/*.csv"},
    ])
    return load_validated(cfg)


def stored_cases(engine: Any) -> dict[str, tuple[Any, ...]]:
    t = schema.service_cases
    with engine.connect() as c:
        rows = c.execute(select(t.c.case_id, t.c.submitted_at, t.c.completed_at,
                                t.c.community_code)).all()
    out = {r[0]: tuple(r[1:]) for r in rows}
    assert len(out) == len(rows), "a case is stored twice"
    return out


def expected_cases(rows: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {k: (r["submitted_at"] - LOCAL, r["completed_at"] - LOCAL if r["completed_at"]
                else None, r["community_code"]) for k, r in rows.items()}


def per_partition(engine: Any, table: str) -> dict[str, int]:
    """Rows in each partition of ``table``, read from the partitions themselves."""
    with engine.connect() as c:
        names = c.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t AND "
            "p.relnamespace = to_regnamespace(current_schema())"), {"t": table}).scalars().all()
        return {n: c.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one() for n in names}


def utc_month_counts(rows: dict[str, dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows.values():
        name = partitions.month_name("service_cases", (r["submitted_at"] - LOCAL).date()
                                     .replace(day=1))
        out[name] = out.get(name, 0) + 1
    return out


@pytest.mark.postgres
def test_new_postgres_warehouse_partitions_every_fact_table_with_a_time(
        pg_schema_url: str) -> None:
    engine = open_warehouse(pg_schema_url)
    try:
        # independently of partitions.partition_column: facts with a required timestamp
        want = {t.name for t in schema.data_tables().values()
                if t.info["kind"] == schema.FACT and any(
                    isinstance(c.type, DateTime) and not c.nullable and c.name[0] != "_"
                    for c in t.columns)}
        assert {"service_cases", "grid_events", "hotline_requests"} <= want
        with engine.connect() as c:
            got = set(c.execute(text(
                "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON "
                "c.oid = p.partrelid WHERE c.relnamespace = to_regnamespace(current_schema())"
            )).scalars())
            assert got == want
            assert partitions.mode(c) == "month"
            # the partition key is the time column; the primary key holds it and the case id
            key = c.execute(text(
                "SELECT pg_get_partkeydef('service_cases'::regclass)")).scalar_one()
            assert key == "RANGE (submitted_at)"
            pk = c.execute(text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
                "'service_cases'::regclass AND contype = 'p'")).scalar_one()
            assert pk == "PRIMARY KEY (case_id, submitted_at)"
        assert per_partition(engine, "service_cases") == {"service_cases_pdefault": 0}
        assert "property_fees" not in got  # its month is a YYYY-MM text: left whole
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_none_keeps_postgres_unpartitioned_and_convert_partitions_it(
        tmp_path: Path, pg_schema_url: str) -> None:
    """``[warehouse] partition = "none"`` keeps a new PostgreSQL warehouse whole (an existing
    one's layout); ``gongzhi partition`` converts it, rows and later runs intact."""
    import json

    from click.testing import CliRunner

    from gongzhi.cli import cli

    settings = setup_sources(tmp_path, pg_schema_url)
    cfg = Path(str(settings.path))
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        "[warehouse]\n", '[warehouse]\npartition = "none"\n', 1), encoding="utf-8")
    rows = case_rows(range(60), [1, 2, 3], seed=3)
    write_cases(tmp_path / "inbox" / "a.csv", rows)
    settings = load_validated(cfg)
    assert settings.warehouse_partition == "none"
    cli_runner = CliRunner()
    # what `gongzhi ingest` opens (its rollups left out: seconds this test does not need)
    engine = open_warehouse(settings.warehouse_url, partition=settings.warehouse_partition)
    try:
        assert all(r.ok for r in Runner(settings, engine, observers=[]).run())
        with engine.connect() as c:
            assert partitions.mode(c) == "none"
            assert not partitions.is_partitioned(c, "service_cases")
        res = cli_runner.invoke(cli, ["--config", str(cfg), "partition"])
        assert res.exit_code == 0, res.output
        assert f"{len(rows):,} rows moved now" in res.output
        with engine.connect() as c:
            assert partitions.is_partitioned(c, "service_cases")
            assert partitions.mode(c) == "month"
        assert stored_cases(engine) == expected_cases(rows)
        counts = per_partition(engine, "service_cases")
        assert {k: v for k, v in counts.items() if v} == utc_month_counts(rows)
        res = cli_runner.invoke(cli, ["--config", str(cfg), "partition", "--status",
                                      "--format", "json"])
        shown = json.loads(res.output)
        assert shown["converted"] == {}
        assert shown["tables"]["service_cases"] == sorted(
            k.removeprefix("service_cases_p")[:4] + "-" + k[-2:]
            for k in utc_month_counts(rows))
        # runs keep working on the converted table: a new month arrives
        more = case_rows(range(60, 70), [7], seed=4)
        write_cases(tmp_path / "inbox" / "b.csv", more)
        assert Runner(settings, engine, observers=[]).run(["cases"])[0].ok
        assert stored_cases(engine) == expected_cases({**rows, **more})
        assert per_partition(engine, "service_cases")["service_cases_p202407"] == 10
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_months_on_demand_rows_move_and_default_partition(
        tmp_path: Path, pg_schema_url: str) -> None:
    settings = setup_sources(tmp_path, pg_schema_url)
    engine = open_warehouse(settings.warehouse_url)
    try:
        # a row written outside a run, in a month without a partition: the DEFAULT keeps it
        t = schema.service_cases
        stray = dt.datetime(2024, 9, 10, 2, 0)
        with write_transaction(engine) as c:
            c.execute(insert(t).values(case_id="X1", item_code="I1",
                                       community_code=COMMUNITIES[0], channel="online",
                                       submitted_at=stray, status="accepted", visits=0,
                                       _run_id=0, _ingested_at=stray, _source="test"))
        assert per_partition(engine, "service_cases") == {"service_cases_pdefault": 1}

        rows = case_rows(range(100), [1, 2, 3], seed=5)
        write_cases(tmp_path / "inbox" / "a.csv", rows)
        assert all(r.ok for r in Runner(settings, engine, observers=[]).run())
        counts = per_partition(engine, "service_cases")
        assert {k: v for k, v in counts.items() if v} == {
            **utc_month_counts(rows), "service_cases_pdefault": 1}
        # autovacuum never analyses a partitioned parent: the run did (it wrote them all),
        # after its commit, on a thread of its own
        partitions.wait_for_stats()
        with engine.connect() as c:
            assert c.execute(text("SELECT reltuples FROM pg_class WHERE relname = "
                                  "'service_cases' AND relnamespace = to_regnamespace("
                                  "current_schema())")).scalar_one() == len(rows) + 1

        # 10 rows move to September (a month with a partition yet: made on demand; the stray
        # row waiting in the DEFAULT partition moves in with them), 5 to another community
        later = {k: dict(r) for k, r in list(rows.items())[:15]}
        for n, r in enumerate(later.values()):
            if n < 10:
                r["submitted_at"] = dt.datetime(2024, 9, 3 + n, 9, 0)
                r["completed_at"] = None
                r["status"] = "accepted"
            else:
                r["community_code"] = COMMUNITIES[(COMMUNITIES.index(r["community_code"]) + 1)
                                                  % len(COMMUNITIES)]
        write_cases(tmp_path / "inbox" / "b.csv", later)
        res = Runner(settings, engine, observers=[]).run(["cases"])
        assert res[0].ok and res[0].updated == 15 and res[0].inserted == 0
        now = {**rows, **later}
        stored = stored_cases(engine)
        assert stored.pop("X1")[0] == stray
        assert stored == expected_cases(now)  # moved, not doubled
        counts = per_partition(engine, "service_cases")
        assert counts["service_cases_pdefault"] == 0
        assert counts["service_cases_p202409"] == 11
        assert {k: v for k, v in counts.items() if v} == {
            **{k: v + (k == "service_cases_p202409") for k, v in
               utc_month_counts(now).items()}}

        # a month beyond the horizon gets no partition of its own: the DEFAULT keeps its rows
        with write_transaction(engine) as c:
            far = dt.date.today().year + partitions.HORIZON_YEARS + 5
            assert partitions.add_months(c, t, {dt.date(far, 1, 1)}) == []
    finally:
        engine.dispose()


def _recording(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """Which rollup months each family writes (every write goes through
    ``metrics.rollup.observe._apply``; a whole rebuild through ``rebuild``)."""
    written: dict[str, set[str]] = {}
    real_apply, real_rebuild = rollup_mod._apply, rollup_mod.rebuild

    def apply(conn: Any, fam: Any, delta: Any) -> None:
        written.setdefault(fam.name, set()).update(delta["month"].to_list())
        real_apply(conn, fam, delta)

    def whole(conn: Any, fam: Any) -> None:
        written.setdefault(fam.name, set()).add("*")
        real_rebuild(conn, fam)

    real_refresh = rollup_mod.refresh_months

    def some(conn: Any, fam: Any, months: set[str]) -> None:
        written.setdefault(fam.name, set()).update(months)
        real_refresh(conn, fam, months)

    monkeypatch.setattr(rollup_mod, "_apply", apply)
    monkeypatch.setattr(rollup_mod, "rebuild", whole)
    # ensure_rollups (build.py) rebuilds a family through its own module's name
    monkeypatch.setattr(rollup_build, "rebuild", whole)
    monkeypatch.setattr(rollup_mod, "refresh_months", some)
    return written


def _local_month(t: dt.datetime | None) -> set[str]:
    return {t.strftime("%Y-%m")} if t else set()


@pytest.mark.postgres
def test_rollups_touch_only_the_runs_months_and_equal_sqlite(
        tmp_path: Path, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = load_catalog()
    fams = [f for f in families(catalog).values() if f.table == "service_cases"]
    assert {f.time for f in fams} >= {"submitted_at"}
    first = case_rows(range(300), [1, 2, 3, 4, 5, 6], seed=7)
    # the second run: 20 January cases re-sent changed (10 move to August), 30 new in August
    jan = [k for k, r in first.items() if r["submitted_at"].month == 1][:20]
    second = {k: dict(first[k]) for k in jan}
    for n, k in enumerate(jan):
        if n < 10:
            second[k].update(submitted_at=dt.datetime(2024, 8, 5, 9, 0), completed_at=None,
                             status="accepted")
        else:
            second[k]["visits"] = second[k]["visits"] + 1
    second.update(case_rows(range(300, 330), [8], seed=8))
    # what the second run may touch, per time column: old and new months of its rows
    touched: dict[str, set[str]] = {}
    for f in fams:
        months: set[str] = set()
        for k, r in second.items():
            months |= _local_month(r[f.time])
            if k in first:
                months |= _local_month(first[k][f.time])
        touched[f.name] = months

    results = {}
    for engine_name, url in (("postgresql", pg_schema_url),
                             ("sqlite", f"sqlite:///{tmp_path / 'lite' / 'w.db'}")):
        folder = tmp_path / engine_name
        settings = setup_sources(folder, url)
        engine = open_warehouse(settings.warehouse_url)
        try:
            ensure_rollups(engine, catalog)
            write_cases(folder / "inbox" / "a.csv", first)
            assert all(r.ok for r in Runner(settings, engine,
                                            observers=[RollupObserver(catalog)]).run())
            with engine.connect() as c:
                before = {f.name: snapshot(c, f) for f in fams}
            write_cases(folder / "inbox" / "b.csv", second)
            written = _recording(monkeypatch)
            res = Runner(settings, engine, observers=[RollupObserver(catalog)]).run(["cases"])
            monkeypatch.undo()
            assert res[0].ok and res[0].inserted == 30 and res[0].updated == 20
            with write_transaction(engine) as c:
                after = {f.name: snapshot(c, f) for f in fams}
                for f in fams:
                    rebuild(c, f)  # a full recompute from the facts gives the same figures
                    assert snapshot(c, f) == after[f.name], f.name
                c.rollback()
            for f in fams:
                assert "*" not in written.get(f.name, set()), "a whole family was recomputed"
                assert written.get(f.name, set()) <= touched[f.name], f.name
                assert written.get(f.name), f"{f.name}: the run's months were not refreshed"
                # rollup rows of the months the run did not touch are exactly as before
                keep = {k: v for k, v in after[f.name].items() if k[1] not in touched[f.name]}
                assert keep == {k: v for k, v in before[f.name].items()
                                if k[1] not in touched[f.name]}
                assert keep, "some months are untouched"
            if engine_name == "postgresql":
                assert per_partition(engine, "service_cases")["service_cases_p202408"] == 40
            results[engine_name] = (after, stored_cases(engine))
        finally:
            engine.dispose()
    assert results["postgresql"] == results["sqlite"]
    assert results["sqlite"][1] == expected_cases({**first, **second})


def test_partition_setting_is_checked(tmp_path: Path) -> None:
    from core.errors import ConfigError
    from core.settings import settings_from_dict

    assert settings_from_dict({}).warehouse_partition == "month"
    assert settings_from_dict({"warehouse": {"partition": "none"}}).warehouse_partition == "none"
    with pytest.raises(ConfigError, match="'partition' must be"):
        settings_from_dict({"warehouse": {"partition": "day"}})


def test_sqlite_stays_unpartitioned(sqlite_url: str) -> None:
    engine = open_warehouse(sqlite_url, partition="month")
    try:
        with engine.connect() as c:
            assert partitions.mode(c) == "none"
            assert c.execute(select(func.count()).select_from(schema.service_cases)
                             ).scalar_one() == 0
    finally:
        engine.dispose()


def test_item_change_refreshes_only_the_months_of_its_cases(
        tmp_path: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """按期 (on time) depends on the item catalogue's promised days: a changed item used to
    recompute whole families; now only the months holding that item's cases are, on both
    engines, with the figures of a full recompute."""
    catalog = load_catalog()
    settings = setup_sources(tmp_path, warehouse_url)
    items = tmp_path / "items"
    (items / "a.csv").write_text("item_code,item_name,online_capable,promised_days\n"
                                 "I1,甲,true,3\nI2,乙,false,0\nI3,丙,true,5\nI9,壬,true,3\n",
                                 encoding="utf-8")
    rows = case_rows(range(200), [1, 2, 3, 4, 5, 6], seed=9)
    rare = case_rows(range(200, 212), [3], seed=10)
    for r in rare.values():
        r["item_code"] = "I9"
    write_cases(tmp_path / "inbox" / "a.csv", {**rows, **rare})
    engine = open_warehouse(settings.warehouse_url)
    try:
        ensure_rollups(engine, catalog)
        assert all(r.ok for r in Runner(settings, engine,
                                        observers=[RollupObserver(catalog)]).run())
        fams = [f for f in families(catalog).values() if f.depends_on("service_items")]
        assert fams, "some family uses 按期"
        with engine.connect() as c:
            before = {f.name: snapshot(c, f) for f in fams}
        (items / "b.csv").write_text("item_code,item_name,online_capable,promised_days\n"
                                     "I9,壬,true,60\n", encoding="utf-8")
        written = _recording(monkeypatch)
        res = Runner(settings, engine, observers=[RollupObserver(catalog)]).run(["items"])
        monkeypatch.undo()
        assert res[0].ok and res[0].updated == 1
        afters = {}
        with write_transaction(engine) as c:
            for f in fams:
                want = set().union(*(_local_month(r[f.time]) for r in rare.values()))
                assert written.get(f.name) == want, f.name  # not "*": not the whole family
                after = afters[f.name] = snapshot(c, f)
                assert {k: v for k, v in after.items() if k[1] not in want} == {
                    k: v for k, v in before[f.name].items() if k[1] not in want}
                rebuild(c, f)
                assert snapshot(c, f) == after, f.name
            c.rollback()
        # and the change did change the figures of those months (the test could fail)
        assert any(before[f.name] != afters[f.name] for f in fams)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_month_waiting_for_another_merge_goes_to_default_then_moves(
        tmp_path: Path, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attaching a month waits for other merges into the table; past the wait the run still
    loads (its rows in the DEFAULT partition) and a later run gives them their month."""
    monkeypatch.setattr(partitions, "LOCK_WAIT", "200ms")
    settings = setup_sources(tmp_path, pg_schema_url)
    engine = open_warehouse(settings.warehouse_url)
    other = engine.connect()
    try:
        rows = case_rows(range(30), [4], seed=11)
        write_cases(tmp_path / "inbox" / "a.csv", rows)
        # another writer's transaction into the table, still open (as a merge would be)
        tx = other.begin()
        other.execute(text("LOCK TABLE service_cases_pdefault IN ROW EXCLUSIVE MODE"))
        res = Runner(settings, engine, observers=[]).run()
        assert all(r.ok for r in res), [r.error for r in res]
        counts = per_partition(engine, "service_cases")
        assert counts == {"service_cases_pdefault": 30}
        tx.rollback()
        # the first run's statistics (ANALYZE after its commit, on a thread) hold the parent
        # too: this test is about the other writer's lock, so let them finish
        partitions.wait_for_stats()
        more = case_rows(range(30, 35), [4], seed=12)
        write_cases(tmp_path / "inbox" / "b.csv", more)
        assert Runner(settings, engine, observers=[]).run(["cases"])[0].ok
        assert per_partition(engine, "service_cases") == {
            "service_cases_pdefault": 0, **utc_month_counts({**rows, **more})}
        assert stored_cases(engine) == expected_cases({**rows, **more})
    finally:
        other.close()
        engine.dispose()
