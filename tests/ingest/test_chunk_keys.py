"""Whether a run's chunks share keys (ingest/chunk_keys.py): a chunk out of order that
repeats nothing keeps the run on the straight path to new months (a database read by its
last-modified column; a file with a row exported twice a few rows apart), a real repeat is
found, and past the hash limit a chunk out of order counts as a repeat."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ingest.chunk_keys import RECENT_CHUNKS, ChunkKeys, hashes_for
from ingest.runner import Runner
from tests.warehouse.test_direct_months import no_second_copy
from tests.warehouse.test_month_load import leftovers
from tests.warehouse.test_partitions import (
    HEADER,
    case_rows,
    expected_cases,
    per_partition,
    setup_sources,
    stored_cases,
    utc_month_counts,
)
from warehouse import month_load, partitions
from warehouse.engine import open_warehouse


def keys(*values: str) -> pl.DataFrame:
    return pl.DataFrame({"k": list(values)})


def test_chunks_out_of_order_repeat_only_when_a_key_comes_again() -> None:
    ck = ChunkKeys(["k"])
    assert not ck.add(keys("b", "a", "c"))  # out of order inside: no earlier chunk
    assert not ck.add(keys("e", "d"))  # above every earlier key
    assert not ck.add(keys("a1", "f"))  # among earlier keys, none of them
    assert ck.add(keys("x", "a"))  # "a" came before


def test_many_unordered_chunks_are_told_as_an_exact_set_tells_them() -> None:
    """Chunks of random keys, some coming again chunks later: every answer is the exact one
    (the kept hashes stay sorted through the merges of their arrays)."""
    import random

    rng = random.Random(5)
    ck = ChunkKeys(["k"])
    seen: set[str] = set()
    answers = []
    added = 0
    for _ in range(300):
        chunk = {f"k{rng.randrange(10**9)}" for _ in range(rng.randrange(1, 60))}
        if seen and rng.random() < 0.2:
            chunk.add(rng.choice(sorted(seen)))
        answers.append(ck.add(keys(*chunk)))
        added += len(chunk)
        assert answers[-1] == bool(chunk & seen)
        seen |= chunk
    assert ck.hashed == added and 20 < sum(answers) < 280  # a repeat's hash is kept again
    sizes = [len(level) for level in ck._levels or []]
    assert sum(sizes) == added and len(sizes) < 15  # merged, not one array a chunk
    assert all((level[1:] >= level[:-1]).all() for level in ck._levels or [])


def test_multi_column_keys_are_told_by_their_hashes() -> None:
    ck = ChunkKeys(["a", "b"])
    assert not ck.add(pl.DataFrame({"a": [1, 1], "b": ["x", "y"]}))
    assert not ck.add(pl.DataFrame({"a": [2, 0], "b": ["x", "y"]}))
    assert ck.add(pl.DataFrame({"a": [3, 1], "b": ["z", "y"]}))


def test_without_hashes_or_past_the_limit_a_chunk_out_of_order_is_a_repeat() -> None:
    ranges = ChunkKeys(["k"], max_hashes=0)
    assert not ranges.add(keys("b", "a"))
    assert not ranges.add(keys("d", "c"))
    assert ranges.add(keys("c1"))
    full = ChunkKeys(["k"], max_hashes=3)
    assert not full.add(keys("b", "a"))
    assert not full.add(keys("a1"))  # checked by hash: 3 keys kept
    assert not full.add(keys("c"))  # above: no hash needed (the 4th goes past the limit)
    assert full.add(keys("b1"))  # out of order, no hashes any more


def test_a_sorted_export_keeps_only_its_recent_hashes() -> None:
    ck = ChunkKeys(["k"])
    for i in range(RECENT_CHUNKS + 2):
        assert not ck.add(keys(f"k{i:03d}a", f"k{i:03d}b"))
    assert ck.hashed == 0 and len(ck.recent) == RECENT_CHUNKS
    # out of order, above the forgotten chunks: told by the recent hashes
    assert not ck.add(keys(f"k{RECENT_CHUNKS + 1:03d}a0"))
    assert ck.add(keys(f"k{RECENT_CHUNKS + 1:03d}b"))  # a real repeat, of a recent chunk
    assert ck.add(keys("k000c"))  # among chunks whose hashes went: taken as a repeat
    mixed = ChunkKeys(["k"])
    assert not mixed.add(keys("b"))
    assert not mixed.add(keys("a"))  # out of order early: every hash kept from now on
    for i in range(RECENT_CHUNKS + 2):
        assert not mixed.add(keys(f"c{i:03d}"))
    assert not mixed.add(keys("a0")) and mixed.add(keys("c001"))


def _line(k: str, r: dict[str, Any]) -> str:
    return ",".join([k] + ["" if r[c] is None else r[c].strftime("%Y-%m-%d %H:%M")
                           if isinstance(r[c], dt.datetime) else str(r[c])
                           for c in HEADER.split(",")[1:]])


@pytest.mark.postgres
def test_keys_out_of_order_that_never_repeat_go_straight_to_new_months(
        tmp_path: Path, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 7 rows in no key order, and a row exported twice three rows apart (as the
    demo's cases file has it): no month is loaded a second time from the scratch table, and
    the stored rows are the same."""
    settings = setup_sources(tmp_path, pg_schema_url)
    settings.ingest.chunk_rows = 7
    engine = open_warehouse(settings.warehouse_url)
    monkeypatch.setattr(month_load, "load", no_second_copy)
    try:
        rows = case_rows(range(60), [3, 4, 5], seed=17)
        order = sorted(rows, key=lambda k: (int(k[1:]) * 37) % 60)  # every key once, shuffled
        body = [_line(k, rows[k]) for k in order]
        body.insert(4, body[1])  # exported twice, inside one chunk
        (tmp_path / "inbox" / "a.csv").write_text("\n".join([HEADER, *body]) + "\n",
                                                  encoding="utf-8")
        res = Runner(settings, engine, observers=[]).run()
        assert all(r.ok for r in res), [r.error for r in res]
        r = res[-1]
        assert (r.read, r.loaded, r.duplicates, r.inserted) == (61, 60, 1, 60), r
        assert stored_cases(engine) == expected_cases(rows)
        assert {k: v for k, v in per_partition(engine, "service_cases").items() if v} == (
            utc_month_counts(rows))
        assert leftovers(engine) == set()
    finally:
        partitions.wait_for_stats()
        engine.dispose()


def test_the_memory_setting_is_eight_bytes_a_key() -> None:
    assert hashes_for(320) == 40_000_000 == ChunkKeys(["k"]).max_hashes
    assert hashes_for(0) == 0 and hashes_for(1) == 125_000
