"""Two runs committing at once on PostgreSQL (``gongzhi ingest --jobs``): the data version
counts both (no lost update), a value both write first is one row, and a deadlock the server
breaks is a typed, retryable :class:`WriteConflict`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from core.errors import WriteConflict
from ingest.runner import _conflicts_named
from tests.conftest import private_pg_schema
from warehouse import faults, meta
from warehouse.engine import bump_data_version, data_version, open_warehouse

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg() -> Iterator[Engine]:
    with private_pg_schema() as url:
        engine = open_warehouse(url)
        try:
            yield engine
        finally:
            engine.dispose()


def _second_waits(engine: Engine, first_step: Any, second_step: Any) -> list[Any]:
    """``first_step`` in an open transaction, ``second_step`` in another one on a thread
    (it waits for the first's row lock), then the first commits, then the second."""
    got: list[Any] = []
    with engine.connect() as a:
        tx = a.begin()
        got.append(first_step(a))

        def other() -> None:
            with engine.begin() as b:
                got.append(second_step(b))

        th = threading.Thread(target=other)
        th.start()
        th.join(1.0)
        assert th.is_alive()  # waiting for the first transaction's row
        tx.commit()
        th.join(30)
    return got


def test_two_runs_bumping_at_once_count_twice(pg: Engine) -> None:
    with pg.begin() as c:  # no version row yet: both bumps make or find it
        c.execute(text("DELETE FROM warehouse_meta WHERE key = 'data_version'"))
    assert _second_waits(pg, bump_data_version, bump_data_version) == [1, 2]
    assert _second_waits(pg, bump_data_version, bump_data_version) == [3, 4]
    assert data_version(pg) == 4


def test_a_value_both_write_first_is_one_row(pg: Engine) -> None:
    _second_waits(pg, lambda c: meta.put(c, "loaded:x", "a"),
                  lambda c: meta.put(c, "loaded:x", "b"))
    with pg.connect() as c:
        rows = c.execute(text("SELECT value FROM warehouse_meta WHERE key = 'loaded:x'")).all()
    assert [r.value for r in rows] == ["b"]


def test_a_deadlock_is_a_retryable_write_conflict(pg: Engine) -> None:
    with pg.begin() as c:
        meta.put(c, "a", "0")
        meta.put(c, "b", "0")
    errors: list[BaseException] = []
    both = threading.Barrier(2)

    def run(first: str, second: str) -> None:
        try:
            with _conflicts_named("s"), pg.begin() as c:
                c.execute(text("UPDATE warehouse_meta SET value = '1' WHERE key = :k"),
                          {"k": first})
                both.wait()
                c.execute(text("UPDATE warehouse_meta SET value = '2' WHERE key = :k"),
                          {"k": second})
        except BaseException as e:  # the test looks at what came out
            errors.append(e)

    threads = [threading.Thread(target=run, args=p) for p in (("a", "b"), ("b", "a"))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert len(errors) == 1  # the server broke the cycle by rolling one back
    err = errors[0]
    assert isinstance(err, WriteConflict) and err.retryable
    assert "deadlock" in str(err) and "source s" in str(err)
    assert faults.conflict(err) == "a deadlock with another transaction"
