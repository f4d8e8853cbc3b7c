"""The drill-through's time-column indexes: a fresh warehouse has them (declared on the
tables), an older one gets them from migration 9 exactly once, on either engine; on SQLite
the first page of a month is then read through the index (no table scan)."""

from __future__ import annotations

from sqlalchemy import Engine, delete, insert, inspect, select, text

from warehouse import drill_indexes, schema
from warehouse.engine import MIGRATIONS, SCHEMA_VERSION, migrate, utcnow, write_transaction


def _have(engine: Engine) -> dict[str, tuple[str, list[str]]]:
    insp = inspect(engine)
    return {ix["name"]: (t, ix["column_names"]) for t in ("service_cases", "grid_events")
            for ix in insp.get_indexes(t)}


def test_a_fresh_warehouse_has_the_indexes(engine: Engine) -> None:
    have = _have(engine)
    for name, table, col in drill_indexes.DRILL_INDEXES:
        assert have[name] == (table, [col])
    assert drill_indexes.ensure(engine) == []  # nothing left to make


def test_migration_9_adds_them_to_an_older_warehouse_once(engine: Engine) -> None:
    assert 9 in dict(MIGRATIONS) and SCHEMA_VERSION >= 9
    names = [n for n, _, _ in drill_indexes.DRILL_INDEXES]
    assert drill_indexes.drop(engine) == names
    assert not set(names) & set(_have(engine))
    with write_transaction(engine) as c:  # the warehouse as version 6 left it
        c.execute(delete(schema.schema_version))
        c.execute(insert(schema.schema_version).values(version=6, applied_at=utcnow()))
    assert migrate(engine) == SCHEMA_VERSION
    have = _have(engine)
    for name, table, col in drill_indexes.DRILL_INDEXES:
        assert have[name] == (table, [col])
    with engine.connect() as c:
        versions = c.execute(select(schema.schema_version.c.version)).scalars().all()
    assert sorted(versions) == [6, *(v for v, _ in MIGRATIONS if v > 6)]
    assert migrate(engine) == SCHEMA_VERSION  # a second run changes nothing
    with engine.connect() as c:
        assert c.execute(select(schema.schema_version.c.version)).scalars().all() == versions
    with write_transaction(engine) as c:  # an index already there is left alone
        c.execute(delete(schema.schema_version))
        c.execute(insert(schema.schema_version).values(version=6, applied_at=utcnow()))
    assert migrate(engine) == SCHEMA_VERSION and _have(engine) == have


def test_the_first_page_reads_the_index_on_sqlite(sqlite_url: str) -> None:
    """(PostgreSQL's plan depends on its statistics: ``make bench-drill --postgres``.)"""
    from warehouse.engine import open_warehouse

    with open_warehouse(sqlite_url).connect() as conn:
        plan = " ".join(str(r[3]) for r in conn.execute(text(
            "EXPLAIN QUERY PLAN SELECT case_id FROM service_cases WHERE submitted_at >= "
            "'2025-11-30 16:00:00' AND submitted_at < '2025-12-31 16:00:00' "
            "ORDER BY submitted_at DESC, case_id LIMIT 50")))
    assert "ix_service_cases_submitted_at" in plan, plan
