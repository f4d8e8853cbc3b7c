"""The sql plugin's fetch (ingest/plugins/sql.py ``_parts``): plain tuples straight from the
DBAPI cursor only where SQLAlchemy would convert nothing, and frames built column by column
with the types the row-by-row build gave (mixed values included)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import polars as pl
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
