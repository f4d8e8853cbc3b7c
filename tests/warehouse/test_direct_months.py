"""Rows of months new to a partitioned table copied straight into their month's table
(warehouse/direct_months.py): the stored rows, partitions, names and lineage equal what the
ordinary merge gives, a run failing after the attach leaves nothing behind, and keys
repeated across chunks are merged the ordinary way (the latest occurrence wins)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from ingest.runner import Runner
from tests.warehouse.test_month_load import attached_indexes, leftovers
from tests.warehouse.test_partitions import (
    HEADER,
    case_rows,
    expected_cases,
    per_partition,
    setup_sources,
    stored_cases,
    utc_month_counts,
    write_cases,
)
from warehouse import direct_months, month_load, partitions, runlog, schema
from warehouse.engine import open_warehouse


def no_second_copy(*a: Any, **k: Any) -> int:
    raise AssertionError("rows of a new month were copied into it a second time")


def relation_names(engine: Any, part: str) -> set[str]:
    """The names of ``part``'s constraints and indexes, read from the catalog."""
    with engine.connect() as c:
        cons = c.execute(text("SELECT conname FROM pg_constraint WHERE conrelid = "
                              "to_regclass(:t)"), {"t": part}).scalars()
        idx = c.execute(text("SELECT ci.relname FROM pg_index x JOIN pg_class ci ON "
                             "ci.oid = x.indexrelid WHERE x.indrelid = to_regclass(:t)"),
                        {"t": part}).scalars()
        return set(cons) | set(idx)


@pytest.mark.postgres
def test_new_months_are_copied_straight_and_named_as_partitions(
        tmp_path: Path, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = setup_sources(tmp_path, pg_schema_url)
    engine = open_warehouse(settings.warehouse_url)
    monkeypatch.setattr(month_load, "load", no_second_copy)
    try:
        first = case_rows(range(120), [1, 2, 3], seed=61)
        write_cases(tmp_path / "inbox" / "a.csv", first)
        res = Runner(settings, engine, observers=[]).run()
        assert all(r.ok for r in res), [r.error for r in res]
        r = res[-1]
        assert (r.read, r.loaded, r.inserted, r.updated) == (120, 120, 120, 0), r
        assert stored_cases(engine) == expected_cases(first)
        want = utc_month_counts(first)
        counts = per_partition(engine, "service_cases")
        assert {k: v for k, v in counts.items() if v} == want
        table = schema.service_cases
        for part in want:
            assert attached_indexes(engine, part) == {
                "service_cases_pkey", "ix_service_cases_submitted_at",
                "ix_service_cases_completed_at"}, part
            assert relation_names(engine, part) == set(month_load.names(table, part)), part
        with engine.connect() as c:  # no column dropped at the attach: no dead bytes per row
            dropped = c.execute(text(
                "SELECT attrelid::regclass::text FROM pg_attribute WHERE attisdropped AND "
                "attrelid = ANY(CAST(:parts AS regclass[]))"), {"parts": list(want)}).all()
        assert dropped == []
        t = schema.service_cases.c
        with engine.connect() as c:
            lineage = set(c.execute(select(t._run_id, t._source, t._ingested_at)).all())
            hashes = c.execute(select(t._hash).where(t._hash.is_(None))).all()
        assert len(lineage) == 1 and next(iter(lineage))[:2] == (r.run_id, "cases")
        assert hashes == []
        assert leftovers(engine) == set()

        # the next run: a new month (straight in), new rows of a stored month and changed
        # rows of stored keys (merged)
        changed = {k: {**first[k], "visits": first[k]["visits"] + 1} for k in list(first)[:3]}
        more = {**case_rows(range(120, 150), [5], seed=62),
                **case_rows(range(150, 160), [2], seed=63), **changed}
        write_cases(tmp_path / "inbox" / "b.csv", more)
        (r,) = Runner(settings, engine, observers=[]).run(["cases"])
        assert r.ok and (r.read, r.inserted, r.updated) == (43, 40, 3), r
        assert stored_cases(engine) == expected_cases({**first, **more})
        assert per_partition(engine, "service_cases")["service_cases_p202405"] == 30
        with engine.connect() as c:
            runs = dict(c.execute(select(t.case_id, t._run_id)).all())
        assert {k for k, v in runs.items() if v == r.run_id} == set(more)
        assert leftovers(engine) == set()
    finally:
        partitions.wait_for_stats()
        engine.dispose()


@pytest.mark.postgres
def test_a_run_failing_after_its_new_months_are_attached_leaves_nothing(
        tmp_path: Path, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = setup_sources(tmp_path, pg_schema_url)
    engine = open_warehouse(settings.warehouse_url)
    try:
        res = Runner(settings, engine, observers=[]).run(["divs", "items"])
        assert all(r.ok for r in res), [r.error for r in res]
        rows = case_rows(range(60), [4, 6], seed=71)
        write_cases(tmp_path / "inbox" / "a.csv", rows)
        real = direct_months.attach
        seen: list[int] = []

        def attach_then_fail(*a: Any, **k: Any) -> int:
            seen.append(real(*a, **k))
            raise RuntimeError("disk full, say, right after the attach")

        monkeypatch.setattr(direct_months, "attach", attach_then_fail)
        (r,) = Runner(settings, engine, observers=[]).run(["cases"])
        assert r.status == runlog.FAILED and "disk full" in (r.error or ""), r
        assert seen == [60]  # the months were attached, then the transaction went
        assert stored_cases(engine) == {}
        assert per_partition(engine, "service_cases") == {"service_cases_pdefault": 0}
        assert runlog.get_cursor(engine, "cases") is None
        assert leftovers(engine) == set()

        monkeypatch.undo()  # the next run loads it all
        (r,) = Runner(settings, engine, observers=[]).run(["cases"])
        assert r.ok and r.inserted == 60, r
        assert stored_cases(engine) == expected_cases(rows)
        assert {k: v for k, v in per_partition(engine, "service_cases").items() if v} == (
            utc_month_counts(rows))
    finally:
        partitions.wait_for_stats()
        engine.dispose()


@pytest.mark.postgres
def test_keys_repeated_across_chunks_are_merged_the_ordinary_way(
        tmp_path: Path, pg_schema_url: str) -> None:
    """Chunks of 7 rows, keys out of order and 10 of them sent twice with another
    community: one row per key, the later one, and the repeats counted as duplicates."""
    settings = setup_sources(tmp_path, pg_schema_url)
    settings.ingest.chunk_rows = 7
    engine = open_warehouse(settings.warehouse_url)
    try:
        rows = case_rows(range(50), [7, 8], seed=81)
        again = {k: {**rows[k], "community_code": "420606002001"
                     if rows[k]["community_code"] != "420606002001" else "420606001001"}
                 for k in list(rows)[5:15]}
        order = list(reversed(list(rows)))

        def line(k: str, r: dict[str, Any]) -> str:
            return ",".join([k] + ["" if r[c] is None else r[c].strftime("%Y-%m-%d %H:%M")
                                   if isinstance(r[c], dt.datetime) else str(r[c])
                                   for c in HEADER.split(",")[1:]])

        body = [line(k, rows[k]) for k in order] + [line(k, r) for k, r in again.items()]
        (tmp_path / "inbox" / "a.csv").write_text("\n".join([HEADER, *body]) + "\n",
                                                  encoding="utf-8")
        res = Runner(settings, engine, observers=[]).run()
        assert all(r.ok for r in res), [r.error for r in res]
        r = res[-1]
        assert (r.read, r.loaded, r.duplicates, r.inserted) == (60, 50, 10, 50), r
        assert stored_cases(engine) == expected_cases({**rows, **again})
        assert {k: v for k, v in per_partition(engine, "service_cases").items() if v} == (
            utc_month_counts(rows))
        assert leftovers(engine) == set()
    finally:
        partitions.wait_for_stats()
        engine.dispose()


@pytest.mark.postgres
def test_a_month_indexed_early_takes_later_rows_and_later_repeats_are_merged(
        tmp_path: Path, pg_schema_url: str) -> None:
    """Chunks of 10 rows in key order: July's table is indexed once a chunk brings only
    August, then takes 10 more July rows; in the next file a key repeats after September's
    and October's rows went straight (so they are merged the ordinary way)."""
    settings = setup_sources(tmp_path, pg_schema_url)
    settings.ingest.chunk_rows = 10
    engine = open_warehouse(settings.warehouse_url)
    try:
        a = {**case_rows(range(0, 30), [7], seed=91), **case_rows(range(30, 50), [8], seed=92),
             **case_rows(range(50, 60), [7], seed=93)}
        write_cases(tmp_path / "inbox" / "a.csv", a)
        res = Runner(settings, engine, observers=[]).run()
        assert all(r.ok for r in res), [r.error for r in res]
        assert (res[-1].inserted, res[-1].duplicates) == (60, 0), res[-1]
        assert stored_cases(engine) == expected_cases(a)
        assert {k: v for k, v in per_partition(engine, "service_cases").items() if v} == (
            utc_month_counts(a))

        b = {**case_rows(range(100, 120), [9], seed=94),
             **case_rows(range(120, 130), [10], seed=95)}
        again = {**b["C0105"], "community_code": "420606002001"
                 if b["C0105"]["community_code"] != "420606002001" else "420606001001"}
        write_cases(tmp_path / "inbox" / "b.csv", b)
        with (tmp_path / "inbox" / "b.csv").open("a", encoding="utf-8") as f:
            f.write(",".join(["C0105"] + ["" if again[c] is None else again[c].strftime(
                "%Y-%m-%d %H:%M") if isinstance(again[c], dt.datetime) else str(again[c])
                for c in HEADER.split(",")[1:]]) + "\n")
        (r,) = Runner(settings, engine, observers=[]).run(["cases"])
        assert r.ok and (r.read, r.inserted, r.duplicates) == (31, 30, 1), r
        assert stored_cases(engine) == expected_cases({**a, **b, "C0105": again})
        assert {k: v for k, v in per_partition(engine, "service_cases").items() if v} == (
            utc_month_counts({**a, **b}))
        assert leftovers(engine) == set()
    finally:
        partitions.wait_for_stats()
        engine.dispose()


@pytest.mark.postgres
def test_in_a_chunk_in_time_order_every_month_but_the_last_is_indexed_at_once(
        tmp_path: Path, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An export sorted by time, chunks of 10: the chunk that brings July's last rows and
    August's first has July indexed at once (not one chunk later), and the rows load as
    ever; a chunk out of time order waits for a chunk without the month."""
    settings = setup_sources(tmp_path, pg_schema_url)
    settings.ingest.chunk_rows = 10
    engine = open_warehouse(settings.warehouse_url)
    seen: list[set[dt.date]] = []  # months indexed (or being) after each chunk
    route = direct_months.Router.route

    def spy(self: Any, *a: Any, **k: Any) -> Any:
        out = route(self, *a, **k)
        if self.plan is not None:
            seen.append(set(self.plan.indexed))
        return out

    monkeypatch.setattr(direct_months.Router, "route", spy)
    try:
        drawn = case_rows(range(30), [7, 8], seed=97)
        ordered = sorted(drawn.values(), key=lambda r: r["submitted_at"])
        rows = {f"C{i:04d}": r for i, r in enumerate(ordered)}
        july = sum(r["submitted_at"].month == 7 for r in ordered)
        assert 10 < july < 20  # July ends inside the second chunk
        write_cases(tmp_path / "inbox" / "a.csv", rows)
        res = Runner(settings, engine, observers=[]).run()
        assert all(r.ok for r in res), [r.error for r in res]
        assert stored_cases(engine) == expected_cases(rows)
        assert seen[:2] == [set(), {dt.date(2024, 7, 1)}]

        seen.clear()  # a chunk not in time order (both months in one): none is done early
        settings.ingest.chunk_rows = 20
        late = {f"C{i + 100:04d}": r for i, r in enumerate(
            sorted(case_rows(range(20), [9, 10], seed=98).values(),
                   key=lambda r: r["submitted_at"], reverse=True))}
        write_cases(tmp_path / "inbox" / "b.csv", late)
        (r,) = Runner(settings, engine, observers=[]).run(["cases"])
        assert r.ok and r.inserted == 20, r
        assert seen[0] == set()
        assert stored_cases(engine) == expected_cases({**rows, **late})
        assert leftovers(engine) == set()
    finally:
        partitions.wait_for_stats()
        engine.dispose()
