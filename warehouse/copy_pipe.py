"""PostgreSQL scratch tables filled by ``COPY`` on a thread of their own (issue 15, item 2).

A run's chunks used to be read, cast and hashed, then copied, one after the other: while the
server parsed a chunk (about as long as casting it: measured 10 s for 1M service cases on a
loaded machine, against 12 s of reading, casting and summing), the run waited. Here the main
thread hands each chunk to a copier thread and goes on with the next one, so the server and
Python work at the same time. One ``COPY`` per scratch table stays open across its chunks.
Rows go in PostgreSQL's binary format (:mod:`warehouse.copy_binary`: the server parses it in
about half the time it takes for CSV), or as CSV for a table with a column type that module
does not write.

Memory stays bounded: the hand-over queue holds one chunk, so at most two chunks are in
flight per copier besides the one being cast (a run has two copiers,
:class:`warehouse.bulk.Stager`: two server processes parse rows at once). Whatever the
copier raises (a lost connection) is raised in the run's thread at its next hand-over or at
:meth:`CopyPipe.flush`, which everything that reads the scratch tables calls first.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, Table

from warehouse import copy_binary

SLICE_ROWS = 100_000  # rows per CSV piece written to the COPY
# what PostgreSQL parses: no fraction when a time has none (most have none)
DATETIME_CSV = "%Y-%m-%d %H:%M:%S%.f"
DATE_CSV = "%Y-%m-%d"


@contextlib.contextmanager
def scratch_connection(engine: Engine) -> Iterator[Connection]:
    """An autocommitting connection for what a run writes before its transaction: its
    scratch and month tables, their rows and indexes. On PostgreSQL these commits do not
    wait for their WAL to reach the disk (``synchronous_commit = off``; a first load of 1M
    service cases commits ~200 times on the copiers and index builders): none of it is kept
    unless the run's own transaction commits, and that commit, synchronous, flushes every WAL
    record written before it. A crash in between loses scratch tables a failed run leaves
    anyway (``bulk.drop_stage`` clears them). The setting is reset before the connection goes
    back to the pool, so no other use of it commits asynchronously."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        lax = conn.dialect.name == "postgresql"
        if lax:
            conn.exec_driver_sql("SET synchronous_commit = off")
        try:
            yield conn
        finally:
            if lax and not conn.invalidated:
                with contextlib.suppress(Exception):  # a broken connection is discarded
                    conn.exec_driver_sql("RESET synchronous_commit")


class CopyPipe:
    """A copier thread for one run's scratch tables."""

    def __init__(self, engine: Engine, on_copy: Callable[[], None]):
        self.engine = engine
        self.on_copy = on_copy  # called after each piece sent (the crash tests' faultpoint)
        self._q: queue.Queue[tuple[Table, pl.DataFrame, bool] | Callable[[], None] | None] = (
            queue.Queue(maxsize=1))
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def send(self, st: Table, wire: pl.DataFrame, *, first: bool) -> None:
        """Queue ``wire`` for ``st`` (``first``: create the table first); returns once the
        copier has taken the previous chunk."""
        self._raise()
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="gongzhi-copy",
                                            daemon=True)
            self._thread.start()
        self._q.put((st, wire, first))

    def call(self, fn: Callable[[], None]) -> None:
        """Have the copier call ``fn`` once every chunk sent so far is in its table (its
        COPY ended: other connections see the rows)."""
        self._raise()
        if self._thread is None:
            fn()
            return
        self._q.put(fn)

    def flush(self) -> None:
        """Wait until every chunk sent is in its table; raises what the copier raised."""
        if self._thread is not None:
            self._q.put(None)
            self._thread.join()
            self._thread = None
        self._raise()

    def close(self) -> None:
        """Stop the copier (after a failure elsewhere: its own error no longer matters)."""
        try:
            self.flush()
        except Exception:  # the run already failed for another reason, or is cleaning up
            self._error = None

    def _raise(self) -> None:
        if self._error is not None:
            e, self._error = self._error, None
            raise e

    def _work(self) -> None:
        copy: Any = None  # the open COPY's context manager
        writer: Any = None
        layout: Any = None  # the open COPY's binary layout (None: CSV)
        current: str | None = None
        stopped = False  # the run's thread said it sends no more
        try:
            with scratch_connection(self.engine) as conn:
                raw = conn.connection.driver_connection
                assert raw is not None
                try:
                    while True:
                        item = self._q.get()
                        if item is None:
                            stopped = True
                            break
                        if self._error is not None:
                            continue  # a failed copy: the rest is dropped until the run stops
                        if callable(item):
                            try:
                                if copy is not None:
                                    ending, copy = copy, None
                                    _end(ending, writer, layout)
                                item()
                            except BaseException as e:
                                self._error = e
                            continue
                        st, wire, first = item
                        try:
                            if copy is not None and (first or st.name != current):
                                _end(copy, writer, layout)
                                copy = None
                            if first:
                                st.drop(conn, checkfirst=True)
                                st.create(conn)
                            if copy is None:
                                layout = copy_binary.layout(st, wire.columns)
                                cols = ", ".join(f'"{c}"' for c in wire.columns)
                                fmt = "binary" if layout else "csv, HEADER false"
                                copy = raw.cursor().copy(
                                    f'COPY "{st.name}" ({cols}) FROM STDIN (FORMAT {fmt})')
                                writer, current = copy.__enter__(), st.name
                                if layout:
                                    writer.write(copy_binary.SIGNATURE)
                            for piece in wire.iter_slices(SLICE_ROWS):
                                writer.write(_encoded(piece, layout))
                                self.on_copy()
                        except BaseException as e:
                            self._error = e
                            if copy is not None:
                                with contextlib.suppress(BaseException):  # connection gone
                                    copy.__exit__(type(e), e, e.__traceback__)
                                copy = None
                    if copy is not None:
                        _end(copy, writer, layout)  # the last table's COPY ends here
                        copy = None
                finally:
                    # psycopg raised, not SQLAlchemy, so the pool does not know a connection
                    # the server dropped: hand it back and its reset fails, logging a traceback
                    if raw.closed or raw.broken:
                        conn.invalidate()
        except BaseException as e:
            if self._error is None:
                self._error = e
            # keep taking chunks so that the run's thread never waits on a full queue
            while not stopped and self._q.get() is not None:
                pass


def _encoded(piece: pl.DataFrame, layout: Any) -> Any:
    """``piece`` as the open COPY takes it: binary rows, or CSV when the table has a column
    type the binary writer does not know."""
    if layout:
        return copy_binary.encode(piece, layout)
    buf = io.BytesIO()
    piece.write_csv(buf, include_header=False, null_value="", datetime_format=DATETIME_CSV,
                    date_format=DATE_CSV)
    return buf.getvalue()


def _end(copy: Any, writer: Any, layout: Any) -> None:
    """End a COPY that went well (a binary one with its trailer)."""
    if layout:
        writer.write(copy_binary.TRAILER)
    copy.__exit__(None, None, None)
