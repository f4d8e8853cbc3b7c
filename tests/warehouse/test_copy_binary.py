"""PostgreSQL's binary COPY rows written from whole columns equal the format written value by
value (an independent encoder with struct, from the format's definition)."""

from __future__ import annotations

import datetime as dt
import random
import struct

import polars as pl
import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
)

from warehouse import copy_binary

T = Table(
    "t", MetaData(),
    Column("i8", BigInteger), Column("i4", Integer), Column("i2", SmallInteger),
    Column("b", Boolean), Column("f", Float), Column("ts", DateTime), Column("d", Date),
    Column("s", String), Column("s2", String),
)
EPOCH = dt.datetime(2000, 1, 1)
PACK = {"i8": ">q", "i4": ">i", "i2": ">h", "b": ">?", "f": ">d"}


def _field(name: str, value: object) -> bytes:
    if value is None:
        return struct.pack(">i", -1)
    if name in PACK:
        body = struct.pack(PACK[name], value)
    elif name == "ts":
        assert isinstance(value, dt.datetime)
        delta = value - EPOCH
        body = struct.pack(">q", (delta.days * 86_400 + delta.seconds) * 1_000_000
                           + delta.microseconds)
    elif name == "d":
        assert isinstance(value, dt.date)
        body = struct.pack(">i", (value - EPOCH.date()).days)
    else:
        body = str(value).encode("utf-8")
    return struct.pack(">i", len(body)) + body


def _expected(frame: pl.DataFrame) -> bytes:
    out = b""
    for row in frame.iter_rows(named=True):
        out += struct.pack(">h", len(row)) + b"".join(_field(k, v) for k, v in row.items())
    return out


def _frame(rng: random.Random, n: int, null_share: float) -> pl.DataFrame:
    def maybe(v: object) -> object:
        return None if rng.random() < null_share else v

    return pl.DataFrame({
        "i8": [maybe(rng.randint(-2**62, 2**62)) for _ in range(n)],
        "i4": [maybe(rng.randint(-2**31, 2**31 - 1)) for _ in range(n)],
        "i2": [maybe(rng.randint(-2**15, 2**15 - 1)) for _ in range(n)],
        "b": [maybe(rng.random() < 0.5) for _ in range(n)],
        "f": [maybe(rng.uniform(-1e9, 1e9)) for _ in range(n)],
        "ts": [maybe(dt.datetime(1990, 1, 1) + dt.timedelta(seconds=rng.randint(0, 10**9),
                                                            microseconds=rng.randint(0, 999_999)))
               for _ in range(n)],
        "d": [maybe(dt.date(1970, 1, 1) + dt.timedelta(days=rng.randint(0, 40_000)))
              for _ in range(n)],
        "s": [maybe("".join(rng.choice("ab中文 ,\"\n") for _ in range(rng.randint(0, 6))))
              for _ in range(n)],
        "s2": [maybe(str(rng.randint(0, 10**6))) for _ in range(n)],
    }, schema={"i8": pl.Int64, "i4": pl.Int32, "i2": pl.Int16, "b": pl.Boolean,
               "f": pl.Float64, "ts": pl.Datetime("us"), "d": pl.Date, "s": pl.String,
               "s2": pl.String})


@pytest.mark.parametrize("null_share", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("seed", range(5))
def test_encoded_rows_equal_the_format_value_by_value(seed: int, null_share: float) -> None:
    rng = random.Random(seed)
    frame = _frame(rng, rng.randint(1, 40), null_share)
    how = copy_binary.layout(T, frame.columns)
    assert how is not None
    assert bytes(copy_binary.encode(frame, how)) == _expected(frame)


def test_columns_with_and_without_nulls_side_by_side() -> None:
    """Blocks of fixed-width fields broken by NULL-able ones and texts, in every order."""
    frame = pl.DataFrame({
        "s": ["x", None, ""], "i4": [1, 2, 3], "f": [None, 1.5, None],
        "i8": [None, None, None], "s2": [None, None, None], "b": [True, False, None],
    }, schema={"s": pl.String, "i4": pl.Int32, "f": pl.Float64, "i8": pl.Int64,
               "s2": pl.String, "b": pl.Boolean})
    table = Table("u", MetaData(), Column("s", String), Column("i4", Integer),
                  Column("f", Float), Column("i8", BigInteger), Column("s2", String),
                  Column("b", Boolean))
    how = copy_binary.layout(table, frame.columns)
    assert how is not None and len(how) == frame.width
    assert bytes(copy_binary.encode(frame, how)) == _expected(frame)
    assert copy_binary.encode(frame.clear(), how) == b""


def test_a_value_out_of_the_columns_range_is_refused() -> None:
    how = copy_binary.layout(T, ["i2", "i4"])
    assert how is not None
    with pytest.raises(ValueError, match="i2: 40000 is out of range for a 16-bit"):
        copy_binary.encode(pl.DataFrame({"i2": [1, None, 40_000], "i4": [1, 2, 3]}), how)
    with pytest.raises(ValueError, match="i4: -2147483649 is out of range for a 32-bit"):
        copy_binary.encode(pl.DataFrame({"i2": [1, 2, 3], "i4": [0, -2**31 - 1, 5]}),
                           how)


def test_frames_of_other_polars_types_are_written_as_their_columns_ask() -> None:
    """A wider or other polars type than the column's (Int64 for an integer column, a
    millisecond datetime, a column of NULLs only) is written at the column's width."""
    frame = pl.DataFrame({
        "i2": [7, None], "i4": [None, None], "ts": [dt.datetime(2024, 2, 29, 23, 59, 59), None],
        "d": [None, dt.date(1999, 12, 31)], "s": [None, "甲"], "f": [1, 2],
    }, schema={"i2": pl.Int64, "i4": pl.Null, "ts": pl.Datetime("ms"), "d": pl.Date,
               "s": pl.Categorical, "f": pl.Int32})
    how = copy_binary.layout(T, frame.columns)
    assert how is not None
    expected = _expected(frame.with_columns(pl.col("f").cast(pl.Float64),
                                            pl.col("s").cast(pl.String)))
    assert bytes(copy_binary.encode(frame, how)) == expected


def test_a_table_with_a_column_it_cannot_write_is_left_to_csv() -> None:
    from sqlalchemy import Numeric
    table = Table("n", MetaData(), Column("i4", Integer), Column("n", Numeric(10, 2)))
    assert copy_binary.layout(table, ["i4", "n"]) is None
    tz = Table("z", MetaData(), Column("ts", DateTime(timezone=True)))
    assert copy_binary.layout(tz, ["ts"]) is None
