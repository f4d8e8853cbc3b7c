"""Fact tables range-partitioned by month on PostgreSQL (issue 15, item 3).

Which tables: every ``FACT`` table of :mod:`warehouse.schema` (and ``warehouse/tables/``) that
has a main time column, :func:`partition_column`: ``info["partition_by"]`` when the table
names one (``None`` opts out), else its first required ``DateTime`` column (service cases by
``submitted_at``, grid events by ``reported_at`` …). A new fact table gets it without an edit
here. SQLite stays unpartitioned.

Merge semantics stay exact. PostgreSQL requires a partitioned table's primary key to include
the partition key, so the stored key is (natural key, time column); uniqueness of the natural
key alone is kept by the merge itself (:mod:`warehouse.bulk`), which on PostgreSQL finds
stored rows by the natural key only (an ``UPDATE … FROM`` join and an anti-join, never
``ON CONFLICT``). A row whose time moves to another month is therefore updated, and
PostgreSQL moves it to the other partition: it is never stored twice.

Partitions are created on demand, one per UTC month (``<table>_pYYYYMM``), by the merge of
the run that brings the month, inside its transaction (:mod:`warehouse.month_load`: the
month's rows are loaded into a standalone table, indexed once and attached), so a failed run
leaves nothing behind. A DEFAULT partition (``<table>_pdefault``) takes any row without one
(a month outside :data:`HORIZON_YEARS`, a write that did not go through a run), so nothing is
ever refused; when its month's partition is created later, those rows move into it.

Whether a warehouse is partitioned is decided when it is created (``[warehouse] partition``,
default ``"month"`` on PostgreSQL) and recorded in ``warehouse_meta``; an existing warehouse
keeps its layout until ``gongzhi partition`` converts it (:func:`convert`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    MetaData,
    Table,
    text,
)
from sqlalchemy.exc import DBAPIError

from warehouse import meta, schema

MODES = ("month", "none")
DEFAULT_MODE = "month"
META_KEY = "partition"  # warehouse_meta: "month" once the warehouse's facts are partitioned
# Months further than this from today are not given partitions of their own (a typo'd year
# would otherwise create stray ones): their rows sit in the DEFAULT partition.
HORIZON_YEARS = 30
MIGRATE_LOCK = 4206060001  # advisory lock: schema changes of one warehouse, one at a time
_LOCK = 4206060003  # advisory lock: runs that bring the same new month create it once
LOCK_WAIT = "5s"  # how long attaching a month may wait for other merges (then: DEFAULT)
log = logging.getLogger(__name__)


def partition_column(table: Table) -> str | None:
    """The column a fact table is partitioned by (None: the table is not partitioned)."""
    if table.info.get("kind") != schema.FACT:
        return None
    if "partition_by" in table.info:
        return table.info["partition_by"]
    for col in table.columns:
        if isinstance(col.type, DateTime) and not col.nullable and not col.name.startswith("_"):
            return col.name
    return None


def partitionable() -> list[Table]:
    """The fact tables that are partitioned in a partitioned warehouse."""
    return [t for t in schema.data_tables().values() if partition_column(t)]


def partitioned_form(table: Table) -> Table:
    """``table`` as PostgreSQL stores it partitioned: the same columns and indexes, the
    partition column joined to the primary key, ``PARTITION BY RANGE`` on it."""
    time = partition_column(table)
    assert time is not None, f"{table.name} has no partition column"
    keys = set(schema.key_columns(table)) | {time}
    cols = [Column(c.name, c.type, primary_key=c.name in keys,
                   nullable=c.nullable and c.name not in keys) for c in table.columns]
    indexes = [Index(ix.name, *[c.name for c in ix.columns]) for ix in table.indexes]
    return Table(table.name, MetaData(), *cols, *indexes,
                 postgresql_partition_by=f'RANGE ("{time}")')


def mode(conn: Connection | Engine) -> str:
    """``"month"`` when this warehouse's facts are partitioned, else ``"none"``."""
    if conn.dialect.name != "postgresql":
        return "none"
    return meta.get(conn, META_KEY) or "none"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def month_name(table: str, month: dt.date) -> str:
    return f"{table}_p{month:%Y%m}"


def default_name(table: str) -> str:
    return f"{table}_pdefault"


def _next(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def create(conn: Connection, table: Table) -> None:
    """Create ``table`` partitioned, with its DEFAULT partition (inside ``conn``'s txn)."""
    partitioned_form(table).create(conn)
    conn.exec_driver_sql(f"CREATE TABLE {_q(default_name(table.name))} PARTITION OF "
                         f"{_q(table.name)} DEFAULT")


def is_partitioned(conn: Connection, name: str) -> bool:
    return bool(conn.execute(text(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = :n AND c.relnamespace = to_regnamespace(current_schema())"),
        {"n": name}).first())


def months(conn: Connection, name: str) -> list[dt.date]:
    """The months that have a partition of their own, oldest first."""
    rows = conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :n "
        "AND p.relnamespace = to_regnamespace(current_schema())"), {"n": name}).scalars()
    out = []
    for rel in rows:
        tail = rel.removeprefix(f"{name}_p")
        if tail.isdigit() and len(tail) == 6:
            out.append(dt.date(int(tail[:4]), int(tail[4:]), 1))
    return sorted(out)


def in_horizon(month: dt.date, today: dt.date | None = None) -> bool:
    today = today or dt.date.today()
    return abs(month.year - today.year) <= HORIZON_YEARS


def warehouse_lock_sql(key: int, name: str = "") -> str:
    """SQL taking the transaction's advisory lock ``key`` for this warehouse (its database
    and schema) and ``name`` (a table's, or none): installations, and the test suite's
    private schemas, sharing one server do not wait for each other's runs."""
    space = "concat(current_database(), '.', current_schema(), '.', '%s')" % (  # noqa: UP031
        name.replace("'", "''"))
    return f"SELECT pg_advisory_xact_lock({key % 2**31}, hashtext({space}))"


def month_lock_sql(table_name: str) -> str:
    """SQL taking the lock under which runs add months to ``table_name`` (until commit)."""
    return warehouse_lock_sql(_LOCK, table_name)


def add_months(conn: Connection, table: Table, wanted: set[dt.date]) -> list[dt.date]:
    """Give each month in ``wanted`` (first days) a partition of ``table`` if it has none;
    rows of that month waiting in the DEFAULT partition move into it. Returns the months
    created. Run it in a short transaction of its own (the lock on the DEFAULT partition
    it takes is held until commit)."""
    time = partition_column(table)
    assert time is not None
    conn.exec_driver_sql(month_lock_sql(table.name))
    have = set(months(conn, table.name))
    made = []
    parent, default = _q(table.name), _q(default_name(table.name))
    for m in sorted(w for w in wanted if w not in have and in_horizon(w)):
        part = _q(month_name(table.name, m))
        lo, hi = f"'{m:%Y-%m-%d}'", f"'{_next(m):%Y-%m-%d}'"
        within = f'{_q(time)} >= {lo} AND {_q(time)} < {hi}'
        # A plain table attached afterwards: ATTACH locks the parent only against schema
        # changes, so dashboards keep reading while a run adds a month.
        conn.exec_driver_sql(f"CREATE TABLE {part} (LIKE {parent} INCLUDING DEFAULTS)")
        conn.exec_driver_sql(f"ALTER TABLE {part} ADD CONSTRAINT "
                             f"{_q(month_name(table.name, m) + '_range')} CHECK ({within})")
        cols = ", ".join(_q(c.name) for c in table.columns)
        conn.exec_driver_sql(f"INSERT INTO {part} ({cols}) SELECT {cols} FROM {default} "
                             f"WHERE {within}")
        conn.exec_driver_sql(f"DELETE FROM {default} WHERE {within}")
        conn.exec_driver_sql(f"ALTER TABLE {parent} ATTACH PARTITION {part} "
                             f"FOR VALUES FROM ({lo}) TO ({hi})")
        made.append(m)
    return made


def staged_months(conn: Connection, table: Table, stage_name: str) -> set[dt.date]:
    """The months (first days) of the rows in a run's scratch table."""
    time = partition_column(table)
    rows = conn.exec_driver_sql(
        f"SELECT DISTINCT date_trunc('month', {_q(time or '')})::date FROM {_q(stage_name)} "
        f"WHERE {_q(time or '')} IS NOT NULL").scalars()
    return set(rows)


def refresh_stats(engine: Engine, table: Table, written: int, *, wait: bool = False) -> bool:
    """After a run's commit: ANALYZE a partitioned table's parent when the run wrote a tenth
    of its rows or more (or it was never analysed). Autovacuum analyses each partition but
    never the parent, and without the parent's statistics the planner misjudges joins over
    the partitions (measured: a month's distinct volunteers took 158 ms by a nested loop
    instead of 55 ms by a hash join). It samples every partition too (seconds at 100M
    rows), so a nightly run of a few percent does not pay it.

    The run has committed by then and its rows are served already, so the ANALYZE runs on a
    thread of its own (``wait``: here) and the run returns (measured on a loaded 2-core machine:
    15.5 s of a 64.6 s first load of 1M service cases); the process waits for it before it
    exits (:func:`wait_for_stats`). A failure is
    logged, never the run's. Returns whether an ANALYZE was started."""
    if engine.dialect.name != "postgresql" or not written or partition_column(table) is None:
        return False
    if wait:
        return _analyze_logged(engine, table, written)
    th = threading.Thread(target=_analyze_logged, args=(engine, table, written),
                          name=f"analyze-{table.name}")  # not a daemon: exit waits for it
    with _THREADS_LOCK:  # finished ones go (a scheduler runs for months)
        _THREADS[:] = [t for t in _THREADS if t.is_alive()] + [th]
    th.start()
    return True


_THREADS: list[threading.Thread] = []
_THREADS_LOCK = threading.Lock()


def wait_for_stats(timeout: float | None = None) -> None:
    """Wait for the statistics :func:`refresh_stats` is gathering after earlier runs."""
    with _THREADS_LOCK:
        pending, _THREADS[:] = list(_THREADS), []
    for th in pending:
        th.join(timeout)


def _analyze_logged(engine: Engine, table: Table, written: int) -> bool:
    try:
        return _analyze(engine, table, written)
    except DBAPIError as e:
        log.warning("%s: ANALYZE after the run failed (the planner keeps older statistics): "
                    "%s", table.name, e.orig)
        return False


def _analyze(engine: Engine, table: Table, written: int) -> bool:
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if not is_partitioned(conn, table.name):
            return False
        known = conn.execute(text(
            "SELECT reltuples FROM pg_class WHERE relname = :n AND relnamespace = "
            "to_regnamespace(current_schema())"), {"n": table.name}).scalar_one()
        if known is not None and known > 0 and written * 10 < known:
            return False
        conn.exec_driver_sql(f"ANALYZE {_q(table.name)}")
    return True


def setup_new(conn: Connection, wanted: str) -> None:
    """A new PostgreSQL warehouse: create the fact tables partitioned (``wanted`` =
    ``"month"``) before the rest of the schema, and record the choice."""
    if conn.dialect.name != "postgresql" or wanted != "month":
        return
    for table in partitionable():
        create(conn, table)


def record(conn: Connection, wanted: str) -> None:
    """Record the warehouse's layout (after ``warehouse_meta`` exists)."""
    if conn.dialect.name == "postgresql" and wanted == "month":
        meta.put(conn, META_KEY, "month")


def create_missing(conn: Connection, existing: set[str]) -> None:
    """Fact tables added since the warehouse was made get its layout (partitioned when it
    is), before ``create_all`` makes the rest."""
    if mode(conn) != "month":
        return
    for table in partitionable():
        if table.name not in existing:
            create(conn, table)


def convert(engine: Engine, only: list[str] | None = None) -> dict[str, int]:
    """Partition an existing PostgreSQL warehouse's fact tables in place (``gongzhi
    partition``): each table is copied into a partitioned twin, month by month partitions
    made first, and swapped in, inside one transaction per table (readers see the old table
    until it commits). Returns the rows moved per table."""
    if engine.dialect.name != "postgresql":
        raise ValueError("only a PostgreSQL warehouse is partitioned (SQLite stays as it is)")
    done: dict[str, int] = {}
    for table in partitionable():
        if only and table.name not in only:
            continue
        with engine.begin() as conn:
            conn.exec_driver_sql(warehouse_lock_sql(MIGRATE_LOCK))  # = migrate's
            if is_partitioned(conn, table.name):
                continue
            time = partition_column(table) or ""
            old = f"{table.name}__unpartitioned"
            conn.exec_driver_sql(f"ALTER TABLE {_q(table.name)} RENAME TO {_q(old)}")
            for ix in table.indexes:  # index names are schema-wide: free them for the twin
                conn.exec_driver_sql(f"ALTER INDEX IF EXISTS {_q(str(ix.name))} RENAME TO "
                                     f"{_q(str(ix.name) + '__old')}")
            conn.exec_driver_sql(f"ALTER TABLE {_q(old)} RENAME CONSTRAINT "
                                 f"{_q(table.name + '_pkey')} TO {_q(old + '_pkey')}")
            create(conn, table)
            wanted = set(conn.exec_driver_sql(
                f"SELECT DISTINCT date_trunc('month', {_q(time)})::date FROM {_q(old)}"
            ).scalars())
            add_months(conn, table, wanted)
            cols = ", ".join(_q(c.name) for c in table.columns)
            moved = conn.exec_driver_sql(f"INSERT INTO {_q(table.name)} ({cols}) SELECT "
                                         f"{cols} FROM {_q(old)}").rowcount
            conn.exec_driver_sql(f"DROP TABLE {_q(old)}")
            conn.exec_driver_sql(f"ANALYZE {_q(table.name)}")
            done[table.name] = int(moved or 0)
    with engine.begin() as conn:
        meta.put(conn, META_KEY, "month")
    return done


def layout(conn: Connection) -> dict[str, Any]:
    """What ``gongzhi partition --status`` shows: per fact table, partitioned or not, and
    its months."""
    out: dict[str, Any] = {}
    for table in partitionable():
        if conn.dialect.name != "postgresql" or not is_partitioned(conn, table.name):
            out[table.name] = None
        else:
            out[table.name] = [f"{m:%Y-%m}" for m in months(conn, table.name)]
    return out
