"""The sql plugin's Arrow read of a SQLite table (ingest/plugins/sql_arrow.py) against
Python's ``sqlite3`` read row by row: the same rows in the same chunks, the same types and
values (mixed storage classes, empty stretches, blobs), one snapshot, and the tables it
leaves to the row-by-row read."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ingest.plugins.sql_arrow import ArrowChunks, inspect_table, literal

COLUMNS = ["id", "n", "x", "u", "late", "cur", "b"]


def _value(rng: random.Random, kind: str, i: int, mixed: bool = True) -> Any:
    r = rng.random()
    if kind == "n":  # INTEGER: mostly ints, some text and reals SQLite keeps as they are
        return (None if r < 0.1 else "n/a" if r < 0.13 and mixed else 2.5 if r < 0.15
                else i * 7)
    if kind == "x":
        return None if r < 0.2 else i / 3 if r < 0.9 else 1e20 + i
    if kind == "u":  # no declared type: whatever comes
        if not mixed:
            return None if r < 0.2 else 1.25 * i
        return (None if r < 0.2 else i if r < 0.5 else f"t{i}" if r < 0.8
                else 1.25 * i if r < 0.95 else bytes([i % 256, 0]))
    if kind == "late":  # empty for the first rows, then text
        return None if i < 150 or r < 0.3 else f"晚{i}'s"
    if kind == "cur":  # ties and NULLs
        return None if r < 0.05 else f"2024-01-{1 + rng.randrange(28):02d}"
    if kind == "b":
        return None if r < 0.5 else bytes(rng.randrange(256) for _ in range(3))
    return f"k{i:05d}"


def _db(path: Path, rows: int = 400, seed: int = 7, mixed: bool = True
        ) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    data = [tuple(_value(rng, k, i, mixed) for k in COLUMNS) for i in range(rows)]
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (id TEXT, n INTEGER, x REAL, u, late TEXT, cur TEXT, b BLOB)")
    con.execute("CREATE INDEX t_cur ON t (cur)")
    con.executemany("INSERT INTO t VALUES (?,?,?,?,?,?,?)", data)
    con.commit()
    con.close()
    return data


def _expected(path: Path, where: str, params: list[Any], order: str, size: int
              ) -> list[pl.DataFrame]:
    """The row-by-row read: Python's sqlite3 values, each column of a chunk a polars Series of
    them (``strict=False``: a later value of another kind decides the type)."""
    con = sqlite3.connect(path)
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM t WHERE {where} ORDER BY {order}",
                       params).fetchall()
    con.close()
    return [pl.DataFrame([pl.Series(k, [r[j] for r in rows[i:i + size]], strict=False)
                          for j, k in enumerate(COLUMNS)])
            for i in range(0, len(rows), size)]


def _reader(db: Path, cursor: str | None, last: Any, size: int, table: str = "t",
            columns: list[str] = COLUMNS) -> ArrowChunks:
    found = inspect_table(db, table, columns)
    assert found is not None
    return ArrowChunks(db, table, columns, found[0], found[1], cursor, last, size)


def _same(got: list[pl.DataFrame], want: list[pl.DataFrame]) -> None:
    assert [f.height for f in got] == [f.height for f in want]
    for g, w in zip(got, want, strict=True):
        assert g.schema == w.schema
        for c in g.columns:  # (polars compares no Object columns: their values, then)
            assert (g[c].to_list() == w[c].to_list() if g[c].dtype == pl.Object
                    else g[c].equals(w[c])), (c, g[c], w[c])


@pytest.mark.parametrize("size", [7, 64, 1000])
def test_a_full_read_gives_the_row_by_row_frames(tmp_path: Path, size: int) -> None:
    db = tmp_path / "s.db"
    _db(db)
    reader = _reader(db, "cur", None, size)
    got = list(reader)
    # NULL cursors first (as ORDER BY cur puts them), in rowid order; then by cursor and rowid
    want = (_expected(db, "cur IS NULL", [], "rowid", size)
            + _expected(db, "cur IS NOT NULL", [], "cur, rowid", size))
    _same(got, want)
    # the columns where SQLite keeps numbers and text side by side were read again (each
    # chunk's u, n where it holds text) …
    assert len(got) <= reader.reread < len(got) * len(COLUMNS)  # … the rest came as Arrow


def test_an_incremental_read_starts_at_the_last_cursor(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _db(db)
    got = list(_reader(db, "cur", "2024-01-15", 50))
    _same(got, _expected(db, "cur >= ?", ["2024-01-15"], "cur, rowid", 50))


def test_without_a_cursor_rows_come_in_rowid_order(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    data = _db(db, rows=230)
    got = pl.concat(list(_reader(db, None, None, 100)),
                    how="diagonal_relaxed")
    assert got["id"].to_list() == [r[0] for r in data]


def test_rows_the_source_changes_during_the_read_come_with_their_new_values(
        tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    data = _db(db, rows=300, mixed=False)
    chunks = iter(_reader(db, "cur", None, 50))
    first = next(chunks)
    done = first["id"].to_list()[-1]
    ahead = max((r for r in data if r[5] is not None and r[5] < "2024-01-27"),
                key=lambda r: r[5])[0]  # a row the read has not reached yet
    con = sqlite3.connect(db)  # the source system writes meanwhile (WAL: it may)
    con.execute("INSERT INTO t (id, cur) VALUES ('new', '2030-01-01')")
    con.execute("UPDATE t SET cur = '2031-01-01', n = -1 WHERE id IN (?, ?)", (done, ahead))
    con.commit()
    con.close()
    rows = [r for f in (first, *chunks) for r in f.select("id", "n", "cur").rows()]
    ids = [r[0] for r in rows]
    # nothing skipped; the new row and both changed rows at the end with their new values;
    # the row read before it changed comes twice (the merge keeps the later one)
    assert sorted(set(ids)) == sorted({r[0] for r in data} | {"new"})
    assert len(rows) == 302 and ids.count(done) == 2 and ids.count(ahead) == 1
    assert rows[-3] == ("new", None, "2030-01-01")
    assert sorted(rows[-2:]) == sorted([(done, -1, "2031-01-01"), (ahead, -1, "2031-01-01")])


def test_literals_turn_back_into_the_values_sqlite3_gives() -> None:
    values: list[Any] = [None, 0, -5, 2**63 - 1, 1.0, -2.5, 1e300, 1 / 3, 0.1 + 0.2, float("inf"),
                         "", "it's", "NULL", "'", "行\n二", b"", b"\x00'\xff"]
    con = sqlite3.connect(":memory:")
    for v in values:
        quoted, back = con.execute("SELECT quote(?), ?", (v, v)).fetchone()
        assert literal(quoted) == back and type(literal(quoted)) is type(back), (v, quoted)


def test_tables_without_a_rowid_are_left_to_the_row_by_row_read(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE w (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID")
    con.execute("CREATE TABLE r (rowid TEXT, oid INTEGER, v INTEGER)")
    con.execute("CREATE TABLE all3 (rowid TEXT, _rowid_ TEXT, oid TEXT)")
    con.execute("CREATE VIEW vw AS SELECT * FROM r")
    con.execute("INSERT INTO r VALUES ('a', 1, 2), ('b', 3, 4)")
    con.commit()
    con.close()
    assert inspect_table(db, "w", ["k", "v"]) is None
    assert inspect_table(db, "vw", ["rowid", "oid", "v"]) is None
    assert inspect_table(db, "all3", ["rowid", "_rowid_", "oid"]) is None
    assert inspect_table(db, "r", ["rowid", "oid", "v"]) == (
        "_rowid_", {"rowid": "TEXT", "oid": "INTEGER", "v": "INTEGER"})
    got = pl.concat(list(_reader(db, "v", None, 1, "r", ["rowid", "oid", "v"])))
    assert got.rows() == [("a", 1, 2), ("b", 3, 4)]


def _source(tmp_path: Path, arrow: bool, size: int, **extra: Any) -> Any:
    from ingest.contract import SourceContext
    from ingest.registry import build_source, load_validated
    from tests.conftest import write_config

    folder = tmp_path / ("a" if arrow else "p")
    (folder / "src").mkdir(parents=True)
    # (no text beside numbers in a column: the row-by-row read types a column by the rows
    # that share its chunk, and the two reads cut their chunks apart where NULL cursors end)
    _db(folder / "src" / "s.db", rows=500, seed=11, mixed=False)
    spec = {"id": "topics", "plugin": "sql", "table": "consultations",
            "url": "sqlite:///src/s.db", "source_table": "t", "cursor": "cur",
            "batch_size": size, "arrow": arrow, **extra}
    cfg = write_config(folder, f"sqlite:///{folder / 'w.db'}", [spec])
    ctx = SourceContext(progress=lambda w, n: None, warn=print, warehouse_url=None,
                        no_input=print)
    return build_source(load_validated(cfg).sources[0], ctx)


def test_the_source_hands_on_the_same_batches_and_cursors_either_way(tmp_path: Path) -> None:
    fast = list(_source(tmp_path, True, 60).extract(None))
    slow_src = _source(tmp_path, False, 60)
    # the row-by-row read orders by the cursor alone: ties in SQLite's index order (rowid)
    slow = list(slow_src.extract(None))
    # the same rows in the same order, numbered alike, and the same cursor at the end (the
    # fast read ends its NULL-cursor rows with a chunk of their own)
    assert fast[-1].cursor == slow[-1].cursor
    rows = [[r for b in run for r in b.frame.drop("_origin").rows()] for run in (fast, slow)]
    assert len(rows[0]) == 500 and rows[0] == rows[1]
    later = {"last": {"type": "str", "value": "2024-01-20"}}
    again = list(_source(tmp_path / "x", True, 60).extract(later))
    assert min(r for b in again for r in b.frame["cur"].to_list()) == "2024-01-20"


def test_a_chunk_the_driver_refuses_is_read_again_as_literals(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest.plugins import sql_arrow

    db = tmp_path / "s.db"
    _db(db)
    real = sql_arrow._fetch
    refused: list[str] = []

    def fetch(con: Any, sql: str, args: list[Any], size: int) -> Any:
        if "quote(" not in sql and len(refused) < 2:  # the driver's own words
            refused.append(sql)
            raise OSError("[SQLite] Type mismatch in column 3: expected INT64 but got STRING")
        return real(con, sql, args, size)

    monkeypatch.setattr(sql_arrow, "_fetch", fetch)
    reader = _reader(db, "cur", None, 64)
    got = list(reader)
    _same(got, _expected(db, "cur IS NULL", [], "rowid", 64)
          + _expected(db, "cur IS NOT NULL", [], "cur, rowid", 64))
    assert len(refused) == 2 and reader.reread >= 2 * len(COLUMNS)


def test_a_database_error_mid_read_is_the_source_error_after_the_chunks_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import adbc_driver_manager

    from core.errors import TransientSourceError
    from ingest.plugins import sql_arrow

    real = sql_arrow._fetch
    calls: list[str] = []

    def fetch(con: Any, sql: str, args: list[Any], size: int) -> Any:
        calls.append(sql)
        if len(calls) > 3:  # the driver's own error for a file gone bad under the read
            raise adbc_driver_manager.OperationalError(
                "IO: Failed to step query: disk I/O error",
                status_code=adbc_driver_manager.AdbcStatusCode.IO)
        return real(con, sql, args, size)

    monkeypatch.setattr(sql_arrow, "_fetch", fetch)
    got = []
    with pytest.raises(TransientSourceError, match="disk I/O error"):
        for b in _source(tmp_path, True, 60).extract(None):
            got.append(b.frame.height)
    assert got and len(got) <= 3 and sum(got) < 500


def test_a_writers_lock_is_waited_for_as_sqlite3_waits(tmp_path: Path) -> None:
    import threading

    db = tmp_path / "s.db"
    _db(db, rows=120, mixed=False)
    con = sqlite3.connect(db, check_same_thread=False)
    # a rollback journal: a writer's exclusive lock keeps readers out until it commits
    assert con.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    con.execute("BEGIN EXCLUSIVE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite3.connect(db, timeout=0).execute("SELECT count(*) FROM t").fetchone()
    con.execute("UPDATE t SET n = -7 WHERE id = 'k00000'")
    locked = threading.Event()

    def writer() -> None:
        locked.wait()
        threading.Event().wait(0.8)
        con.commit()

    thread = threading.Thread(target=writer)
    thread.start()
    locked.set()
    rows = [r for f in _reader(db, "cur", None, 50) for r in f.select("id", "n").rows()]
    thread.join()
    con.close()
    assert len(rows) == 120 and ("k00000", -7) in rows  # read after the writer committed


@pytest.mark.parametrize("name", ["a b#1?x=2.db", "樊城 %20区.db"])
def test_the_read_only_uri_reaches_the_file_whatever_its_name_and_never_creates_one(
        tmp_path: Path, name: str) -> None:
    from ingest.plugins.sql_arrow import read_only_uri

    path = tmp_path / name
    data = _db(path, rows=20)
    con = sqlite3.connect(read_only_uri(path), uri=True)
    try:
        assert con.execute("SELECT id FROM t ORDER BY rowid").fetchall() == [
            (row[0],) for row in data]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            con.execute("DELETE FROM t")
    finally:
        con.close()
    missing = tmp_path / f"missing {name}"
    with pytest.raises(sqlite3.OperationalError):
        sqlite3.connect(read_only_uri(missing), uri=True).execute("SELECT 1")
    assert not missing.exists()
    found = inspect_table(path, "t", ["id"])
    assert found is not None
    frames = list(ArrowChunks(path, "t", ["id"], found[0], found[1], None, None, 8))
    assert pl.concat(frames)["id"].to_list() == [row[0] for row in data]
