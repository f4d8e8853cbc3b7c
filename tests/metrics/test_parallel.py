"""A computation's statements side by side (metrics/parallel.py): every unit runs once, on
at most ``threads`` connections at once; an error reaches the caller; a computation whose
helpers are busy finishes on its own thread; and the KPIs computed so equal the ones
computed one statement after another (every KPI, every street, by month), on both engines."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Connection, create_engine, text

from metrics import parallel, periods
from metrics.service import Metrics


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    e = create_engine(f"sqlite:///{tmp_path / 'p.db'}",
                      connect_args={"check_same_thread": False})
    yield e
    e.dispose()


def test_every_unit_runs_once_on_at_most_threads_connections(engine: Any) -> None:
    seen: list[int] = []
    live: set[int] = set()
    most = [0]
    lock = threading.Lock()

    def unit(i: int, conn: Connection) -> None:
        with lock:
            live.add(id(conn))
            most[0] = max(most[0], len(live))
        assert conn.execute(text("SELECT :i"), {"i": i}).scalar_one() == i
        time.sleep(0.01)  # long enough for the helpers to take units too
        with lock:
            seen.append(i)
            live.discard(id(conn))

    for threads in (1, 2, 3):
        seen.clear()
        most[0] = 0
        parallel.run_all(engine, [lambda c, i=i: unit(i, c) for i in range(40)], threads)
        assert sorted(seen) == list(range(40))
        assert 1 <= most[0] <= threads
    assert most[0] > 1  # three threads did overlap


def test_the_callers_connection_takes_every_unit_with_one_thread(engine: Any) -> None:
    """One thread: every unit on the caller's connection, so a computation on SQLite reads
    one snapshot (its read transaction lasts as long as the connection's); with more, the
    caller's connection takes some and the helpers' the rest."""
    seen: list[int] = []
    with engine.connect() as conn:
        parallel.run_all(engine, [lambda c: seen.append(id(c)) for _ in range(10)], 1, conn)
        assert set(seen) == {id(conn)} and len(seen) == 10
        seen.clear()

        def slow(c: Connection) -> None:
            time.sleep(0.01)
            seen.append(id(c))

        parallel.run_all(engine, [slow] * 30, 2, conn)
        assert len(seen) == 30 and id(conn) in seen and len(set(seen)) == 2


def test_a_computation_on_sqlite_reads_one_snapshot(tmp_path: Path) -> None:
    """A run committing between two statements of a computation on SQLite (one thread) does
    not reach the later statements: they read the snapshot the first one began."""
    from warehouse.engine import make_engine

    eng = make_engine(f"sqlite:///{tmp_path / 'snap.db'}")
    with eng.begin() as c:
        c.execute(text("CREATE TABLE t (n INTEGER)"))
        c.execute(text("INSERT INTO t VALUES (1)"))
    writer = make_engine(f"sqlite:///{tmp_path / 'snap.db'}")
    got: list[int] = []

    def read(c: Connection) -> None:
        got.append(c.execute(text("SELECT count(*) FROM t")).scalar_one())
        if len(got) == 1:  # a run commits meanwhile
            with writer.begin() as w:
                w.execute(text("INSERT INTO t VALUES (2)"))

    with eng.connect() as conn:
        parallel.run_all(eng, [read, read], 1, conn)
        parallel.run_all(eng, [read], 1, conn)
    assert got == [1, 1, 1]
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    eng.dispose()
    writer.dispose()


def test_the_first_error_reaches_the_caller_and_later_units_are_not_started(
        engine: Any) -> None:
    ran: list[int] = []

    def unit(i: int, conn: Connection) -> None:
        if i == 3:
            raise ValueError("unit 3 failed")
        ran.append(i)

    with pytest.raises(ValueError, match="unit 3 failed"):
        parallel.run_all(engine, [lambda c, i=i: unit(i, c) for i in range(200)], 1)
    assert ran == [0, 1, 2]
    ran.clear()
    with pytest.raises(ValueError, match="unit 3 failed"):
        parallel.run_all(engine, [lambda c, i=i: unit(i, c) for i in range(200)], 2)
    assert 3 not in ran and len(ran) < 199


def test_a_computation_does_not_wait_for_busy_helpers(engine: Any) -> None:
    release = threading.Event()
    started = threading.Event()

    def hold(conn: Connection) -> None:
        started.set()
        release.wait(10)

    # another computation keeps the one helper busy
    other = threading.Thread(target=parallel.run_all,
                             args=(engine, [hold, hold], 2))
    other.start()
    try:
        assert started.wait(5)
        time.sleep(0.05)  # both holds taken: one by its caller, one by the helper
        done: list[int] = []
        t0 = time.perf_counter()
        parallel.run_all(engine, [lambda c, i=i: done.append(i) for i in range(5)], 2)
        assert done == [0, 1, 2, 3, 4]  # all on this thread, in order
        assert time.perf_counter() - t0 < 5
        assert not release.is_set()
    finally:
        release.set()
        other.join(10)


def test_default_threads_by_engine(engine: Any) -> None:
    assert parallel.default_threads(engine) == 1
    pg = create_engine("postgresql+psycopg://u@127.0.0.1:1/x")
    assert parallel.default_threads(pg) == parallel.POSTGRES_THREADS == 2
    assert Metrics(engine).threads == 1 and Metrics(engine, threads=3).threads == 3


def _every_view(m: Metrics) -> list[pl.DataFrame]:
    d = m.district()
    p = periods.parse("2025-05")
    return [m.compute(None, d, p), m.compute(None, d, p, "street"),
            m.compute(None, d, periods.parse("2025-Q1"), "month"),
            m.compute(None, m.scope("street", "汉江街道"), p, "community")]


def _same(a: list[pl.DataFrame], b: list[pl.DataFrame]) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.height > 0
        assert x.to_dicts() == y.to_dicts()


def test_kpis_computed_side_by_side_equal_one_after_another_sqlite(office_demo: Path,
                                                                    tmp_path: Path) -> None:
    from ingest.registry import load_validated
    from warehouse.engine import open_warehouse

    copy = tmp_path / "demo"
    shutil.copytree(office_demo.parent, copy)
    settings = load_validated(copy / office_demo.name)
    engine = open_warehouse(settings.warehouse_url)
    try:
        one = Metrics(engine, threads=1)
        _same(_every_view(one), _every_view(Metrics(engine, one.catalog, threads=3)))
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_kpis_computed_side_by_side_equal_one_after_another_postgresql(
        office_demo: Path, pg_schema_url: str) -> None:
    from ingest.registry import load_validated
    from ingest.runner import Runner
    from metrics.rollup import observers_for
    from warehouse.engine import open_warehouse

    settings = load_validated(office_demo)
    settings.warehouse_url = pg_schema_url
    engine = open_warehouse(pg_schema_url)
    try:
        results = Runner(settings, engine, observers=observers_for(settings)).run()
        assert all(r.ok for r in results), [(r.source, r.error) for r in results if not r.ok]
        one = Metrics(engine, threads=1)
        assert Metrics(engine).threads == 2
        _same(_every_view(one), _every_view(Metrics(engine, one.catalog)))
    finally:
        engine.dispose()
