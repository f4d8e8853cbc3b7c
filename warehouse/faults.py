"""Storage faults of the warehouse (full disk, read-only, lost server) told apart by exception
type and the driver's own code, and the clear sentence the run log and the pages show."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator

from sqlalchemy.exc import DBAPIError

FULL = ("the warehouse's disk is full: free space (or move the warehouse) and run again; "
        "nothing from this run was kept")
READ_ONLY = ("the warehouse is read-only (file permissions, a read-only mount or a read-only "
             "database user): writes are refused")
LOST = ("the connection to the warehouse server was lost (was PostgreSQL restarted or "
        "stopped?); nothing from this run was kept")
_SQLITE_CODES = {13: FULL, 8: READ_ONLY}  # SQLITE_FULL, SQLITE_READONLY (primary codes)
_OS_ERRNOS = {errno.ENOSPC: FULL, errno.EDQUOT: FULL, errno.EROFS: READ_ONLY}
# PostgreSQL SQLSTATEs: 53100 disk_full, 25006 read_only_sql_transaction; class 08 is a
# connection exception, 57P01-57P03 the server shutting down or starting
_PG_STATES = {"53100": FULL, "25006": READ_ONLY, "57P01": LOST, "57P02": LOST, "57P03": LOST}


def explain(e: BaseException) -> str | None:
    """A clear sentence for a storage fault of the warehouse (full disk, read-only, lost
    server), else None.

    Told apart by exception type and the driver's own code (SQLite result codes, PostgreSQL
    SQLSTATEs, OS errno), never by message text: a source's error that merely mentions
    "connection refused" is the source's, and the caller names the source for it. Only
    errors raised while talking to the warehouse should be passed here."""
    return next((found for err in _chain(e) if (found := _classify(err))), None)


def _chain(e: BaseException) -> Iterator[BaseException]:
    """``e``, then the driver errors SQLAlchemy wrapped (``orig``) and the causes, each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [e]
    while todo:
        err = todo.pop(0)
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        todo += [getattr(err, "orig", None), err.__cause__]


def _classify(err: BaseException) -> str | None:
    if isinstance(err, DBAPIError) and err.connection_invalidated:
        return LOST  # SQLAlchemy saw the driver report a disconnect
    if isinstance(err, sqlite3.Error):
        return _SQLITE_CODES.get(getattr(err, "sqlite_errorcode", -1) & 0xFF)
    if type(err).__module__.startswith("adbc_driver"):  # the SQLite staging path
        code = getattr(err, "vendor_code", None)
        return _SQLITE_CODES.get(code & 0xFF) if isinstance(code, int) else None
    if type(err).__module__.startswith("psycopg"):
        state = getattr(err, "sqlstate", None)
        if state is None:
            # libpq failed below SQL: a connection refused, reset or closed by the server
            return LOST if type(err).__name__ == "OperationalError" else None
        return _PG_STATES.get(state) or (LOST if state.startswith("08") else None)
    if isinstance(err, OSError) and not isinstance(err, ConnectionError):
        return _OS_ERRNOS.get(err.errno or 0)
    return None


# SQLSTATE 40P01 deadlock_detected, 40001 serialization_failure: the server rolled the whole
# transaction back because another one held what it needed; the same work may be done again
_CONFLICT_STATES = {"40P01": "a deadlock with another transaction",
                    "40001": "a serialization failure against another transaction"}


def conflict(e: BaseException) -> str | None:
    """What the server said when it rolled a transaction back for another one's sake
    (deadlock, serialization failure), else None. By SQLSTATE, never by message text."""
    return next((_CONFLICT_STATES[state] for err in _chain(e)
                 if type(err).__module__.startswith("psycopg")
                 and (state := getattr(err, "sqlstate", None) or "") in _CONFLICT_STATES),
                None)
