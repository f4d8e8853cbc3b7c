"""Warehouse set-up: every table on both engines, migrations, WAL, the data version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect, select, text

from warehouse import schema
from warehouse.engine import (
    MIGRATIONS,
    SCHEMA_VERSION,
    bump_data_version,
    data_version,
    migrate,
    open_warehouse,
    write_transaction,
)

DESIGN_TABLES = {
    "divisions", "population", "service_items", "service_cases", "certificates", "grid_events",
    "grid_staff", "volunteers", "volunteer_services", "timebank_redemptions", "party_members",
    "party_deeds", "consultations", "stations", "property_fees", "ingest_runs", "ingest_state",
    "quarantine",
}
APP_TABLES = {"users", "audit_log", "run_requests"}


def test_every_design_table_exists_with_lineage(engine) -> None:
    from warehouse.engine import app_engine

    names = set(inspect(engine).get_table_names())
    assert names >= DESIGN_TABLES
    assert set(inspect(app_engine(engine)).get_table_names()) >= APP_TABLES
    for name, table in schema.data_tables().items():
        cols = {c["name"] for c in inspect(engine).get_columns(name)}
        assert {"_run_id", "_ingested_at", "_source", "_hash"} <= cols, name
        assert table.primary_key.columns, name
    assert "hotline_requests" in schema.data_tables()  # tables/ modules are registered too


def test_migrate_is_idempotent_and_versioned(engine) -> None:
    assert migrate(engine) == SCHEMA_VERSION
    assert migrate(engine) == SCHEMA_VERSION
    with engine.connect() as c:
        versions = c.execute(select(schema.schema_version.c.version)).scalars().all()
    assert versions == [SCHEMA_VERSION]


def test_data_version_moves_only_when_bumped(engine) -> None:
    assert data_version(engine) == 0
    with write_transaction(engine) as c:
        bump_data_version(c)
    with write_transaction(engine) as c:
        bump_data_version(c)
    assert data_version(engine) == 2


def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    eng = open_warehouse(sqlite_url)
    with eng.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_sqlite_wal_is_cut_back_after_a_big_run(sqlite_url: str, monkeypatch) -> None:
    """A run's one big transaction fills the WAL with every page it wrote; the file must not
    keep that size while the process (a scheduler, a dashboard) keeps its connections."""
    import warehouse.engine as we

    monkeypatch.setattr(we, "SQLITE_WAL_LIMIT_BYTES", 256 * 1024, raising=False)
    eng = open_warehouse(sqlite_url)
    wal = Path(f"{eng.url.database}-wal")
    with write_transaction(eng) as c:  # ~8 MB of pages in one transaction, as a merge does
        c.exec_driver_sql("CREATE TABLE big (x BLOB)")
        c.exec_driver_sql("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r "
                          "WHERE i < 2000) INSERT INTO big SELECT randomblob(4000) FROM r")
    assert wal.stat().st_size > 8_000_000  # the whole transaction went through the WAL
    with eng.connect() as c:  # the pages are in the database file now
        c.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    with write_transaction(eng) as c:  # the next small write starts the log again: cut back
        bump_data_version(c)
    assert wal.stat().st_size <= 256 * 1024
    with eng.connect() as c:  # the limit is on every connection of the pool
        assert c.exec_driver_sql("PRAGMA journal_size_limit").scalar() == 256 * 1024
        assert c.exec_driver_sql("SELECT count(*) FROM big").scalar() == 2000


def test_two_processes_creating_the_warehouse_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    code = "import sys; from warehouse.engine import open_warehouse; open_warehouse(sys.argv[1])"
    procs = [subprocess.Popen([sys.executable, "-c", code, url], cwd=Path(__file__).parents[2],
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    eng = open_warehouse(url)
    with eng.connect() as c:
        assert c.execute(select(schema.schema_version.c.version)).scalars().all() == [
            SCHEMA_VERSION]


def test_v6_warehouse_gets_longitude_and_latitude(engine) -> None:
    """Migration 8 adds the optional WGS84 position to grid events, stations and 12345
    requests, keeping their rows; the geometries table is created beside them."""
    from sqlalchemy import delete, insert

    from warehouse.engine import utcnow

    with write_transaction(engine) as c:
        for t in schema.LONLAT_TABLES:
            for col in ("longitude", "latitude"):
                c.execute(text(f"ALTER TABLE {t} DROP COLUMN {col}"))
        c.execute(text("DROP TABLE geometries"))
        c.execute(delete(schema.schema_version))
        c.execute(insert(schema.schema_version).values(version=6, applied_at=utcnow()))
        c.execute(text("INSERT INTO stations (station_id, community_code, name, tier, _run_id, "
                       "_ingested_at, _source) VALUES ('S1', '420606001001', 'x', 'basic', 1, "
                       "'2024-01-01 00:00:00', 'x')"))
    assert migrate(engine) == SCHEMA_VERSION
    insp = inspect(engine)
    for t in schema.LONLAT_TABLES:
        assert {"longitude", "latitude"} <= {c["name"] for c in insp.get_columns(t)}
    assert insp.has_table("geometries")
    with engine.connect() as c:
        assert c.execute(text("SELECT station_id, longitude FROM stations")).all() == [
            ("S1", None)]


def test_v1_warehouse_is_migrated_to_the_latest(engine) -> None:
    """A warehouse made at v1 gets the personal columns and the accounts, keeping its rows."""
    from sqlalchemy import delete, insert

    from warehouse.engine import utcnow

    with write_transaction(engine) as c:
        if engine.dialect.name != "sqlite":
            c.execute(text("DROP TABLE users"))
        for t in schema.PERSONAL_TABLES:
            for col in ("name_masked", "id_hash", "id_masked", "phone_masked"):
                c.execute(text(f"ALTER TABLE {t} DROP COLUMN {col}"))
        c.execute(delete(schema.schema_version))
        c.execute(insert(schema.schema_version).values(version=1, applied_at=utcnow()))
        c.execute(text("INSERT INTO volunteers (volunteer_id, community_code, registered_at, "
                       "is_party_member, _run_id, _ingested_at, _source) VALUES "
                       "('V1', '420606001001', '2024-01-01 00:00:00', false, 1, "
                       "'2024-01-01 00:00:00', 'x')"))
    assert "id_hash" not in {c["name"] for c in inspect(engine).get_columns("volunteers")}
    assert migrate(engine) == SCHEMA_VERSION
    cols = {c["name"] for c in inspect(engine).get_columns("volunteers")}
    assert {"name_masked", "id_hash", "id_masked", "phone_masked"} <= cols
    with engine.connect() as c:
        assert c.execute(text("SELECT volunteer_id FROM volunteers")).scalars().all() == ["V1"]
        assert c.execute(select(schema.schema_version.c.version).order_by(
            schema.schema_version.c.version)).scalars().all() == [
                1, *(v for v, _step in MIGRATIONS)]  # a number may be left for another change
    from warehouse.engine import app_engine

    with app_engine(engine).connect() as c:
        assert c.execute(text("SELECT count(*) FROM users")).scalar_one() == 0


def test_v6_warehouse_gets_a_content_hash_on_every_data_table(engine) -> None:
    """Migration 7 adds ``_hash`` (NULL on stored rows) to every data table the warehouse has;
    a data table added since (12345 hotline requests) is created afterwards, with it."""
    from sqlalchemy import delete, insert

    from warehouse.engine import utcnow

    with write_transaction(engine) as c:
        c.execute(text("DROP TABLE hotline_requests"))
        for name in schema.data_tables():
            if name != "hotline_requests":
                c.execute(text(f"ALTER TABLE {name} DROP COLUMN _hash"))
        c.execute(delete(schema.schema_version))
        c.execute(insert(schema.schema_version).values(version=6, applied_at=utcnow()))
        c.execute(text("INSERT INTO volunteers (volunteer_id, community_code, registered_at, "
                       "is_party_member, _run_id, _ingested_at, _source) VALUES "
                       "('V1', '420606001001', '2024-01-01 00:00:00', false, 1, "
                       "'2024-01-01 00:00:00', 'x')"))
    assert "_hash" not in {c["name"] for c in inspect(engine).get_columns("volunteers")}
    assert migrate(engine) == SCHEMA_VERSION
    insp = inspect(engine)
    for name in schema.data_tables():
        assert "_hash" in {c["name"] for c in insp.get_columns(name)}, name
    with engine.connect() as c:
        assert c.execute(text("SELECT volunteer_id, _hash FROM volunteers")).all() == [
            ("V1", None)]


def test_v9_warehouse_gets_building_heads_and_the_building_register(engine) -> None:
    """Migration 10 adds ``grid_staff.building_code`` (NULL on stored rows) and the building
    register is created beside it, the roster's rows kept."""
    from sqlalchemy import delete, insert

    from warehouse.engine import utcnow

    with write_transaction(engine) as c:
        c.execute(text("DROP TABLE buildings"))
        c.execute(text("ALTER TABLE grid_staff DROP COLUMN building_code"))
        c.execute(delete(schema.schema_version))
        c.execute(insert(schema.schema_version).values(version=9, applied_at=utcnow()))
        c.execute(text("INSERT INTO grid_staff (staff_id, grid_code, role, is_party_member, "
                       "certified_social_worker, trained, _run_id, _ingested_at, _source) "
                       "VALUES ('W1', '420606001001001', 'building_head', true, false, false, "
                       "1, '2024-01-01 00:00:00', 'x')"))
    assert migrate(engine) == SCHEMA_VERSION
    insp = inspect(engine)
    assert "building_code" in {c["name"] for c in insp.get_columns("grid_staff")}
    assert insp.has_table("buildings")
    with engine.connect() as c:
        assert c.execute(text("SELECT staff_id, building_code FROM grid_staff")).all() == [
            ("W1", None)]


def _v10_hotline_warehouse(engine) -> None:
    """Turn ``engine``'s warehouse back into a v10 one holding one 12345 request."""
    from sqlalchemy import delete, insert

    from warehouse.engine import utcnow

    with write_transaction(engine) as c:
        c.execute(text("ALTER TABLE hotline_requests DROP COLUMN grid_code"))
        c.execute(delete(schema.schema_version))
        c.execute(insert(schema.schema_version).values(version=10, applied_at=utcnow()))
        c.execute(text("INSERT INTO hotline_requests (request_id, community_code, channel, "
                       "received_at, reopened, _run_id, _ingested_at, _source) VALUES "
                       "('GD1', '420606001001', 'phone', '2024-05-02 01:00:00', false, 1, "
                       "'2024-05-02 02:00:00', 'x')"))


def _assert_hotline_has_grid_code(engine) -> None:
    assert "grid_code" in {c["name"] for c in inspect(engine).get_columns("hotline_requests")}
    with engine.connect() as c:
        assert c.execute(text("SELECT request_id, community_code, grid_code "
                              "FROM hotline_requests")).all() == [("GD1", "420606001001", None)]
        assert c.execute(select(schema.schema_version.c.version)).scalars().all() == [10, 11, 12]


def test_v10_warehouse_gets_the_hotline_grid_code(engine) -> None:
    """Migration 11 adds ``hotline_requests.grid_code`` (NULL on stored rows), keeping them;
    on PostgreSQL the default warehouse is month-partitioned: the parent's new column reaches
    every partition, the one the stored row sits in included."""
    import datetime as dt

    from warehouse import partitions

    may = dt.date(2024, 5, 1)
    parts = engine.dialect.name == "postgresql"
    if parts:  # the default layout; May has a partition of its own, where the row will sit
        with write_transaction(engine) as c:
            assert partitions.is_partitioned(c, "hotline_requests")
            assert partitions.add_months(c, schema.data_tables()["hotline_requests"],
                                         {may}) == [may]
    _v10_hotline_warehouse(engine)
    assert migrate(engine) == SCHEMA_VERSION == 12
    _assert_hotline_has_grid_code(engine)
    if parts:
        for part in (partitions.month_name("hotline_requests", may),
                     partitions.default_name("hotline_requests")):
            assert "grid_code" in {c["name"] for c in inspect(engine).get_columns(part)}, part
        with engine.connect() as c:
            assert c.execute(text(f"SELECT request_id FROM "
                                  f"{partitions.month_name('hotline_requests', may)}")
                             ).scalars().all() == ["GD1"]
    with write_transaction(engine) as c:  # a new row with a grid lands in its partition
        c.execute(text("INSERT INTO hotline_requests (request_id, community_code, grid_code, "
                       "channel, received_at, reopened, _run_id, _ingested_at, _source) VALUES "
                       "('GD2', '420606001001', '420606001001001', 'web', "
                       "'2024-05-03 01:00:00', false, 1, '2024-05-03 02:00:00', 'x')"))
    with engine.connect() as c:
        assert c.execute(text("SELECT grid_code FROM hotline_requests WHERE request_id = 'GD2'")
                         ).scalar_one() == "420606001001001"


def test_v10_plain_postgresql_warehouse_gets_the_hotline_grid_code(pg_schema_url: str) -> None:
    """The same on a PostgreSQL warehouse made without partitions (``partition = "none"``)."""
    from warehouse import partitions

    eng = open_warehouse(pg_schema_url, partition="none")
    try:
        with eng.connect() as c:
            assert partitions.mode(c) == "none"
        _v10_hotline_warehouse(eng)
        assert migrate(eng) == SCHEMA_VERSION
        _assert_hotline_has_grid_code(eng)
    finally:
        eng.dispose()
