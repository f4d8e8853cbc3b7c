"""``sql``: incremental reads of a table or a query from any SQLAlchemy URL, by a cursor column.

Rows with ``cursor >= last value`` are read in cursor order, in chunks; the boundary value is
read again on purpose (rows committed later with the same cursor value are not missed) and
the merge makes re-reading harmless.

A source is read, never written, and never the warehouse itself: SQLite files are opened
read-only (``mode=ro``: a missing file is an error, not a new empty file; ``ATTACH`` is
refused), and the warehouse's own files (the warehouse, its ``-app.db`` of accounts and the
audit log, their ``-wal``/``-shm``/``-journal`` files, also through a symlink or hard link)
or, on PostgreSQL, the warehouse's own database are refused before anything is opened.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import adbc_driver_manager as adbc
import polars as pl
from pydantic import model_validator
from sqlalchemy import (
    URL,
    Engine,
    MetaData,
    Table,
    column,
    create_engine,
    literal_column,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.engine.cursor import CursorFetchStrategy
from sqlalchemy.exc import ArgumentError, NoSuchTableError, SQLAlchemyError

from core.errors import SourceError, TransientSourceError
from ingest.contract import ORIGIN, ROW, Batch, PluginConfig, Source
from ingest.plugins.ahead import ahead
from ingest.plugins.sql_arrow import ArrowChunks, inspect_table, read_only_uri, tuples_frame


class SqlConfig(PluginConfig):
    url: str
    source_table: str | None = None
    query: str | None = None
    cursor: str | None = None
    batch_size: int = 100_000
    # a SQLite file's table read as Arrow batches through ADBC (ingest/plugins/sql_arrow.py);
    # false: Python's sqlite3, a tuple per row
    arrow: bool = True
    url_env: str | None = None  # name of an environment variable holding the URL's password

    @model_validator(mode="after")
    def _one_of(self) -> SqlConfig:
        if bool(self.source_table) == bool(self.query):
            raise ValueError("give exactly one of 'source_table' or 'query'")
        return self


def _encode(value: Any) -> dict[str, Any]:
    if isinstance(value, dt.datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, int | float):
        return {"type": "number", "value": value}
    return {"type": "str", "value": str(value)}


def _decode(c: dict[str, Any]) -> Any:
    kind, value = c.get("type"), c.get("value")
    if value is None:
        return None
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    return value


class SqlSource(Source):
    """Reads a source database table or query; the cursor column makes reads incremental."""

    name = "sql"
    Config = SqlConfig
    tables = None

    config: SqlConfig

    def describe(self) -> str:
        what = self.config.source_table or "query"
        return f"{self._safe_url()} ({what})"

    def _safe_url(self) -> str:
        from sqlalchemy.engine import make_url

        try:
            return make_url(self._url()).render_as_string(hide_password=True)
        except Exception:
            return "<invalid url>"

    def _url(self) -> str:
        from sqlalchemy.engine import make_url

        url = self.config.url
        u = make_url(url)
        if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
            url = u.set(database=str(self.spec.resolve(u.database))).render_as_string(
                hide_password=False)
        if self.config.url_env:
            import os

            secret = os.environ.get(self.config.url_env)
            if secret is None:
                raise SourceError(f"environment variable {self.config.url_env} is not set")
            url = make_url(url).set(password=secret).render_as_string(hide_password=False)
        return url

    def _engine(self, location: str) -> Engine:
        """An engine on the source: SQLite files read-only, the warehouse refused."""
        try:
            url = make_url(self._url())
        except (ArgumentError, ValueError) as e:
            raise SourceError(f"bad source URL: {e}", location=location) from None
        refuse_warehouse(url, self.ctx.warehouse_url, location)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return read_only_sqlite(Path(url.database or ""), url, location)
        # an in-memory SQLite: its rows are fetched on the read-ahead thread, and pysqlite
        # refuses a connection made on another thread unless told (used by one at a time)
        args = {"check_same_thread": False} if url.get_backend_name() == "sqlite" else {}
        try:
            return create_engine(url, connect_args=args)
        except (SQLAlchemyError, ValueError) as e:
            raise SourceError(f"bad source URL: {e}", location=location) from None

    def extract(self, cursor: Any | None) -> Iterator[Batch]:
        location = self.describe()
        engine = self._engine(location)
        try:
            yield from self._read(engine, cursor, location)
        except (SQLAlchemyError, adbc.Error) as e:  # adbc: the Arrow read of a SQLite file
            orig = getattr(e, "orig", None) or e
            err = TransientSourceError if "OperationalError" in type(e).__name__ else SourceError
            raise err(f"source database error: {str(orig).splitlines()[0]}",
                      location=location) from None
        finally:
            engine.dispose()

    def _read(self, engine: Any, cursor: Any | None, location: str) -> Iterator[Batch]:
        cfg = self.config
        if cfg.source_table:
            try:
                src: Any = Table(cfg.source_table, MetaData(), autoload_with=engine)
            except NoSuchTableError:
                raise SourceError(f"no table '{cfg.source_table}'", location=location) from None
            stmt = select(src)
            cur_col = src.c[cfg.cursor] if cfg.cursor else None
            if cfg.cursor and cur_col is None:
                raise SourceError(f"no cursor column '{cfg.cursor}'", location=location)
        else:
            src = text(cfg.query or "").columns().subquery("src")
            stmt = select(literal_column("*")).select_from(src)
            cur_col = column(cfg.cursor) if cfg.cursor else None
        last = _decode(cursor["last"]) if cursor and "last" in cursor else None
        if cur_col is not None:
            if last is not None:
                stmt = stmt.where(cur_col >= last)
            stmt = stmt.order_by(cur_col)

        fast = self._arrow_chunks(engine, src, last) if cfg.source_table else None
        if fast is not None:
            # the same frames, numbered and handed on as the row-by-row read's below
            with closing(ahead(_numbered(iter(fast), location))) as frames:
                yield from self._batches(frames, cursor, last, location)
            return
        with engine.connect() as conn:
            # SQLite reads its file as it goes anyway (no server-side cursor to ask for)
            opts = {} if engine.dialect.name == "sqlite" else {
                "stream_results": True, "yield_per": cfg.batch_size}
            result = conn.execution_options(**opts).execute(stmt)
            keys = list(result.keys())
            if cfg.cursor and cfg.cursor not in keys:
                raise SourceError(f"no cursor column '{cfg.cursor}' in the result",
                                  location=location)
            # fetched and built a chunk ahead, on a thread, while the run loads the one before;
            # closed (the thread done with the connection) before the connection is
            with closing(ahead(_numbered((tuples_frame(keys, part) for part in _parts(
                    result, cfg.batch_size)), location))) as frames:
                yield from self._batches(frames, cursor, last, location)

    def _batches(self, frames: Iterator[pl.DataFrame], cursor: Any | None, last: Any,
                 location: str) -> Iterator[Batch]:
        """The frames as batches, each with the cursor after it."""
        cfg = self.config
        row_no = 0
        for frame in frames:
            row_no += frame.height
            new_cursor: Any = cursor
            if cfg.cursor:
                top = frame[cfg.cursor].drop_nulls()
                if top.len():
                    new_cursor = {"last": _encode(top.max())}
            self.ctx.progress("read", row_no)
            cursor = new_cursor
            yield Batch(table=self.spec.table or "", frame=frame, cursor=new_cursor,
                        note=location)
        if row_no == 0 and last is None:  # a full read found nothing at all
            self.ctx.no_input(f"{location}: the query returned no rows")

    def _arrow_chunks(self, engine: Any, src: Any, last: Any) -> ArrowChunks | None:
        """The fast read of a SQLite file's table, where it gives the row-by-row read's
        frames: no column SQLAlchemy would convert, a rowid, a cursor value of SQLite's own
        types (else ``None``: the row-by-row read)."""
        cfg = self.config
        if not cfg.arrow or engine.dialect.name != "sqlite":
            return None
        url = make_url(self._url())
        if url.database in (None, "", ":memory:"):
            return None
        dialect = engine.dialect
        if any(c.type.dialect_impl(dialect).result_processor(dialect, None) is not None
               for c in src.columns):
            return None
        if last is not None and type(last) not in (str, int, float):
            return None
        path = self.spec.resolve(url.database or "")
        columns = [c.name for c in src.columns]
        found = inspect_table(path, cfg.source_table or "", columns)
        if found is None:
            return None
        return ArrowChunks(path, cfg.source_table or "", columns, found[0], found[1],
                           cfg.cursor, last, cfg.batch_size)


def _numbered(frames: Iterator[pl.DataFrame], location: str) -> Iterator[pl.DataFrame]:
    """The frames numbered from 1 (``_row``) and with ``_origin``."""
    row_no = 0
    for frame in frames:
        yield frame.with_columns(
            pl.int_range(row_no + 1, row_no + frame.height + 1, dtype=pl.Int64).alias(ROW),
            pl.lit(location).alias(ORIGIN))
        row_no += frame.height


def _parts(result: Any, size: int) -> Iterator[Sequence[Any]]:
    """The result's rows ``size`` at a time: straight from the DBAPI cursor (plain tuples,
    about twice as fast as SQLAlchemy's rows) when SQLAlchemy would convert no column
    (SQLite's text, integers and reals; not its DATETIME, which it parses) and nothing is
    buffered; else SQLAlchemy's rows."""
    procs = getattr(result._metadata, "_processors", None)
    # exactly the plain strategy: a buffered one (a server-side cursor) holds rows already
    if (type(result.cursor_strategy) is CursorFetchStrategy and result.cursor is not None
            and procs is not None and all(p is None for p in procs)):
        cursor = result.cursor
        while part := cursor.fetchmany(size):
            yield part
        return
    yield from result.partitions(size)


# -- the sandbox -------------------------------------------------------------------------------

_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def warehouse_files(warehouse_url: str | URL | None) -> list[Path]:
    """The files of a SQLite warehouse: the database, its ``-app.db`` (accounts, audit log;
    named as :func:`warehouse.engine.app_engine` names it) and their WAL/SHM/journal files."""
    if not warehouse_url:
        return []
    url = make_url(warehouse_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return []
    db = Path(url.database or "")
    app = db.with_name(f"{db.stem}-app{db.suffix or '.db'}")
    return [Path(f"{base}{side}") for base in (db, app) for side in _SIDE_FILES]


def _same_file(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # a hard link has a path of its own
    except OSError:
        return False


def _server_db(url: URL) -> tuple[str, str, int | None, str]:
    return (url.get_backend_name(), (url.host or "localhost").lower(), url.port,
            url.database or "")


def refuse_warehouse(url: URL, warehouse_url: str | None, location: str) -> None:
    """Raise when ``url`` names the warehouse itself (its files, or its PostgreSQL database):
    a source that read it could copy password hashes and the audit log into tables people see.
    """
    if not warehouse_url:
        return
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return
        path = Path(url.database or "")
        for own in warehouse_files(warehouse_url):
            if _same_file(path, own):
                raise SourceError(f"{path} is one of the warehouse's own files ({own.name}); "
                                  "a sql source may not read the warehouse", location=location)
        return
    wh = make_url(warehouse_url)
    if wh.get_backend_name() != "sqlite" and _server_db(url) == _server_db(wh):
        raise SourceError(f"database '{url.database}' on {url.host or 'localhost'} is the "
                          "warehouse's own; a sql source may not read the warehouse",
                          location=location)


def read_only_sqlite(path: Path, url: URL, location: str) -> Engine:
    """An engine that opens ``path`` read-only and never creates it (SQLite's ``mode=ro``);
    attaching other databases is refused too (``ATTACH`` could reach any file)."""
    if url.query:
        raise SourceError(f"remove '?{'&'.join(url.query)}' from the URL: SQLite sources are "
                          "opened read-only by the sql plugin itself", location=location)
    if not path.is_file():
        raise SourceError(f"no SQLite database at {path}", location=location)
    uri = read_only_uri(path)

    def connect() -> sqlite3.Connection:
        con = sqlite3.connect(uri, uri=True, check_same_thread=False)
        con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        return con

    return create_engine("sqlite://", creator=connect)
