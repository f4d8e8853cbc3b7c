"""The sql plugin's fetch (ingest/plugins/sql.py ``_parts``): plain tuples straight from the
DBAPI cursor only where SQLAlchemy would convert nothing, and frames built column by column
with the types the row-by-row build gave (mixed values included)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from ingest.plugins.sql import _parts


def _db(path: Path) -> sa.Engine:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id VARCHAR(8), n INTEGER, x REAL, at DATETIME)")
    rows: list[tuple[Any, ...]] = [(f"k{i:03d}", i, i / 3, "2024-01-02 03:04:05.000000")
                                   for i in range(250)]
    rows.append(("k999", "not a number", None, None))  # SQLite keeps text in an INTEGER
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    return sa.create_engine(f"sqlite:///{path}")


def test_plain_columns_come_straight_and_parsed_ones_through_sqlalchemy(tmp_path: Path
                                                                        ) -> None:
    engine = _db(tmp_path / "s.db")
    t = sa.Table("t", sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        plain = list(_parts(conn.execute(sa.select(t.c.id, t.c.n, t.c.x)), 100))
        parsed = list(_parts(conn.execute(sa.select(t.c.id, t.c.at)), 100))
    assert [len(p) for p in plain] == [100, 100, 51]
    assert type(plain[0][0]) is tuple  # DBAPI rows, not SQLAlchemy's
    assert plain[2][-1] == ("k999", "not a number", None)
    assert parsed[0][0][1] == dt.datetime(2024, 1, 2, 3, 4, 5)  # SQLAlchemy parsed it
    engine.dispose()


def test_column_by_column_frames_have_the_row_by_row_types(tmp_path: Path) -> None:
    engine = _db(tmp_path / "s.db")
    t = sa.Table("t", sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        rows = [r for p in _parts(conn.execute(sa.select(t)), 1000) for r in p]
    keys = ["id", "n", "x", "at"]
    by_rows = pl.DataFrame([tuple(r) for r in rows], schema=keys, orient="row",
                           infer_schema_length=None, strict=False)
    by_cols = pl.DataFrame([pl.Series(k, c, strict=False)
                            for k, c in zip(keys, zip(*rows, strict=True), strict=True)])
    assert by_cols.schema == by_rows.schema and by_cols.equals(by_rows)
    assert by_cols.schema["n"] == pl.String  # the text in a later row decides
    engine.dispose()


def _source(tmp_path: Path, batch_size: int) -> Any:
    from ingest.contract import SourceContext
    from ingest.registry import build_source, load_validated
    from tests.conftest import write_config

    (tmp_path / "src").mkdir()
    _db(tmp_path / "src" / "s.db").dispose()
    spec = {"id": "topics", "plugin": "sql", "table": "consultations",
            "url": "sqlite:///src/s.db", "source_table": "t", "cursor": "id",
            "batch_size": batch_size}
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", [spec])
    ctx = SourceContext(progress=lambda w, n: None, warn=print, warehouse_url=None,
                        no_input=print)
    return build_source(load_validated(cfg).sources[0], ctx)


def test_chunks_read_ahead_come_in_order_numbered_with_their_cursors(tmp_path: Path) -> None:
    batches = list(_source(tmp_path, 100).extract(None))
    assert [b.frame.height for b in batches] == [100, 100, 51]
    rows = pl.concat([b.frame for b in batches], how="diagonal_relaxed")
    assert rows["_row"].to_list() == list(range(1, 252))
    assert rows["id"].to_list() == sorted(rows["id"].to_list())
    assert [b.cursor["last"]["value"] for b in batches] == ["k099", "k199", "k999"]


def test_a_database_error_mid_read_is_the_source_error_after_the_chunks_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.errors import TransientSourceError
    from ingest.plugins import sql

    real = sql._parts

    def failing(result: Any, size: int) -> Any:
        parts = real(result, size)
        yield next(parts)
        raise sa.exc.OperationalError("SELECT", {}, sqlite3.OperationalError("disk I/O error"))

    monkeypatch.setattr(sql, "_parts", failing)
    got = []
    with pytest.raises(TransientSourceError, match="disk I/O error"):
        for b in _source(tmp_path, 100).extract(None):
            got.append(b.frame.height)
    assert got == [100]


def test_a_read_stopped_early_ends_its_thread(tmp_path: Path) -> None:
    import threading

    batches = _source(tmp_path, 10).extract(None)
    assert next(batches).frame.height == 10
    batches.close()
    assert not [t for t in threading.enumerate() if t.name == "gongzhi-read-ahead"]
