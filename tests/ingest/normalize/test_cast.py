"""Casting a batch against a table contract: the column-parallel path used for large batches
gives exactly the sequential result, quarantine order included."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ingest.normalize import cast
from warehouse.schema import service_cases

KNOWN = {"community": pl.Series(["420606001001", "420606001002"], dtype=pl.String)}


def batch(n: int) -> pl.DataFrame:
    """``n`` service cases; every 7th has a bad date, every 11th an unknown community and
    every 13th an unreadable visit count (some rows fail in two columns)."""
    return pl.DataFrame({
        "case_id": [f"C{i:06d}" for i in range(n)],
        "item_code": ["I1"] * n,
        "community_code": ["420606009999" if i % 11 == 0 else "420606001001" for i in range(n)],
        "channel": ["online" if i % 2 else "窗口" for i in range(n)],
        "submitted_at": ["2024-02-30 09:00:00" if i % 7 == 0 else "2024年2月3日"
                         for i in range(n)],
        "completed_at": [None] * n,
        "status": ["completed"] * n,
        "visits": ["两次" if i % 13 == 0 else str(i % 3) for i in range(n)],
        "rating": [None] * n,
        "rectified": [None] * n,
    }, schema={c: pl.String for c in ["case_id", "item_code", "community_code", "channel",
                                      "submitted_at", "completed_at", "status", "visits",
                                      "rating", "rectified"]})


def run(frame: pl.DataFrame) -> cast.Prepared:
    return cast.cast_batch(frame, service_cases, columns={}, defaults={}, known_codes=KNOWN,
                           location="cases.csv", key_getter=lambda: b"k")


def test_column_parallel_cast_equals_the_sequential_one(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    frame = batch(1_000)
    monkeypatch.setattr(cast, "PARALLEL_ROWS", 10**9)
    sequential = run(frame)
    monkeypatch.setattr(cast, "PARALLEL_ROWS", 1)
    parallel = run(frame)
    assert_frame_equal(parallel.good, sequential.good)
    assert_frame_equal(parallel.bad, sequential.bad)
    bad = sequential.bad
    # rows failing in two columns name the first failing column of the table's order
    assert bad.filter(pl.col("row_number") == 1)["column_name"].item() == "community_code"
    assert set(bad["reason"]) == {"bad_date", "bad_number", "unknown_community"}
    rows_bad = {i for i in range(1_000) if i % 7 == 0 or i % 11 == 0 or i % 13 == 0}
    assert bad.height == len(rows_bad)
    assert sequential.good.height + bad.height == sequential.read == 1_000
