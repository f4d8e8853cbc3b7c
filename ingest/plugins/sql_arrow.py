"""The sql plugin's fast read of a SQLite file's table: Arrow record batches from ADBC's SQLite
driver (SQLite's values copied into columns in C, ~4× the rows per second of Python's
``sqlite3`` building a tuple per row), with the frames the row-by-row read would give.

Types: ADBC's driver types each column from the rows of its first batch and writes a value
of another storage class in that type's terms (a number in a text column as its own
"2.500000e+00"; SQLite keeps text beside numbers in an INTEGER, REAL, NUMERIC or untyped
column), or refuses it ("Type mismatch"). Each chunk is therefore one query of
``batch_size`` rows, all of them its first batch; a column whose type could hide another
storage class (text or bytes where SQLite keeps numbers, bytes in a TEXT column) is read
again as SQLite's ``quote()`` literals, each turned back into the int, float, str or bytes
Python's ``sqlite3`` gives, as is every column of a chunk the driver refuses. So a frame is
the one the row-by-row read builds from the same rows.

Order and chunks: the cursor's order with ``rowid`` after it (NULL cursors first, in
``rowid`` order, when the read is not incremental), each chunk starting after the last row
of the one before (keyset: its cursor value as SQLite keeps it, and its ``rowid``). Each
chunk is its own read transaction: a row the source system changes meanwhile comes with its
new cursor value in a later chunk, as the next run would read it, and none is skipped.
Tables without a ``rowid`` (views, ``WITHOUT ROWID``), queries, columns SQLAlchemy would
convert (SQLite ``DATETIME`` …) and cursor values of other types take the row-by-row read.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect

_DIALECT = sqlite_dialect.dialect(paramstyle="qmark")
_RID = "__gongzhi_rowid"  # the chunk's rowid, selected last and dropped
_ROWID_NAMES = ("rowid", "_rowid_", "oid")  # SQLite's names for it; a column may take one


def read_only_uri(path: Path) -> str:
    """The URI that opens the SQLite file at ``path`` read-only and never creates it
    (``mode=ro``: a missing file is an error, not a new empty database); every read of a
    SQLite source, row by row or as Arrow, opens it through this."""
    return f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"


def _sql(stmt: Any) -> tuple[str, list[Any]]:
    """A SQLAlchemy Core statement as SQLite's text with ``?`` and its parameters in order
    (ADBC and Python's sqlite3 both take that)."""
    compiled = stmt.compile(dialect=_DIALECT)
    return str(compiled), [compiled.params[n] for n in (compiled.positiontup or [])]


def affinity(declared: str) -> str:
    """SQLite's column affinity for a declared type (its rules, in their order)."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if any(k in t for k in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not t or "BLOB" in t:
        return "BLOB"
    if any(k in t for k in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def inspect_table(path: Path, table: str, columns: Sequence[str]
                  ) -> tuple[str, dict[str, str]] | None:
    """The name that reaches ``table``'s rowid (one no column has taken) and each column's
    affinity, or ``None`` when it has no rowid (a view, a ``WITHOUT ROWID`` table) or cannot
    be read so."""
    taken = {c.lower() for c in columns}
    name = next((n for n in _ROWID_NAMES if n not in taken), None)
    if name is None or _RID in columns:
        return None
    uri = read_only_uri(path)
    try:
        con = sqlite3.connect(uri, uri=True)
        try:
            master = sa.table("sqlite_master", sa.column("type"), sa.column("name"))
            kind = con.execute(*_sql(sa.select(master.c.type).where(
                master.c.name.collate("NOCASE") == table))).fetchone()
            if kind is None or kind[0] != "table":
                return None
            # a WITHOUT ROWID table refuses this
            con.execute(*_sql(sa.select(sa.literal_column(name)).select_from(
                sa.table(table)).limit(0)))
            info = sa.func.pragma_table_info(table).table_valued("name", "type")
            declared = {r[0]: r[1] or "" for r in con.execute(*_sql(
                sa.select(info.c.name, info.c.type)))}
        finally:
            con.close()
    except sqlite3.Error:
        return None
    if any(c not in declared for c in columns):
        return None
    return name, {c: affinity(declared[c]) for c in columns}


def literal(text: str) -> Any:
    """The value of one of SQLite's ``quote()`` literals, as Python's ``sqlite3`` returns it:
    ``NULL``, ``'text'`` (quotes doubled), ``X'hex'``, an integer, or a real (SQLite writes a
    real with a decimal point or an exponent, round-trip exact)."""
    if text == "NULL":
        return None
    if text[0] == "'":
        return text[1:-1].replace("''", "'")
    if text[:2] in ("X'", "x'"):
        return bytes.fromhex(text[2:-1])
    if any(ch in text for ch in ".eEnN"):  # 1.0, 1.5e+300, Inf
        return float(text)
    return int(text)


def tuples_frame(keys: Sequence[str], rows: Sequence[Sequence[Any]]) -> pl.DataFrame:
    """Rows turned into a frame column by column (the row-by-row read's types: a later value
    of another kind decides a column's type, as building the frame row by row would)."""
    return pl.DataFrame([pl.Series(k, col, strict=False) for k, col in zip(
        keys, zip(*rows, strict=True) if rows else [[]] * len(keys), strict=True)])


class ArrowChunks:
    """The chunks of ``table`` (of ``columns``, in their order) with ``cursor >= last``;
    ``affinity``: each column's (:func:`inspect_table`)."""

    def __init__(self, path: Path, table: str, columns: Sequence[str], rowid: str,
                 affinity: dict[str, str], cursor: str | None, last: Any, size: int) -> None:
        self.path, self.table, self.columns = path, table, list(columns)
        self.rowid, self.affinity = rowid, affinity
        self.cursor, self.last, self.size = cursor, last, size
        self.reread = 0  # columns of chunks read again through quote()
        self._t = sa.table(table, *(sa.column(c) for c in self.columns))
        self._rid: Any = sa.literal_column(rowid)

    def _phases(self) -> list[tuple[Any, list[Any], str | None]]:
        """(where, order by, the column whose last value starts the next chunk with
        ``rowid``: the cursor, or ``None`` for ``rowid`` alone)."""
        rid = self._rid
        if self.cursor is None:
            return [(sa.true(), [rid], None)]
        c = self._t.c[self.cursor]
        if self.last is not None:
            return [(c >= sa.literal(self.last), [c, rid], self.cursor)]
        return [(c.is_(None), [rid], None), (c.is_not(None), [c, rid], self.cursor)]

    def __iter__(self) -> Iterator[pl.DataFrame]:
        import adbc_driver_sqlite.dbapi as adbc

        uri = read_only_uri(self.path)
        # each chunk's query in its own read transaction (a read transaction held across
        # queries of ADBC's driver hung once the source system wrote and closed meanwhile):
        # a row changed between chunks comes with its new cursor value in a later chunk, as
        # the next run would read it
        with adbc.connect(uri, autocommit=True) as con:
            for where, order, key in self._phases():
                cond = where
                while True:
                    frame, rid = self._chunk(con, cond, order)
                    if frame is None:
                        break
                    yield frame
                    if frame.height < self.size:
                        break
                    # the next chunk starts after this one's last row (keyset): its cursor
                    # value as SQLite keeps it (int, float, str or bytes) and its rowid
                    if key is None:
                        cond = sa.and_(where, self._rid > sa.literal(rid))
                    else:
                        cond = sa.and_(where, sa.tuple_(self._t.c[key], self._rid)
                                       > sa.tuple_(sa.literal(frame[key][-1]), sa.literal(rid)))

    def _hidden(self, name: str, dtype: pl.DataType) -> bool:
        """Whether the driver may have turned other storage classes into this column's type:
        text or bytes in a column where SQLite keeps numbers (the driver writes a number in
        its own format), bytes in a TEXT column."""
        if self.affinity[name] == "TEXT":
            return dtype == pl.Binary
        return dtype in (pl.String, pl.Binary)

    def _chunk(self, con: Any, cond: Any, order: list[Any]
               ) -> tuple[pl.DataFrame | None, int | None]:
        def query(*cols: Any) -> tuple[str, list[Any]]:
            return _sql(sa.select(*cols, self._rid.label(_RID)).select_from(self._t)
                        .where(cond).order_by(*order).limit(self.size))

        try:
            table = _fetch(con, *query(*(self._t.c[c] for c in self.columns)), self.size)
        except Exception as e:  # the driver's refusal of a value of another type
            if "mismatch" not in str(e).lower():
                raise
            again = list(self.columns)
            table, frame = None, pl.DataFrame()
        else:
            if table.num_rows == 0:
                return None, None
            got = pl.from_arrow(table)
            assert isinstance(got, pl.DataFrame)
            frame = got
            again = [c for c in self.columns if self._hidden(c, frame.schema[c])]
        if again:  # those columns as SQLite's literals, turned back into Python's values
            self.reread += len(again)
            lit = _fetch(con, *query(*(sa.func.quote(self._t.c[c]) for c in again)), self.size)
            if lit.num_rows == 0:
                return None, None
            exact = pl.DataFrame([pl.Series(c, [literal(v) for v in lit.column(i).to_pylist()],
                                            strict=False) for i, c in enumerate(again)])
            if table is None:
                frame = exact.with_columns(pl.Series(_RID, lit.column(_RID).to_pylist()))
            else:
                frame = frame.with_columns(exact)
        last = frame[_RID][-1]
        frame = frame.select(self.columns)
        # a column of nulls only: the driver types it INT64; the row-by-row read leaves it Null
        empty = [c for c in frame.columns if frame[c].null_count() == frame.height]
        if empty:
            frame = frame.with_columns(pl.lit(None).alias(c) for c in empty)
        return frame, int(last)


def _fetch(con: Any, sql: str, args: list[Any], size: int) -> Any:
    cur = con.cursor()
    try:
        # the whole chunk is the first batch: its types come from all of its rows
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(size)})
        cur.execute(sql, args or None)
        return cur.fetch_arrow_table()
    finally:
        cur.close()
