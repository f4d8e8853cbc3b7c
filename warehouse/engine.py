"""Engine set-up and schema migration for the embedded default (SQLite) and PostgreSQL.

SQLite runs in WAL mode so that the dashboard keeps reading while an ingestion run writes in
another process (DuckDB would lock the file to one process). The pysqlite driver's implicit
transactions are switched off and we emit BEGIN ourselves, so a transaction is a real one; a
writer asks for ``BEGIN IMMEDIATE`` to take the write lock up front instead of deadlocking on
upgrade.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    String,
    Text,
    cast,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import DDLElement

from core.errors import WarehouseError
from warehouse import meta as meta_values
from warehouse import schema
from warehouse.faults import FULL as FULL  # re-exported: storage faults live in faults.py
from warehouse.faults import LOST, explain
from warehouse.faults import READ_ONLY as READ_ONLY  # re-exported

SCHEMA_VERSION = 12
SQLITE_BUSY_TIMEOUT_S = 120.0
# A run merges all its rows in one transaction, and SQLite's WAL holds every page of it until
# the commit: 27 GB for 100M service cases. Without a limit that file keeps its largest size
# for as long as any connection is open (a scheduler or dashboard: for ever); with one it is
# cut back to this when the next write after a checkpoint starts the log again.
SQLITE_WAL_LIMIT_BYTES = 64 * 2**20


def utcnow() -> dt.datetime:
    """Naive UTC now: the warehouse stores every timestamp as naive UTC."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def is_sqlite(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "sqlite"


def sqlite_path(engine: Engine) -> Path | None:
    """The database file of a SQLite engine (None for other engines or in-memory)."""
    if not is_sqlite(engine):
        return None
    db = engine.url.database
    return Path(db) if db and db != ":memory:" else None


def make_engine(url: str, *, readonly: bool = False, **kw: Any) -> Engine:
    """An engine for the warehouse URL with the pragmas and pool settings Gongzhi relies on."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        db = u.database
        if db and db != ":memory:":
            try:
                Path(db).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise WarehouseError(f"cannot create the warehouse folder for {db}: {e}") from e
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        engine = create_engine(url, connect_args=connect_args, **kw)
        _sqlite_events(engine)
        return engine
    kw.setdefault("pool_pre_ping", True)
    return create_engine(url, **kw)


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
        cur = dbapi_conn.cursor()
        with contextlib.suppress(Exception):  # a read-only file keeps its mode; reads work
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=OFF")
        cur.execute("PRAGMA cache_size=-131072")  # 128 MiB: merges into big tables need it
        cur.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_LIMIT_BYTES}")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that intends to write: takes SQLite's write lock at BEGIN."""
    with engine.connect() as conn:
        conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


def migrate(engine: Engine, partition: str | None = None) -> int:
    """Create or upgrade the schema; returns the version now in place.

    A fresh warehouse gets the current tables and is stamped with the latest version; an older
    one gets the numbered migrations in order. Runs under the write lock so two processes that
    start together do not both create tables. ``partition`` (``[warehouse] partition``,
    default ``"month"``) decides whether a new PostgreSQL warehouse's fact tables are
    partitioned by month (:mod:`warehouse.partitions`); an existing warehouse keeps its layout.
    """
    from warehouse import partitions

    try:
        with write_transaction(engine) as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(partitions.warehouse_lock_sql(partitions.MIGRATE_LOCK))
            from warehouse.audit import protect

            insp = inspect(conn)
            if not insp.has_table("schema_version"):
                wanted = partition or partitions.DEFAULT_MODE
                partitions.setup_new(conn, wanted)
                schema.metadata.create_all(conn)  # checkfirst: the partitioned ones exist
                partitions.record(conn, wanted)
                if not is_sqlite(conn):  # SQLite keeps them in a file of their own
                    schema.app_metadata.create_all(conn)
                    protect(conn)
                conn.execute(insert(schema.schema_version).values(version=SCHEMA_VERSION,
                                                                  applied_at=utcnow()))
                return SCHEMA_VERSION
            current = conn.execute(
                select(schema.schema_version.c.version).order_by(
                    schema.schema_version.c.version.desc()
                ).limit(1)
            ).scalar_one_or_none() or 0
            for version, step in MIGRATIONS:
                if version > current:
                    step(conn)
                    conn.execute(insert(schema.schema_version).values(version=version,
                                                                      applied_at=utcnow()))
                    current = version
            # Tables added without a migration of their own (new operational tables, new
            # fact tables: partitioned like the warehouse's others).
            partitions.create_missing(conn, set(inspect(conn).get_table_names()))
            schema.metadata.create_all(conn, checkfirst=True)
            if not is_sqlite(conn):
                schema.app_metadata.create_all(conn, checkfirst=True)
            return current
    except OperationalError as e:
        why = explain(e) or str(e.orig)
        raise WarehouseError(f"cannot prepare the warehouse at {engine.url!r}: {why}") from e


def _v2_personal_columns(conn: Connection) -> None:
    """v2: masked and pseudonymised personal columns on the people tables."""
    insp = inspect(conn)
    for table_name in schema.PERSONAL_TABLES:
        have = {c["name"] for c in insp.get_columns(table_name)}
        table = schema.metadata.tables[table_name]
        for col in ("name_masked", "id_hash", "id_masked", "phone_masked"):
            if col not in have:
                ddl = AddColumn(table_name, Column(col, table.c[col].type))
                conn.execute(ddl)


class AddColumn(DDLElement):
    """ALTER TABLE … ADD COLUMN, compiled per dialect (Core has no construct for it)."""

    inherit_cache = False

    def __init__(self, table: str, column: Any):
        self.table = table
        self.column = column


@compiles(AddColumn)
def _add_column(element: AddColumn, compiler: Any, **kw: Any) -> str:
    prep = compiler.preparer
    spec = compiler.get_column_specification(element.column)
    return f"ALTER TABLE {prep.quote(element.table)} ADD COLUMN {spec}"


def _v3_accounts_and_audit(conn: Connection) -> None:
    """v3: local accounts; the audit log becomes append-only (SQLite: in the app file)."""
    from warehouse.audit import protect

    if not is_sqlite(conn):
        schema.app_metadata.create_all(conn, checkfirst=True)
        protect(conn)


def _v4_covering_indexes(conn: Connection) -> None:
    """v4: covering indexes for the distinct counts (active volunteers, teams)."""
    if "ix_volunteer_services_started" in {
            i["name"] for i in inspect(conn).get_indexes("volunteer_services")}:
        conn.execute(text("DROP INDEX ix_volunteer_services_started"))
    for table in (schema.volunteer_services, schema.volunteers):
        for index in table.indexes:
            index.create(conn, checkfirst=True)


def _v5_quarantine_reprocess(conn: Connection) -> None:
    """v5: quarantine rows keep their derived personal columns and who resolved them
    (``gongzhi reprocess``)."""
    have = {c["name"] for c in inspect(conn).get_columns("quarantine")}
    for col in ("derived", "resolved_run_id"):
        if col not in have:
            conn.execute(AddColumn("quarantine", Column(col, schema.quarantine.c[col].type)))


def _v6_rows_deleted(conn: Connection) -> None:
    """v6: the run log counts rows a source flagged deleted."""
    if "rows_deleted" not in {c["name"] for c in inspect(conn).get_columns("ingest_runs")}:
        col = Column("rows_deleted", Integer, nullable=False, server_default="0")
        conn.execute(AddColumn("ingest_runs", col))


def _v7_content_hash(conn: Connection) -> None:
    """v7: every data table keeps each row's content hash (``_hash``); rows stored before
    have none and are compared column by column until they change. A data table the
    warehouse does not have yet (added since) is created whole, with ``_hash``, afterwards."""
    insp = inspect(conn)
    for table in schema.data_tables().values():
        if not insp.has_table(table.name):
            continue
        if "_hash" not in {c["name"] for c in insp.get_columns(table.name)}:
            conn.execute(AddColumn(table.name, Column("_hash", BigInteger)))


def _v8_longitude_latitude(conn: Connection) -> None:
    """v8: optional longitude / latitude (WGS84) on the tables whose rows are places
    (grid events, stations, 12345 requests). A table the warehouse lacks yet is made whole by
    ``create_all``."""
    insp = inspect(conn)
    for name in schema.LONLAT_TABLES:
        if not insp.has_table(name):
            continue
        have = {c["name"] for c in insp.get_columns(name)}
        for col in ("longitude", "latitude"):
            if col not in have:
                conn.execute(AddColumn(name, Column(col, Float)))


def _v9_drill_indexes(conn: Connection) -> None:
    """v9: indexes on the time columns drill-through pages read newest first
    (``warehouse.drill_indexes``); fresh warehouses get them from the table declarations."""
    from warehouse import drill_indexes

    drill_indexes.create(conn)


def _v10_building_heads(conn: Connection) -> None:
    """v10: a building head's building (``grid_staff.building_code``); the building register
    itself is a new table, made whole by ``create_all``."""
    if "building_code" not in {c["name"] for c in inspect(conn).get_columns("grid_staff")}:
        conn.execute(AddColumn("grid_staff", Column("building_code", String(32))))


def _v11_hotline_grid(conn: Connection) -> None:
    """v11: a 12345 request may name its grid (``hotline_requests.grid_code``, NULL on stored
    rows). On PostgreSQL a month-partitioned table gets it on its parent, which adds it to
    every partition; a warehouse without the table gets it whole from ``create_all``."""
    insp = inspect(conn)
    if not insp.has_table("hotline_requests"):
        return
    if "grid_code" not in {c["name"] for c in insp.get_columns("hotline_requests")}:
        conn.execute(AddColumn("hotline_requests", Column("grid_code", String(32))))


def _v12_bytewise_ids(conn: Connection) -> None:
    """v12: on PostgreSQL a fact table's own id sorts bytewise (``COLLATE "C"``,
    :func:`warehouse.columns.bytewise`): the month tables a first load builds and attaches
    must match their parent, and their primary keys build faster so. The column's type is
    kept (no table is rewritten); each primary key that holds it is built again, on a
    partitioned table in every partition (minutes for a city's 100M cases: the migration
    runs once, at the first start of this version)."""
    if is_sqlite(conn):
        return
    from warehouse.columns import fact_ids

    insp = inspect(conn)
    for table in schema.data_tables().values():
        if not insp.has_table(table.name):
            continue
        for col in fact_ids(table):
            have = conn.execute(text(
                "SELECT collation_name FROM information_schema.columns WHERE table_schema = "
                "current_schema() AND table_name = :t AND column_name = :c"),
                {"t": table.name, "c": col.name}).scalar_one_or_none()
            if have != "C":
                spec = col.type.compile(dialect=conn.dialect)  # VARCHAR(64) COLLATE "C"
                conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ALTER COLUMN "{col.name}" '
                                     f"TYPE {spec}")


# (version, function) pairs, applied in order to warehouses older than ``version``.
# 7 belongs to another change (the gap is kept so both apply in order).
MIGRATIONS: list[tuple[int, Any]] = [(2, _v2_personal_columns), (3, _v3_accounts_and_audit),
                                     (4, _v4_covering_indexes), (5, _v5_quarantine_reprocess),
                                     (6, _v6_rows_deleted), (7, _v7_content_hash),
                                     (8, _v8_longitude_latitude), (9, _v9_drill_indexes),
                                     (10, _v10_building_heads), (11, _v11_hotline_grid),
                                     (12, _v12_bytewise_ids)]


_APP_ENGINES: dict[str, Engine] = {}
# reading engine on a hot standby -> the primary's engine, where its app state is written
_PRIMARIES: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def app_engine(engine: Engine) -> Engine:
    """Where accounts, the audit log and run-now requests are kept for ``engine``'s warehouse.

    SQLite: ``<warehouse>-app.db`` beside it (created and made append-only for the audit log on
    first use), so these short writes never queue behind an ingestion run's merge.
    PostgreSQL: the warehouse itself (row locks do not block them), and for an engine on a
    hot standby (:func:`open_replica`) its primary: a standby takes no writes."""
    if engine in _PRIMARIES:
        return _PRIMARIES[engine]
    db = sqlite_path(engine)
    if db is None:
        return engine
    path = db.with_name(f"{db.stem}-app{db.suffix or '.db'}")
    key = str(path)
    if key not in _APP_ENGINES:
        from warehouse.audit import protect

        app = make_engine(f"sqlite:///{path}")
        with write_transaction(app) as conn:
            schema.app_metadata.create_all(conn, checkfirst=True)
            protect(conn)
        _APP_ENGINES[key] = app
    return _APP_ENGINES[key]


def schema_state(engine: Engine) -> tuple[int | None, list[str]]:
    """The warehouse's schema version (None: no schema yet) and the tables it lacks, found by
    reading only: a reader never takes the write lock, so it never queues behind a merge."""
    with engine.connect() as conn:
        insp = inspect(conn)
        have = set(insp.get_table_names())
        if "schema_version" not in have:
            return None, []
        version = conn.execute(
            select(schema.schema_version.c.version).order_by(
                schema.schema_version.c.version.desc()).limit(1)
        ).scalar_one_or_none() or 0
    wanted = set(schema.metadata.tables)
    if not is_sqlite(engine):  # SQLite keeps the app's tables in a file of their own
        wanted |= set(schema.app_metadata.tables)
    return int(version), sorted(wanted - have)


def open_warehouse(url: str, *, partition: str | None = None, **kw: Any) -> Engine:
    """An engine on a migrated warehouse, for commands that write (ingest, the scheduler).

    The schema is read first; the write lock is taken only when there is something to create
    or upgrade, so a writer starting during another's merge does not wait at start-up.
    ``partition``: the layout of a new PostgreSQL warehouse (:func:`migrate`)."""
    engine = make_engine(url, **kw)
    try:
        version, missing = schema_state(engine)
    except OperationalError as e:
        raise WarehouseError(f"cannot open the warehouse at {engine.url!r}: "
                             f"{explain(e) or e.orig}") from e
    if version is None or version < SCHEMA_VERSION or missing:
        migrate(engine, partition)
    return engine


def open_for_reading(url: str, *, partition: str | None = None, **kw: Any) -> Engine:
    """An engine for commands that only read (kpi, runs, quarantine, sources, the dashboard).

    Checks the schema without writing. A warehouse with no schema at all is new and empty
    (there is no merge to wait behind): it is created. One older than this Gongzhi is not
    upgraded by a reader: the error says which command does it."""
    engine = make_engine(url, **kw)
    try:
        version, missing = schema_state(engine)
    except OperationalError as e:
        raise WarehouseError(f"cannot read the warehouse at {engine.url!r}: "
                             f"{explain(e) or e.orig}") from e
    if version is None:
        migrate(engine, partition)
    elif version < SCHEMA_VERSION or missing:
        what = (f"schema version {version}, this Gongzhi needs {SCHEMA_VERSION}"
                if version < SCHEMA_VERSION else f"missing table(s) {', '.join(missing)}")
        raise WarehouseError(
            f"the warehouse at {engine.url!r} is older than this Gongzhi ({what}); "
            "read-only commands never change it: run `gongzhi ingest` (or start `gongzhi "
            "schedule` / `gongzhi up`) once to upgrade it")
    return engine


def open_replica(read_url: str, primary: Engine, **kw: Any) -> Engine:
    """An engine for the dashboards on a PostgreSQL hot standby (``[warehouse] read_url``).

    Reads (KPIs, run log, the data version the live cards watch) see what the standby has
    replayed, so every figure and its freshness come from the same snapshot; app state
    (sign-in sessions, the audit log, run-now requests) goes to ``primary`` through
    :func:`app_engine`. The schema is checked, never created: a standby is read-only."""
    engine = make_engine(read_url, **kw)
    _PRIMARIES[engine] = primary
    try:
        version, missing = schema_state(engine)
    except OperationalError as e:
        # the standby may be down while the dashboard starts: pages say so and retry
        if explain(e) == LOST:
            return engine
        raise WarehouseError(f"cannot read the standby at {engine.url!r}: "
                             f"{explain(e) or e.orig}") from e
    if version is None or version < SCHEMA_VERSION or missing:
        raise WarehouseError(
            f"the standby at {engine.url!r} has no current schema (version {version}, this "
            f"Gongzhi needs {SCHEMA_VERSION}): the schema is made on the primary (`gongzhi "
            "ingest` or `gongzhi schedule`) and reaches the standby by replication")
    return engine


def data_version(conn: Connection | Engine) -> int:
    """A number that changes whenever a run changes data: the key for caches of results."""
    meta = schema.warehouse_meta
    stmt = select(meta.c.value).where(meta.c.key == "data_version")
    if isinstance(conn, Engine):
        with conn.connect() as c:
            value = c.execute(stmt).scalar_one_or_none()
    else:
        value = conn.execute(stmt).scalar_one_or_none()
    return int(value) if value is not None else 0


def bump_data_version(conn: Connection) -> int:
    """Increment the data version inside the caller's (write) transaction.

    One statement that adds 1 to the stored value, never a read then a write: two runs
    committing at once on PostgreSQL (``gongzhi ingest --jobs``) would both read 5 and both
    write 6, and a cache keyed on the version would keep serving the first run's results.
    The row lock it takes is held to the commit, so callers bump last in their transaction."""
    meta = schema.warehouse_meta
    plus_one = cast(cast(meta.c.value, BigInteger) + 1, Text)
    row = conn.execute(meta.update().where(meta.c.key == "data_version")
                       .values(value=plus_one).returning(meta.c.value)).first()
    if row is not None:
        return int(row[0])
    upsert = meta_values.upsert_of(conn)
    if upsert is None:  # an engine without upserts: one writer at a time
        conn.execute(insert(meta).values(key="data_version", value="1"))
        return 1
    # the first change ever; a run committing at the same moment adds its 1 to this row
    stmt = upsert(meta).values(key="data_version", value="1")
    row = conn.execute(stmt.on_conflict_do_update(
        index_elements=[meta.c.key], set_={"value": plus_one}).returning(meta.c.value)).first()
    assert row is not None
    return int(row[0])


def last_loaded(engine: Engine) -> dt.datetime | None:
    """When data last changed: the latest of the per-table load stamps (naive UTC), or None
    before the first load. What a person means by "the data version"."""
    meta = schema.warehouse_meta
    with engine.connect() as c:
        values = c.execute(select(meta.c.value).where(meta.c.key.startswith("loaded:"))).scalars()
        stamps = [dt.datetime.fromisoformat(v) for v in values]
    return max(stamps, default=None)


def stamp_loaded(conn: Connection, tables: set[str]) -> None:
    """Record that ``tables`` were loaded now (the freshness shown beside every KPI)."""
    now = utcnow().isoformat()
    for t in sorted(tables):  # sorted: runs committing at once lock the rows in one order
        meta_values.put(conn, f"loaded:{t}", now)


# The office's tables (area targets, bulletin archive) sit on ``schema.app_metadata`` in a
# module of their own; importing it here registers them wherever the schema is made.
# The governance cycle's tables (alert log, 督办 tasks) join app_metadata from their own module
# (imported here, after everything they use from this one, so every engine creates them).
from warehouse import cycle as _cycle  # noqa: E402,F401
from warehouse import office  # noqa: E402,F401
