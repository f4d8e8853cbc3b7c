"""Months new to a partitioned fact table loaded whole (warehouse/month_load.py): the stored
rows equal an unpartitioned SQLite warehouse fed the same files, a key that moves to a new
month is updated (never stored twice), a run that fails after the attach leaves the warehouse
as it was, and readers are served while a run writes and indexes its new months."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from ingest.runner import Runner
from tests.warehouse.test_partitions import (
    case_rows,
    expected_cases,
    per_partition,
    setup_sources,
    stored_cases,
    utc_month_counts,
    write_cases,
)
from warehouse import direct_months, month_load, partitions, runlog, schema
from warehouse.engine import open_warehouse


def attached_indexes(engine: Any, part: str) -> set[str]:
    """The parent indexes that ``part``'s indexes are attached to (read from the catalog)."""
    with engine.connect() as c:
        return set(c.execute(text(
            "SELECT p.relname FROM pg_inherits i JOIN pg_class ci ON ci.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_index x ON x.indexrelid = ci.oid "
            "WHERE x.indrelid = to_regclass(:t)"), {"t": part}).scalars())


def leftovers(engine: Any) -> set[str]:
    """Scratch tables of a run, and month tables that are no partition, left in the schema."""
    with engine.connect() as c:
        return set(c.execute(text(
            "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND relnamespace = "
            "to_regnamespace(current_schema()) AND (relname LIKE '\\_bulk\\_%' OR relname "
            "LIKE '\\_stage\\_%' OR (relname ~ '_p[0-9]{6}$' AND NOT relispartition))"
        )).scalars())


@pytest.mark.postgres
def test_new_months_equal_sqlite_and_a_key_moving_to_a_new_month_is_updated(
        tmp_path: Path, pg_schema_url: str) -> None:
    first = case_rows(range(200), [1, 2, 3], seed=21)
    # the second run: 10 January cases move to May (no partition yet), 5 change their
    # community, 20 new cases in May and 10 in February (a month with its partition)
    jan = [k for k, r in first.items() if r["submitted_at"].month == 1][:15]
    second = {k: dict(first[k]) for k in jan}
    for n, k in enumerate(jan):
        if n < 10:
            second[k].update(submitted_at=dt.datetime(2024, 5, 4 + n, 9, 0), completed_at=None,
                             status="accepted")
        else:
            second[k]["visits"] = second[k]["visits"] + 1
    second.update(case_rows(range(200, 220), [5], seed=22))
    second.update(case_rows(range(220, 230), [2], seed=23))
    stored = {}
    for engine_name, url in (("postgresql", pg_schema_url),
                             ("sqlite", f"sqlite:///{tmp_path / 'lite' / 'w.db'}")):
        folder = tmp_path / engine_name
        settings = setup_sources(folder, url)
        engine = open_warehouse(settings.warehouse_url)
        try:
            write_cases(folder / "inbox" / "a.csv", first)
            res = Runner(settings, engine, observers=[]).run()
            assert all(r.ok for r in res), [r.error for r in res]
            write_cases(folder / "inbox" / "b.csv", second)
            (r,) = Runner(settings, engine, observers=[]).run(["cases"])
            assert (r.ok, r.inserted, r.updated) == (True, 30, 15), r
            stored[engine_name] = stored_cases(engine)  # asserts no case is stored twice
            if engine_name == "postgresql":
                counts = per_partition(engine, "service_cases")
                want = utc_month_counts({**first, **second})
                assert {k: v for k, v in counts.items() if v} == want
                assert counts["service_cases_pdefault"] == 0
                assert counts["service_cases_p202405"] == 30  # 20 new + 10 moved in
                # the months' indexes were built on the new tables and adopted by the parent's
                for part in want:
                    assert attached_indexes(engine, part) == {
                        "service_cases_pkey", "ix_service_cases_submitted_at",
                        "ix_service_cases_completed_at"}, part
                assert leftovers(engine) == set()
        finally:
            partitions.wait_for_stats()
            engine.dispose()
    assert stored["postgresql"] == stored["sqlite"] == expected_cases({**first, **second})


@pytest.mark.postgres
def test_a_run_failing_after_the_attach_leaves_the_warehouse_unchanged(
        tmp_path: Path, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = setup_sources(tmp_path, pg_schema_url)
    engine = open_warehouse(settings.warehouse_url)
    try:
        first = case_rows(range(50), [1, 2], seed=31)
        write_cases(tmp_path / "inbox" / "a.csv", first)
        assert all(r.ok for r in Runner(settings, engine, observers=[]).run())
        before = (stored_cases(engine), per_partition(engine, "service_cases"))
        cursor = runlog.get_cursor(engine, "cases")

        real = month_load.attach
        seen: list[list[dt.date]] = []

        def attach_then_fail(*a: Any, **k: Any) -> list[dt.date]:
            seen.append(real(*a, **k))
            raise RuntimeError("disk full, say, right after the attach")

        monkeypatch.setattr(month_load, "attach", attach_then_fail)
        moved = {k: {**first[k], "submitted_at": dt.datetime(2024, 6, 3, 9, 0)}
                 for k in list(first)[:5]}
        write_cases(tmp_path / "inbox" / "b.csv", {
            **moved, **case_rows(range(50, 90), [6, 7], seed=32)})
        (r,) = Runner(settings, engine, observers=[]).run(["cases"])
        assert r.status == runlog.FAILED and "disk full" in (r.error or ""), r
        assert seen == [[dt.date(2024, 6, 1), dt.date(2024, 7, 1)]]  # they were attached
        assert (stored_cases(engine), per_partition(engine, "service_cases")) == before
        assert runlog.get_cursor(engine, "cases") == cursor
        assert leftovers(engine) == set()

        monkeypatch.undo()  # the next run loads it all
        (r,) = Runner(settings, engine, observers=[]).run(["cases"])
        assert r.ok and (r.inserted, r.updated) == (40, 5), r
        assert per_partition(engine, "service_cases")["service_cases_p202406"] >= 5
    finally:
        partitions.wait_for_stats()
        engine.dispose()


@pytest.mark.postgres
def test_readers_are_served_while_a_run_writes_its_new_months(
        tmp_path: Path, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dashboard's query over the whole table, run while the merge has written and indexed
    the new months (the run's transaction open), answers at once with the data as it was."""
    settings = setup_sources(tmp_path, pg_schema_url)
    engine = open_warehouse(settings.warehouse_url)
    reader = create_engine(pg_schema_url)
    try:
        first = case_rows(range(40), [1], seed=41)
        write_cases(tmp_path / "inbox" / "a.csv", first)
        assert all(r.ok for r in Runner(settings, engine, observers=[]).run())
        answers: list[tuple[int, int]] = []
        failures: list[BaseException] = []

        def read() -> None:
            try:
                with reader.connect() as c:
                    c.exec_driver_sql("SET lock_timeout = '3s'")  # blocked: an error, no hang
                    t = schema.service_cases
                    answers.append(tuple(c.execute(select(
                        func.count(), func.count(func.distinct(t.c.community_code)))).one()))
            except BaseException as e:  # reported below, in the test's thread
                failures.append(e)

        real_attach = direct_months.attach  # the new months' rows are copied by then
        real_ddl = month_load._q  # every statement of attach names a table through it

        def read_then_attach(*a: Any, **k: Any) -> int:
            th = threading.Thread(target=read)  # rows written, not indexed yet
            th.start()
            th.join(10)
            return real_attach(*a, **k)

        monkeypatch.setattr(direct_months, "attach", read_then_attach)
        calls = {"n": 0}

        def quoted(name: str) -> str:
            calls["n"] += 1
            if name.endswith("_pkey") and calls.get("read") is None:
                calls["read"] = 1  # once, as the first month's key is built (or renamed)
                th = threading.Thread(target=read)
                th.start()
                th.join(10)
            return real_ddl(name)

        monkeypatch.setattr(month_load, "_q", quoted)
        monkeypatch.setattr(direct_months, "_q", quoted)  # where the key takes its name
        write_cases(tmp_path / "inbox" / "b.csv", case_rows(range(40, 100), [3, 4], seed=42))
        (r,) = Runner(settings, engine, observers=[]).run(["cases"])
        assert r.ok and r.inserted == 60, r
        assert not failures, failures
        want = (len(first), len({x["community_code"] for x in first.values()}))
        assert answers == [want, want]
        assert len(stored_cases(engine)) == 100
    finally:
        partitions.wait_for_stats()
        reader.dispose()
        engine.dispose()


@pytest.mark.postgres
def test_a_run_adding_months_waits_its_turn_then_uses_the_default_partition(
        tmp_path: Path, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another run adding months to the table holds their lock past the wait: this run still
    loads (its new month's rows in the DEFAULT partition); the next one gives them their
    month."""
    monkeypatch.setattr(partitions, "LOCK_WAIT", "200ms")
    settings = setup_sources(tmp_path, pg_schema_url)
    engine = open_warehouse(settings.warehouse_url)
    other = engine.connect()
    try:
        rows = case_rows(range(30), [8], seed=51)
        write_cases(tmp_path / "inbox" / "a.csv", rows)
        tx = other.begin()  # the months' lock, as another run's merge holds it
        other.exec_driver_sql(partitions.month_lock_sql("service_cases"))
        res = Runner(settings, engine, observers=[]).run()
        assert all(r.ok for r in res), [r.error for r in res]
        assert per_partition(engine, "service_cases") == {"service_cases_pdefault": 30}
        tx.rollback()
        more = case_rows(range(30, 36), [8], seed=52)
        write_cases(tmp_path / "inbox" / "b.csv", more)
        assert Runner(settings, engine, observers=[]).run(["cases"])[0].ok
        assert per_partition(engine, "service_cases") == {
            "service_cases_pdefault": 0, **utc_month_counts({**rows, **more})}
        assert stored_cases(engine) == expected_cases({**rows, **more})
        assert leftovers(engine) == set()
    finally:
        partitions.wait_for_stats()
        other.close()
        engine.dispose()


@pytest.mark.postgres
def test_a_run_adding_months_in_another_warehouse_on_the_server_does_not_hold_this_one_back(
        tmp_path: Path, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The months' lock is the warehouse's own (database and schema): another warehouse on
    the same server adding months to its table of the same name leaves this run alone, so
    its new month gets its partition at once."""
    from tests.conftest import private_pg_schema

    monkeypatch.setattr(partitions, "LOCK_WAIT", "200ms")
    settings = setup_sources(tmp_path, pg_schema_url)
    engine = open_warehouse(settings.warehouse_url)
    with private_pg_schema() as elsewhere_url:
        elsewhere = create_engine(elsewhere_url)
        other = elsewhere.connect()
        try:
            rows = case_rows(range(30), [8], seed=53)
            write_cases(tmp_path / "inbox" / "a.csv", rows)
            tx = other.begin()  # the other warehouse's run, adding months to its own table
            other.exec_driver_sql(partitions.month_lock_sql("service_cases"))
            res = Runner(settings, engine, observers=[]).run()
            assert all(r.ok for r in res), [r.error for r in res]
            assert per_partition(engine, "service_cases") == {
                "service_cases_pdefault": 0, **utc_month_counts(rows)}
            assert stored_cases(engine) == expected_cases(rows)
            tx.rollback()
        finally:
            partitions.wait_for_stats()
            other.close()
            elsewhere.dispose()
            engine.dispose()
