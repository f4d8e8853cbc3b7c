"""A fact table's own id sorts bytewise on PostgreSQL (``COLLATE "C"``,
warehouse/columns.py ``bytewise``): new warehouses get it with their tables, migration 12
gives it to older ones (every partition, rows and keys kept), the month tables a first load
builds match their parent (they attach), and SQLite's tables are made as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ingest.runner import Runner
from tests.warehouse.test_partitions import (
    case_rows,
    expected_cases,
    setup_sources,
    stored_cases,
    write_cases,
)
from warehouse import schema
from warehouse.columns import fact_ids
from warehouse.engine import SCHEMA_VERSION, migrate, open_warehouse, write_transaction

IDS = {(t.name, c.name) for t in schema.data_tables().values() for c in fact_ids(t)}


def collations(engine: Any) -> dict[tuple[str, str], str | None]:
    """Each id column's collation in every table of the warehouse (partitions included)."""
    with engine.connect() as c:
        rows = c.execute(text(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns "
            "WHERE table_schema = current_schema()")).all()
    return {(t, col): coll for t, col, coll in rows
            if any((t == base or t.startswith(f"{base}_p")) and col == id_col
                   for base, id_col in IDS)}


def as_version_11(engine: Any) -> None:
    """The warehouse as schema version 11 left it: ids in the database's collation."""
    with write_transaction(engine) as c:
        for table, col in sorted(IDS):
            c.exec_driver_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{col}" '
                              'TYPE VARCHAR(64) COLLATE "default"')
        c.execute(text("DELETE FROM schema_version WHERE version > 11"))


def test_the_ids_are_the_fact_tables_own_record_ids() -> None:
    assert ("service_cases", "case_id") in IDS and ("grid_events", "event_id") in IDS
    # codes that other tables' columns are compared with keep the database's collation
    assert not {(t, c) for t, c in IDS if c.endswith("_code") or c == "period"}
    assert all(schema.metadata.tables[t].info["kind"] == schema.FACT for t, _ in IDS)


def test_sqlite_tables_are_made_without_a_collation(tmp_path: Path) -> None:
    engine = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        with engine.connect() as c:
            ddl = c.execute(text("SELECT sql FROM sqlite_master WHERE name = 'service_cases'")
                            ).scalar_one()
        assert "COLLATE" not in ddl.upper() and "case_id" in ddl
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_new_postgresql_warehouse_has_bytewise_ids(pg_schema_url: str) -> None:
    engine = open_warehouse(pg_schema_url)
    try:
        got = collations(engine)
        assert set(got) >= IDS  # the parents (and their DEFAULT partitions)
        assert set(got.values()) == {"C"}, got
        with engine.connect() as c:  # a code column keeps the database's collation
            other = c.execute(text(
                "SELECT collation_name FROM information_schema.columns WHERE table_schema = "
                "current_schema() AND table_name = 'service_cases' AND "
                "column_name = 'community_code'")).scalar_one()
        assert other is None
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("partition", ["month", "none"])
def test_migration_12_makes_stored_ids_bytewise_and_new_months_attach(
        tmp_path: Path, pg_schema_url: str, partition: str) -> None:
    settings = setup_sources(tmp_path, pg_schema_url)
    engine = open_warehouse(settings.warehouse_url, partition=partition)
    try:
        first = case_rows(range(80), [1, 2], seed=71)
        write_cases(tmp_path / "inbox" / "a.csv", first)
        assert all(r.ok for r in Runner(settings, engine, observers=[]).run())
        as_version_11(engine)
        assert set(collations(engine).values()) == {None}
        assert migrate(engine) == SCHEMA_VERSION == 12
        got = collations(engine)
        assert set(got.values()) == {"C"}, got
        if partition == "month":  # the partitions holding rows were changed with the parent
            assert {("service_cases_p202401", "case_id"),
                    ("service_cases_p202402", "case_id")} <= set(got)
        assert stored_cases(engine) == expected_cases(first)
        with engine.connect() as c:  # the primary key was built again and still holds
            pk = c.execute(text(
                "SELECT count(*) FROM pg_index WHERE indrelid = to_regclass('service_cases') "
                "AND indisprimary")).scalar_one()
        assert pk == 1
        with pytest.raises(Exception, match="duplicate key"), write_transaction(engine) as c:
            c.execute(text(
                "INSERT INTO service_cases (case_id, item_code, community_code, channel, "
                "submitted_at, status, _run_id, _ingested_at, _source) SELECT case_id, "
                "item_code, community_code, channel, submitted_at, status, 1, now(), 'x' "
                "FROM service_cases LIMIT 1"))

        # new months (straight into tables of their own, attached) and changed stored rows
        changed = {k: {**first[k], "visits": first[k]["visits"] + 1} for k in list(first)[:5]}
        more = {**case_rows(range(80, 120), [6, 7], seed=72), **changed}
        write_cases(tmp_path / "inbox" / "b.csv", more)
        res = Runner(settings, engine, observers=[]).run()
        assert all(r.ok for r in res), [r.error for r in res]
        assert (res[-1].inserted, res[-1].updated) == (40, 5)
        assert stored_cases(engine) == expected_cases({**first, **more})
        assert set(collations(engine).values()) == {"C"}
        assert migrate(engine) == 12  # nothing more to do
    finally:
        engine.dispose()
