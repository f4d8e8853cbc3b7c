"""Dialect-specific fast paths in one place: staging a polars frame, merging it, retiring rows.

A run stages each table's rows into scratch space *before* its transaction (SQLite: an ADBC
bulk write into a separate scratch file that is ATTACHed; PostgreSQL: ``COPY`` into an
UNLOGGED table), then merges with one ``INSERT … SELECT … ON CONFLICT DO UPDATE`` inside the
transaction that also advances the cursor. Going through pandas ``to_sql`` would be 7-20×
slower. Unchanged rows are not rewritten, so a re-run changes nothing, lineage included.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    MetaData,
    Table,
    and_,
    delete,
    exists,
    func,
    inspect,
    literal,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite as sq

from warehouse.engine import is_sqlite, sqlite_path
from warehouse.schema import key_columns

DATETIME_WIRE = "%Y-%m-%d %H:%M:%S%.6f"  # what SQLAlchemy's SQLite DateTime reads back
DATE_WIRE = "%Y-%m-%d"


@dataclass
class MergeCounts:
    """What a merge did: new rows, changed rows, rows identical to what was there."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged


def to_wire(df: pl.DataFrame, table: Table, *, dialect: str) -> pl.DataFrame:
    """Cast a frame that already follows the table contract to what the bulk path writes."""
    exprs = []
    for col in table.columns:
        name = col.name
        if name.startswith("_"):
            continue  # lineage is the same for every row: the merge adds it as literals
        if name not in df.columns:
            exprs.append(pl.lit(None, dtype=pl.String).alias(name))
            continue
        e = pl.col(name)
        if isinstance(col.type, DateTime):
            e = e.dt.strftime(DATETIME_WIRE)
        elif isinstance(col.type, Date):
            e = e.dt.strftime(DATE_WIRE)
        elif isinstance(col.type, Boolean) and dialect == "sqlite":
            e = e.cast(pl.Int8)
        exprs.append(e.alias(name))
    return df.select(exprs)


class Stager:
    """Scratch tables for one run, written outside the run's transaction and removed after."""

    def __init__(self, engine: Engine, run_id: int):
        self.engine = engine
        self.run_id = run_id
        self.dialect = engine.dialect.name
        self.staged: dict[str, Table] = {}
        self._file: Path | None = None
        if is_sqlite(engine):
            db = sqlite_path(engine)
            if db is None:
                raise ValueError("the embedded warehouse needs a file, not :memory:")
            self._file = db.with_name(f"{db.name}-stage-{run_id}")

    def stage(self, table: Table, df: pl.DataFrame, *, as_name: str | None = None) -> Table:
        """Write ``df`` (already cast to the contract) into a scratch copy of ``table``
        (named after ``as_name`` when a run stages two frames for one table)."""
        wire = to_wire(df, table, dialect=self.dialect)
        base = as_name or table.name
        if self.dialect == "sqlite":
            # A name unlike the target's: the same name in two schemas confuses correlation.
            self._stage_sqlite(f"s_{base}", wire)
            st = _mirror(table, f"s_{base}", schema="stage")
        else:
            name = f"_stage_{self.run_id}_{base}"
            self._stage_copy(table, name, wire)
            st = _mirror(table, name, schema=None)
        self.staged[base] = st
        return st

    def _stage_sqlite(self, name: str, wire: pl.DataFrame) -> None:
        import adbc_driver_sqlite.dbapi as adbc

        assert self._file is not None
        with adbc.connect(str(self._file), autocommit=True) as con:
            cur = con.cursor()
            # Scratch data needs no durability: a crash simply re-runs the load.
            cur.execute("PRAGMA journal_mode=OFF")
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute(f'DROP TABLE IF EXISTS "{name}"')  # name: a warehouse table name
            cur.adbc_ingest(name, wire.to_arrow(), mode="create")
            cur.close()

    def _stage_copy(self, table: Table, name: str, wire: pl.DataFrame) -> None:
        cols = ", ".join(f'"{c}"' for c in wire.columns)
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            st = _mirror(table, name, schema=None, prefixes=["UNLOGGED"])
            st.drop(conn, checkfirst=True)
            st.create(conn)
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur, cur.copy(
                f'COPY "{name}" ({cols}) FROM STDIN (FORMAT csv, HEADER false)'
            ) as cp:
                for chunk in wire.iter_slices(200_000):
                    buf = io.BytesIO()
                    chunk.write_csv(buf, include_header=False, null_value="")
                    cp.write(buf.getvalue())

    def attach(self, conn: Connection) -> None:
        """Make the scratch tables visible to ``conn`` (SQLite: before its BEGIN)."""
        if self.dialect == "sqlite" and self._file is not None and self.staged:
            # On the DBAPI connection: SQLite refuses ATTACH inside a transaction, and going
            # through SQLAlchemy would autobegin one.
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute("ATTACH DATABASE ? AS stage", (str(self._file),))

    def detach(self, conn: Connection) -> None:
        if self.dialect == "sqlite" and self._file is not None and self.staged:
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute("DETACH DATABASE stage")

    def cleanup(self) -> None:
        """Remove the scratch space; safe to call twice and after a failure."""
        if self._file is not None:
            for p in (self._file, Path(f"{self._file}-journal")):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(p)
        elif self.staged:
            with self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                for st in self.staged.values():
                    st.drop(conn, checkfirst=True)
        self.staged.clear()


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


def _mirror(table: Table, name: str, schema: str | None, prefixes: list[str] | None = None
            ) -> Table:
    """A scratch table with the target's columns, lineage excluded."""
    return Table(name, MetaData(), *[Column(c.name, c.type) for c in table.columns
                                     if not c.name.startswith("_")],
                 schema=schema, prefixes=prefixes or [])


def merge(conn: Connection, table: Table, stage: Table,
          lineage: dict[str, Any] | None = None) -> MergeCounts:
    """Upsert the staged rows into ``table`` by key; rows equal to what is stored are skipped.

    ``lineage`` gives the values of the ``_`` columns (run, time, source) for every row."""
    lineage = lineage or {}
    keys = key_columns(table)
    cols = [c.name for c in table.columns]
    # "keep" columns (e.g. divisions.valid_from) hold the first value ever loaded.
    kept = {c.name for c in table.columns if c.info.get("merge") == "keep"}
    data_cols = [c for c in cols if c not in keys and not c.startswith("_") and c not in kept]
    sel = select(*[stage.c[c] if c in stage.c else
                   literal(lineage.get(c), type_=table.c[c].type).label(c) for c in cols]
                 ).where(true())  # WHERE: SQLite's upsert grammar
    total = conn.execute(select(func.count()).select_from(stage)).scalar_one()
    if conn.dialect.name == "sqlite":
        ins: Any = sq.insert(table).from_select(cols, sel)
    else:
        ins = pg.insert(table).from_select(cols, sel)
    excl = ins.excluded
    if data_cols:
        ins = ins.on_conflict_do_update(
            index_elements=keys,
            set_={c: (func.coalesce(table.c[c], excl[c]) if c in kept else excl[c])
                  for c in cols if c not in keys},
            where=or_(*[table.c[c].is_distinct_from(excl[c]) for c in data_cols]),
        )
    else:
        ins = ins.on_conflict_do_nothing(index_elements=keys)

    if conn.dialect.name == "sqlite":
        max_rowid: int = conn.execute(
            select(func.max(literal_column("rowid"))).select_from(table)).scalar_one() or 0
        changed = conn.execute(ins).rowcount
        inserted = conn.execute(
            select(func.count()).select_from(table).where(literal_column("rowid") > max_rowid)
        ).scalar_one()
    else:
        m = ins.returning(literal_column("(xmax = 0)").label("ins")).cte("m")
        row = conn.execute(
            select(func.count(), func.count().filter(m.c.ins))
        ).one()
        changed, inserted = int(row[0]), int(row[1])
    updated = max(changed - inserted, 0)
    return MergeCounts(inserted=inserted, updated=updated, unchanged=total - inserted - updated)


def retire_missing(
    conn: Connection,
    table: Table,
    stage: Table,
    *,
    scope: dict[str, list[Any]],
    prefix: tuple[str, str] | None,
    values: dict[str, Any],
) -> int:
    """Mark active rows inside ``scope`` that the staged snapshot lacks as retired.

    Used for full snapshots such as an official code list: a code missing from a newer
    vintage becomes inactive (``values``), it is never deleted.
    """
    keys = key_columns(table)
    conds: list[Any] = [table.c.active.is_(True)]
    for col, allowed in scope.items():
        conds.append(table.c[col].in_(allowed))
    if prefix is not None:
        conds.append(table.c[prefix[0]].startswith(prefix[1], autoescape=True))
    missing = ~exists(
        select(literal_column("1")).select_from(stage).where(
            and_(*[stage.c[k] == table.c[k] for k in keys])
        ).correlate(table)
    )
    result = conn.execute(update(table).where(*conds, missing).values(**values))
    return int(result.rowcount or 0)


def delete_keys(conn: Connection, table: Table, stage: Table) -> int:
    """Delete the rows of ``table`` whose keys are staged (rows a source flagged deleted);
    returns how many were stored."""
    keys = key_columns(table)
    match = exists(select(literal_column("1")).select_from(stage).where(
        and_(*[stage.c[k] == table.c[k] for k in keys])).correlate(table))
    return int(conn.execute(delete(table).where(match)).rowcount or 0)
