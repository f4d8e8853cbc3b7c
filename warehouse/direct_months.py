"""Rows of months a partitioned fact table has no partition for, copied straight into their
month's table while a run streams (issue 15, item 2: PostgreSQL ahead of dlt).

A first load of a year of service cases used to ``COPY`` every row into the run's scratch
table, then copy it again, inside the transaction, into the new months' tables
(:mod:`warehouse.month_load`: measured 3.0 s of a 15 s load of 1M cases, beside 3.6 s of
index builds). Rows of a month the table had no partition for when the run began go
instead, chunk by chunk, into a table of that month of their own (``_stage_<run>_…_pYYYYMM``,
logged: it becomes the partition), on the copier thread like the scratch table; the rows
of months already stored go to the scratch table and are merged as before.

What keeps the guarantees:

* **All or nothing.** Until the run's transaction renames them and attaches them as
  partitions (:func:`attach`), the month tables are scratch: no query of the warehouse reads
  them, a failed run drops them with its scratch table (``Stager.cleanup``), and a killed
  one's are found by the ``_stage_<run>_`` prefix (``bulk.drop_stage``).
* **One row per key.** The direct path is taken only when a run's keys are unique by
  construction (no overlap between chunks, no rows flagged deleted, no snapshot: the runner
  pours the months back into the scratch table otherwise, :meth:`bulk.Stager.pour`), and
  inside the transaction :func:`settle` checks, under the lock runs take to add months,
  that no key of those rows is stored already (in any partition, the DEFAULT one included)
  and that no other run made one of the months meanwhile. If either fails, the rows are
  poured into the scratch table there and merged the ordinary way.
* **Counts.** The rows are inserted rows of the merge (:func:`rows`), so read = loaded +
  quarantined + duplicates holds; the KPI rollups already summed them while staging.

Each table gets its primary key and indexes once its rows are in, while the run goes on
streaming (:class:`Router`; the range check is declared with the table); inside the run's
transaction, the lineage columns
(run, time, source) are added by ``ADD COLUMN … DEFAULT`` (PostgreSQL stores such a default
once, not per row), the table, its constraints and indexes take the names of the month's
partition, and it is attached (:func:`month_load.index_and_attach`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, Table, literal

from warehouse import month_load, partitions
from warehouse.copy_pipe import scratch_connection
from warehouse.partitions import _q, month_name
from warehouse.schema import key_columns
from warehouse.wire import SEQ

DIRECT = "direct"  # stage.info: the run's :class:`Plan` for the table, once staged
INDEX_WORKERS = 2  # connections building month tables' indexes at once


@dataclass
class Plan:
    """One run's month tables for one fact table: the months that had a partition when the
    run began staging (their rows go to the scratch table), and the tables made since."""

    table: Table
    time: str
    have: set[dt.date]
    tables: dict[dt.date, str] = field(default_factory=dict)  # month → scratch table name
    rows: dict[dt.date, int] = field(default_factory=dict)  # rows sent to each
    indexed: set[dt.date] = field(default_factory=set)  # months whose indexes are (being) built


def plan(engine: Engine, table: Table) -> Plan | None:
    """A plan for ``table`` on a partitioned PostgreSQL warehouse; None elsewhere (SQLite,
    an unpartitioned warehouse or table: every row goes to the scratch table)."""
    time = partitions.partition_column(table)
    if engine.dialect.name != "postgresql" or time is None:
        return None
    with engine.connect() as conn:
        if partitions.mode(conn) != "month" or not partitions.is_partitioned(conn, table.name):
            return None
        have = set(partitions.months(conn, table.name))
    return Plan(table, time, have)


def table_name(run_id: int, base: str, month: dt.date) -> str:
    """The scratch name of a run's table for ``month`` (the stale-scratch prefix first)."""
    return f"_stage_{run_id}_{base}_p{month:%Y%m}"[:63]


def split(p: Plan, df: pl.DataFrame, wire: pl.DataFrame
          ) -> tuple[pl.DataFrame, dict[dt.date, pl.DataFrame]]:
    """``wire`` (the rows of ``df`` as written) parted into the rows for the scratch table
    and, per month without a partition (within the horizon), that month's rows."""
    month = df[p.time].dt.truncate("1mo").dt.date()
    fresh = [m for m in month.unique().drop_nulls().to_list()
             if m not in p.have and partitions.in_horizon(m)]
    if not fresh:
        return wire, {}
    mask = month.is_in(fresh)
    parts = (wire.with_columns(month.alias("__month")).filter(mask)
             .partition_by("__month", as_dict=True, include_key=False))
    return wire.filter(~mask), {key[0]: part for key, part in parts.items()}


def rows(stage: Table) -> int:
    """Rows the run sent to its month tables for the table ``stage`` stands for."""
    p: Plan | None = stage.info.get(DIRECT)
    return sum(p.rows.values()) if p is not None else 0


def pour_sql(p: Plan, stage: str, cols: list[str]) -> list[str]:
    """Statements that move the month tables' rows into the scratch table ``stage`` and drop
    them (the ordinary merge takes them then). A month table keeps no input order: its rows
    take distinct negative ones, below every row the run staged, which is right, since they
    all came before the first chunk that repeated a key (from then on every row went to the
    scratch table), and the latest occurrence of a key wins (the de-duplication deletes by
    input order: it must stay unique)."""
    names = ", ".join(_q(c) for c in cols)
    out = []
    below = 0  # the month tables' rows so far: each takes -(below + its number)
    for m, name in p.tables.items():
        values = ", ".join(f"-({below} + row_number() OVER ())" if c == SEQ else _q(c)
                           for c in cols)
        out += [f"INSERT INTO {_q(stage)} ({names}) SELECT {values} FROM {_q(name)}",
                f"DROP TABLE {_q(name)}"]
        below += p.rows.get(m, 0)
    return out


def settle(conn: Connection, table: Table, stage: Table, cols: list[str]) -> None:
    """Inside the run's transaction, before anything reads the scratch table: keep the
    month tables for :func:`attach` when no other run made one of their months and none of
    their keys is stored already; otherwise pour them into the scratch table ``stage``
    (``cols``: its columns)."""
    p: Plan | None = stage.info.get(DIRECT)
    if p is None or not p.tables:
        stage.info.pop(DIRECT, None)
        return
    if (month_load._claim(conn, table)
            and not set(p.tables) & set(partitions.months(conn, table.name))
            and not _stored(conn, table, p)):
        return
    for sql in pour_sql(p, stage.name, cols):
        conn.exec_driver_sql(sql)
    stage.info["months"] = set(stage.info.get("months") or ()) | set(p.tables)
    del stage.info[DIRECT]
    keys = ", ".join(_q(k) for k in key_columns(table))
    conn.exec_driver_sql(f"ANALYZE {_q(stage.name)} ({keys})")  # it grew since finish()


def _stored(conn: Connection, table: Table, p: Plan) -> bool:
    """Whether a key of the month tables' rows is stored in ``table`` already."""
    if not conn.exec_driver_sql(f"SELECT 1 FROM {_q(table.name)} LIMIT 1").first():
        return False  # a first load: nothing to look for (the join reads every new row)
    keys = key_columns(table)
    union = " UNION ALL ".join(f"SELECT {', '.join(_q(k) for k in keys)} FROM {_q(n)}"
                               for n in p.tables.values())
    match = " AND ".join(f"t.{_q(k)} = d.{_q(k)}" for k in keys)
    return bool(conn.exec_driver_sql(
        f"SELECT 1 FROM ({union}) AS d WHERE EXISTS (SELECT 1 FROM {_q(table.name)} AS t "
        f"WHERE {match}) LIMIT 1").first())


def attach(conn: Connection, table: Table, stage: Table, lineage: dict[str, Any]) -> int:
    """Make the month tables that :func:`settle` kept partitions of ``table``: the lineage
    columns (those of ``table`` that the scratch table ``stage`` lacks) come with the run's
    values, then range check, keys and indexes, and the attach. Returns the rows they hold
    (inserted rows of the merge)."""
    p: Plan | None = stage.info.pop(DIRECT, None)
    if p is None or not p.tables:
        return 0
    have = {c.name for c in stage.columns}
    added = [c for c in table.columns if c.name not in have]
    batch: list[str] = []  # one round trip for every month's statements (37 months: 259)
    for m, name in sorted(p.tables.items()):
        part = month_name(table.name, m)
        actions = []
        for c in added:
            value = literal(lineage.get(c.name), c.type).compile(
                dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            actions.append(f"ADD COLUMN {_q(c.name)} {c.type.compile(dialect=conn.dialect)} "
                           f"{'' if c.nullable else 'NOT NULL '}DEFAULT {value}")
        if actions:
            batch.append(f"ALTER TABLE {_q(name)} {', '.join(actions)}")
        if added:  # the parent has none: later writes name their values
            batch.append(f"ALTER TABLE {_q(name)} " + ", ".join(
                f"ALTER COLUMN {_q(c.name)} DROP DEFAULT" for c in added))
        batch.append(f"ALTER TABLE {_q(name)} RENAME TO {_q(part)}")
        # the names PostgreSQL gives a month's partition (the primary key's index follows
        # its constraint)
        old, new = (month_load.names(table, name, scratch=True),
                    month_load.names(table, part))
        for a, b in zip(old[:2], new[:2], strict=True):
            batch.append(f"ALTER TABLE {_q(part)} RENAME CONSTRAINT {_q(a)} TO {_q(b)}")
        for a, b in zip(old[2:], new[2:], strict=True):
            batch.append(f"ALTER INDEX {_q(a)} RENAME TO {_q(b)}")
    month_load.run_batch(conn, batch)
    month_load.index_and_attach(conn, table, sorted(p.tables), indexed=True)
    return sum(p.rows.values())


class Router:
    """One run's straight path for one table: sends each chunk's rows of new months to
    their tables through the run's copiers (:class:`warehouse.copy_pipe.CopyPipe`, months in
    turn to each: two server processes parse rows at once), and has
    a month's range check, primary key and indexes built as soon as a chunk brings none of
    its rows (an export in time order fills its months one after the other), on connections
    of their own while the copier goes on (a first load of 1M service cases builds 37
    months × 3: 1.6 s on one connection after the copy, measured on a quiet machine). A
    month that gets rows after that has them indexed as they are copied. Rows with a
    repeated key never reach an indexed table: the runner stops sending rows straight once
    keys overlap (``straight``), and pours the tables into the scratch table then."""

    def __init__(self, engine: Engine, pipes: list[Any], table: Table, run_id: int,
                 base: str, mirror: Callable[[str, dt.date], Table]):
        self.engine, self.pipes, self.run_id, self.base = engine, pipes, run_id, base
        self.mirror = mirror  # a month table's definition, by name and month
        # made once per month, not per chunk (a Table costs ~20 ms of Python objects: 37
        # months × 4 chunks of 1M cases were 0.7 s of the run's thread, measured with py-spy)
        self._defs: dict[dt.date, Table] = {}
        self.plan = plan(engine, table)
        self._lane: dict[dt.date, int] = {}  # month → the copier its rows go through
        self._pool: ThreadPoolExecutor | None = None
        self._builds: list[Future[None]] = []
        self._lock = threading.Lock()  # builds are started from the copiers' threads

    def route(self, df: pl.DataFrame, wire: pl.DataFrame, *, straight: bool = True
              ) -> pl.DataFrame:
        """Send the rows of ``wire`` (``df`` as written) that belong to new months to their
        tables; returns the others, for the scratch table."""
        p = self.plan
        if p is None or not straight:
            return wire
        rest, parts = split(p, df, wire)
        for m, part in sorted(parts.items()):
            made = m in p.tables
            name = p.tables.setdefault(m, table_name(self.run_id, self.base, m))
            # months in turn to each copier: a chunk spans several in an export in time order
            lane = self._lane.setdefault(m, len(self._lane) % len(self.pipes))
            p.rows[m] = p.rows.get(m, 0) + part.height
            if m not in self._defs:
                self._defs[m] = self.mirror(name, m)
            self.pipes[lane].send(self._defs[m], part.drop(SEQ), first=not made)
        # a month is done once a chunk brings none of its rows; in a chunk in time order,
        # every month but its last is done already (an export sorted by time: the next
        # chunk starts there). Were rows of a done month to come later, they would be indexed
        # as they are copied: slower, never wrong.
        times = df[p.time]
        ordered = times.null_count() == 0 and times.is_sorted()
        last = max(parts) if parts else None
        done = sorted(m for m in p.tables if m not in p.indexed
                      and (m not in parts or (ordered and m != last)))
        p.indexed.update(done)
        for lane, pipe in enumerate(self.pipes):  # after the month's last rows on its copier
            mine = [m for m in done if self._lane[m] == lane]
            if mine:
                pipe.call(lambda months=mine: self._build(months))
        return rest

    def _build(self, months: list[dt.date]) -> None:
        p = self.plan
        assert p is not None
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(INDEX_WORKERS,
                                                thread_name_prefix="gongzhi-index")
            for m in months:
                name = p.tables[m]
                named = month_load.names(p.table, name, scratch=True)
                self._builds.append(self._pool.submit(
                    self._run, month_load.index_sql(p.table, name, m, named, check=False)))

    def _run(self, statements: list[str]) -> None:
        with scratch_connection(self.engine) as conn:
            for sql in statements:
                conn.exec_driver_sql(sql)

    def finish(self) -> None:
        """Once every row is copied (the copier flushed): the remaining months' indexes,
        and every build waited for; a failed one fails the run like any other fault."""
        p = self.plan
        if p is not None:
            rest = sorted(m for m in p.tables if m not in p.indexed)
            p.indexed.update(rest)
            self._build(rest)
        self.wait()

    def wait(self) -> None:
        """Wait for the index builds started so far (raises what one raised)."""
        with self._lock:
            builds, self._builds = self._builds, []
        for b in builds:
            b.result()

    def close(self) -> None:
        """Stop building (a failed run): builds under way end first."""
        with self._lock:
            pool, self._pool, self._builds = self._pool, None, []
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
