"""Dialect-specific fast paths in one place: staging a polars frame and merging it (rows that
leave: :mod:`warehouse.retire`).

A run stages each table's rows into scratch space *before* its transaction, chunk by chunk as
they are read (SQLite: ADBC bulk writes into a separate scratch file that is ATTACHed;
PostgreSQL: ``COPY`` into an UNLOGGED table, and rows of months new to a partitioned
table straight into their month's table, :mod:`warehouse.direct_months`), then merges once
inside the transaction that also advances the cursor: an ``UPDATE … FROM`` of the rows whose
content hash (``_hash``, computed in polars while staging) differs from the stored one, then
an ``INSERT … SELECT`` of the keys not stored yet. Going through pandas ``to_sql`` would be
7-20× slower. Unchanged rows are not rewritten, so a re-run changes nothing, lineage
included, and re-merging unchanged rows costs one keyed comparison of two integers per row.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Engine,
    MetaData,
    Table,
    and_,
    exists,
    func,
    insert,
    inspect,
    literal,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.dialects import sqlite as sq
from sqlalchemy.schema import DropTable

from warehouse import direct_months, month_load, partitions
from warehouse.changed import (
    _changed_only,
    _rows,
    find_changed,
)
from warehouse.copy_pipe import CopyPipe, scratch_connection
from warehouse.engine import is_sqlite, sqlite_path
from warehouse.schema import data_tables, key_columns
from warehouse.wire import (
    HASH,
    SEQ,
    content_hash,
    to_wire,
)


@dataclass
class MergeCounts:
    """What a merge did: new rows, changed rows, rows identical to what was there."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    run_id: int | None = None  # the run whose lineage the inserted and updated rows carry

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged


class Stager:
    """Scratch tables for one run, written chunk by chunk outside the run's transaction and
    removed after."""

    def __init__(self, engine: Engine, run_id: int,
                 on_copy: Callable[[], None] = lambda: None):
        self.engine = engine
        self.run_id = run_id
        self.on_copy = on_copy  # called after each slice sent to COPY (the crash tests)
        self.dialect = engine.dialect.name
        self.staged: dict[str, Table] = {}
        self.rows: dict[str, int] = {}  # rows staged so far, per scratch table
        self._file: Path | None = None
        # two copiers (scratch tables' chunks and new months' tables in turn to each): two
        # server processes parse rows at once
        self._pipes = [CopyPipe(engine, on_copy), CopyPipe(engine, on_copy)]
        self._chunks = 0  # chunks sent to scratch tables
        # PostgreSQL: per table, its rows of new months go straight (warehouse.direct_months)
        self.routers: dict[str, direct_months.Router] = {}
        self._autocheckpoint: int | None = None  # SQLite's, while the merge holds it off
        if is_sqlite(engine):
            db = sqlite_path(engine)
            if db is None:
                raise ValueError("the embedded warehouse needs a file, not :memory:")
            self._file = db.with_name(f"{db.name}-stage-{run_id}")

    def stage(self, table: Table, df: pl.DataFrame, *, as_name: str | None = None,
              straight: bool = True) -> Table:
        """Append ``df`` (already cast to the contract) to a scratch copy of ``table`` (named
        after ``as_name`` when a run stages two frames for one table), creating it on the
        first chunk. Each row gets its content hash and its place in the run's input.
        PostgreSQL: rows of months new to a partitioned table go to their month's table
        instead, while ``straight`` (the run's keys cannot repeat so far)."""
        base = as_name or table.name
        wire = to_wire(df, table, dialect=self.dialect)
        start = self.rows.get(base, 0)
        wire = wire.with_columns(content_hash(wire), pl.int_range(
            start, start + wire.height, dtype=pl.Int64).alias(SEQ))
        first = base not in self.staged
        if self.dialect == "sqlite":
            # A name unlike the target's: the same name in two schemas confuses correlation.
            # (Each scratch table's definition is made with its first chunk.)
            st = (self.staged[base] if not first
                  else _mirror(table, f"s_{base}", schema="stage"))
            self._stage_sqlite(f"s_{base}", wire, first=first)
        else:
            st = (self.staged[base] if not first
                  else _mirror(table, f"_stage_{self.run_id}_{base}", schema=None,
                               prefixes=["UNLOGGED"]))
            if as_name is None:  # rows flagged deleted never go straight to a month
                if first:
                    self.routers[base] = direct_months.Router(
                        self.engine, self._pipes, table, self.run_id, base,
                        lambda name, m: _month_table(table, name, m))
                wire = self.routers[base].route(df, wire, straight=straight)
            self._stage_copy(st, wire, first=first)
        self.staged[base] = st
        self.rows[base] = start + df.height  # every row, wherever it went
        return st

    def _stage_sqlite(self, name: str, wire: pl.DataFrame, *, first: bool) -> None:
        import adbc_driver_sqlite.dbapi as adbc

        assert self._file is not None
        with adbc.connect(str(self._file), autocommit=True) as con:
            cur = con.cursor()
            # Scratch data needs no durability: a crash simply re-runs the load.
            cur.execute("PRAGMA journal_mode=OFF")
            cur.execute("PRAGMA synchronous=OFF")
            if first:
                cur.execute(f'DROP TABLE IF EXISTS "{name}"')  # name: a warehouse table name
            cur.adbc_ingest(name, wire.to_arrow(), mode="create" if first else "append")
            cur.close()

    def _stage_copy(self, st: Table, wire: pl.DataFrame, *, first: bool) -> None:
        # on the copiers' threads, chunks in turn to each: the server parses this chunk
        # while the run casts the next (made here first, so that either copier may fill it)
        if first:
            with scratch_connection(self.engine) as conn:
                st.drop(conn, checkfirst=True)
                st.create(conn)
        self._chunks += 1
        self._pipes[self._chunks % len(self._pipes)].send(st, wire, first=False)

    def _flush(self) -> None:
        for pipe in self._pipes:
            pipe.flush()

    def pour(self, base: str) -> None:
        """Move the rows a table's run sent straight to new months into its scratch table
        (before the scratch table is de-duplicated or its keys matched against others)."""
        router = self.routers.pop(base, None)
        p = router.plan if router is not None else None
        if router is not None and p is not None and p.tables:
            self._flush()
            router.wait()  # no index build may be left on a table that goes
            cols = [c.name for c in self.staged[base].columns]
            for sql in direct_months.pour_sql(p, self.staged[base].name, cols):
                self.scratch_sql(sql)

    def scratch_sql(self, sql: str) -> int:
        """Run one statement on the scratch space (outside the run's transaction); returns
        the rows it changed."""
        self._flush()
        if self._file is not None:
            con = sqlite3.connect(str(self._file))
            try:
                n = con.execute(sql).rowcount
                con.commit()
            finally:
                con.close()
            return int(n)
        with scratch_connection(self.engine) as conn:
            return int(conn.exec_driver_sql(sql).rowcount or 0)

    def _name(self, base: str) -> str:
        st = self.staged[base]
        return f'"{st.name}"'

    def drop_repeats(self, base: str, keys: list[str]) -> int:
        """Keep one row per key (the latest in the input) in a scratch table whose chunks may
        share keys; returns how many rows went."""
        name = self._name(base)
        cols = ", ".join(f'"{k}"' for k in keys)
        return self.scratch_sql(
            f"DELETE FROM {name} WHERE {SEQ} IN (SELECT {SEQ} FROM (SELECT {SEQ}, "
            f"row_number() OVER (PARTITION BY {cols} ORDER BY {SEQ} DESC) AS rn "
            f"FROM {name}) AS ranked WHERE rn > 1)")

    def drop_keys_of(self, base: str, other: str, keys: list[str]) -> int:
        """Remove from one scratch table the rows whose keys another holds (rows of a key the
        source also flagged deleted); returns how many went."""
        a, b = self._name(base), self._name(other)
        match = " AND ".join(f'{b}."{k}" = {a}."{k}"' for k in keys)
        return self.scratch_sql(f"DELETE FROM {a} WHERE EXISTS (SELECT 1 FROM {b} WHERE "
                                f"{match})")

    def finish(self, keys: dict[str, list[str]] | None = None) -> None:
        """Before the merge: PostgreSQL gets the scratch tables' size and their keys'
        statistics (only those: the planner needs them to join by hash or by index, and a
        full ANALYZE costs about a second per 300,000 rows), and, for a partitioned fact
        table, the months the staged rows bring (``info["months"]``: the merge makes the new
        ones, :mod:`warehouse.month_load`)."""
        self._flush()
        if self.dialect == "postgresql" and self.staged:
            with scratch_connection(self.engine) as conn:
                for base, st in self.staged.items():
                    cols = (keys or {}).get(base.split("__")[0]) or []
                    quoted = ", ".join(f'"{c}"' for c in cols)
                    conn.exec_driver_sql(f'ANALYZE "{st.name}"' + (f" ({quoted})" if cols
                                                                   else ""))
            for base, router in self.routers.items():  # the months' tables, rows all in
                router.finish()
                if router.plan is not None:
                    self.staged[base].info[direct_months.DIRECT] = router.plan
            # the months the run brings (rows flagged deleted bring none: they only leave);
            # the merge gives the new ones their partitions (warehouse.month_load)
            tables = data_tables()
            with self.engine.connect() as conn:
                for base, st in self.staged.items():
                    table = tables.get(base)
                    if "__" not in base and table is not None and partitions.partition_column(
                            table) and partitions.mode(conn) == "month":
                        st.info["months"] = partitions.staged_months(conn, table, st.name)

    def attach(self, conn: Connection) -> None:
        """Make the scratch tables visible to ``conn`` (SQLite: before its BEGIN)."""
        if self.dialect == "sqlite" and self._file is not None and self.staged:
            # On the DBAPI connection: SQLite refuses ATTACH inside a transaction, and going
            # through SQLAlchemy would autobegin one.
            raw = conn.connection.driver_connection
            assert raw is not None
            # The commit must not copy the WAL into the warehouse file while the scratch file
            # is still on disk: that would hold scratch, WAL and warehouse at once (69 GB at
            # 100M service cases instead of 55). :meth:`detach` copies it afterwards.
            raw.execute("ATTACH DATABASE ? AS stage", (str(self._file),))
            self._autocheckpoint = raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            raw.execute("PRAGMA wal_autocheckpoint=0")

    def detach(self, conn: Connection) -> None:
        """After the merge's transaction (committed or not): the scratch file goes, then the
        WAL's pages are copied into the warehouse file (as the commit would have done)."""
        if self.dialect == "sqlite" and self._file is not None and self.staged:
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute("DETACH DATABASE stage")
            self._remove_file()
            if self._autocheckpoint is not None:
                # PASSIVE: waits for no reader; what readers still need is copied later
                raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                raw.execute(f"PRAGMA wal_autocheckpoint={int(self._autocheckpoint)}")
                self._autocheckpoint = None

    def _remove_file(self) -> None:
        assert self._file is not None
        for p in (self._file, Path(f"{self._file}-journal")):
            with contextlib.suppress(FileNotFoundError):
                os.remove(p)

    def cleanup(self) -> None:
        """Remove the scratch space; safe to call twice and after a failure."""
        for pipe in self._pipes:
            pipe.close()
        if self._file is not None:
            self._remove_file()
        elif self.staged:
            with scratch_connection(self.engine) as conn:
                for st in self.staged.values():
                    st.drop(conn, checkfirst=True)
                for router in self.routers.values():  # attached: the month's name now
                    router.close()
                    for name in router.plan.tables.values() if router.plan else ():
                        conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
        self.staged.clear()
        self.routers.clear()
        self.rows.clear()


def stage_run_ids(engine: Engine) -> set[int]:
    """Run ids that have scratch space left, e.g. by a run that was killed."""
    ids: set[int] = set()
    db = sqlite_path(engine)
    if db is not None:
        for p in db.parent.glob(f"{db.name}-stage-*"):
            m = re.search(r"-stage-(\d+)$", p.name)
            if m:
                ids.add(int(m.group(1)))
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            for name in inspect(conn).get_table_names():
                m = re.match(r"^_stage_(\d+)_", name)
                if m:
                    ids.add(int(m.group(1)))
    return ids


def drop_stage(engine: Engine, run_id: int) -> None:
    """Remove the scratch space of ``run_id`` (only call it for runs that are not running)."""
    stager = Stager(engine, run_id)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            names = [n for n in inspect(conn).get_table_names()
                     if n.startswith(f"_stage_{run_id}_")]
        stager.staged = {n: Table(n, MetaData()) for n in names}
    stager.cleanup()


def _month_table(table: Table, name: str, month: Any) -> Table:
    """A run's table for ``month`` of ``table``: logged (it becomes the month's partition),
    NOT NULL as the partitioned table, and with the month's range check from the start. No
    input order (``_seq``): its rows' keys are unique in the run (they go straight only
    then), and a dropped column's bytes would stay in every row of the partition."""
    t = _mirror(table, name, schema=None, not_null=True, seq=False)
    t.append_constraint(CheckConstraint(month_load.range_check(table, month),
                                        name=month_load.names(table, name, scratch=True)[0]))
    return t


def _mirror(table: Table, name: str, schema: str | None, prefixes: list[str] | None = None,
            *, not_null: bool = False, seq: bool = True) -> Table:
    """A scratch table with the target's source columns, its content hash and (``seq``)
    input order (``not_null``: NOT NULL where the partitioned table has it, for a month's
    table)."""
    form = partitions.partitioned_form(table) if not_null else table
    return Table(name, MetaData(), *[Column(c.name, c.type, nullable=not not_null or
                                            form.c[c.name].nullable)
                                     for c in table.columns if not c.name.startswith("_")],
                 Column(HASH, BigInteger), *([Column(SEQ, BigInteger)] if seq else []),
                 schema=schema, prefixes=prefixes or [])


def settle_direct(conn: Connection, table: Table, stage: Table) -> None:
    """Inside the run's transaction, first: whether the rows sent straight to new months
    stay there (:func:`warehouse.direct_months.settle`)."""
    direct_months.settle(conn, table, stage, [c.name for c in stage.columns])


def merge(conn: Connection, table: Table, stage: Table,
          lineage: dict[str, Any] | None = None) -> MergeCounts:
    """Upsert the staged rows (one per key) into ``table``; rows equal to what is stored are
    left alone.

    ``lineage`` gives the values of the ``_`` columns (run, time, source) for every row."""
    lineage = lineage or {}
    keys = key_columns(table)
    cols = [c.name for c in table.columns]
    # "keep" columns (e.g. divisions.valid_from) hold the first value ever loaded.
    kept = {c.name for c in table.columns if c.info.get("merge") == "keep"}
    total = conn.execute(select(func.count()).select_from(stage)).scalar_one()
    total += direct_months.rows(stage)  # rows gone straight to new months: all inserted
    chg = find_changed(conn, table, stage)

    def value(c: str) -> Any:
        if c in stage.c:
            return stage.c[c]
        return literal(lineage.get(c), type_=table.c[c].type)

    # Changed rows first (only the keys found above): the rows inserted next are then not
    # compared again.
    upd = update(table).where(*[table.c[k] == stage.c[k] for k in keys],
                              *[stage.c[k] == chg.c[k] for k in keys],
                              *_changed_only(chg)).values(
        {c: (func.coalesce(table.c[c], stage.c[c]) if c in kept else value(c))
         for c in cols if c not in keys})
    updated = _rows(conn, upd)
    rows = select(*[value(c).label(c) for c in cols]).select_from(stage)
    matched = stage.info.pop("matched", None)
    if conn.dialect.name == "sqlite":
        # A SELECT that reads the target would be materialised whole first (in memory, with
        # temp_store=MEMORY): the stored keys are skipped by the conflict instead.
        inserted = _rows(conn, sq.insert(table).from_select(cols, rows.where(true()))
                         .on_conflict_do_nothing(index_elements=keys))
    else:
        if matched != 0:  # an anti-join: PostgreSQL joins by hash or by index as sizes deserve
            rows = rows.where(~exists(select(literal_column("1")).select_from(table).where(
                and_(*[table.c[k] == stage.c[k] for k in keys])).correlate(stage)))
        some_new = matched != total  # else every staged key is stored: nothing to insert
        # months the table has no partition for yet (new rows, or rows the update moved
        # there): loaded whole and indexed once
        fresh = month_load.fresh_months(conn, table, stage)
        in_fresh = month_load.month_of(table, stage).in_(fresh) if fresh else None
        inserted = 0
        if in_fresh is not None:
            tag = stage.name.removeprefix("_stage_")
            inserted = month_load.load(conn, table, cols, rows.where(in_fresh) if some_new
                                       else None, fresh, tag)
        brought = stage.info.get("months")
        if some_new and (brought is None or not set(brought) <= set(fresh)):
            inserted += _rows(conn, insert(table).from_select(
                cols, rows if in_fresh is None else rows.where(~in_fresh)))
        if fresh:
            month_load.attach(conn, table, fresh, tag)
        inserted += direct_months.attach(conn, table, stage, lineage)
    conn.execute(DropTable(chg, if_exists=True))
    del stage.info["changed"]
    stage.info.pop("n_changed", None)
    return MergeCounts(inserted=inserted, updated=updated,
                       unchanged=total - inserted - updated, run_id=lineage.get("_run_id"))
