"""The scratch PostgreSQL of ``make bench-ingest``: schemas made and dropped in db ``test`` at
127.0.0.1:5432 (``GONGZHI_BENCH_PG`` overrides the URL); the server itself is never touched."""

from __future__ import annotations

import os

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("GONGZHI_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# scratch schemas start with this (a shared server: each user of it keeps to a prefix of its own)
SCHEMA_PREFIX = os.environ.get("GONGZHI_BENCH_PG_PREFIX", "bench_")


def pg_schema(create: bool, name: str) -> None:
    """Create or drop a scratch schema in the test database."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            if create:
                c.execute(text(f'CREATE SCHEMA "{name}"'))
            else:
                c.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        admin.dispose()


def prepare() -> list[str]:
    """Bring the server to the same state before each timed first load (each side, each
    repeat), and return what was done (``pg_prepare`` in the report):

    * ``CHECKPOINT``: a load writes a few hundred MB of WAL and dirty pages; without it the
      next run (the other side's, alternating) paid for flushing them while timed;
    * when the server runs with ``autovacuum = off`` (as the test server of this machine
      does), ``VACUUM`` of the system catalogs: every load creates and drops tables, and
      their dead catalog rows piled up from run to run (211k dead rows in ``pg_attribute``
      after ~40 loads), slowing the later runs' DDL; autovacuum, on by default, clears them.

    Needs a superuser (or ``pg_checkpoint`` and ownership of the catalogs); a step refused
    is skipped, said once, and left out of the list."""
    done: list[str] = []
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            if _step(c, "CHECKPOINT", ["CHECKPOINT"]):
                done.append("CHECKPOINT")
            if c.execute(text("SHOW autovacuum")).scalar_one() == "off":
                step = "VACUUM pg_catalog (autovacuum is off)"
                if _step(c, step, catalog_vacuums(c)):
                    done.append(step)
    finally:
        admin.dispose()
    return done


def catalog_vacuums(conn: Connection) -> list[str]:
    """``VACUUM`` of every table of ``pg_catalog``: the one list of them, for the bench's
    :func:`prepare` and for ``.ci/run`` before the suite (``python -m
    benchmarks.bench_ingest_pg vacuum-catalogs``)."""
    names = conn.execute(text(
        "SELECT quote_ident(relname) FROM pg_class WHERE relkind = 'r' AND "
        "relnamespace = 'pg_catalog'::regnamespace ORDER BY 1")).scalars().all()
    return [f"VACUUM pg_catalog.{n}" for n in names]


def vacuum_catalogs_if_autovacuum_off() -> str:
    """What ``.ci/run`` calls before the suite: on a server running with ``autovacuum = off``
    every earlier run's dead catalog rows stay, and the suite's thousands of CREATE/DROPs
    slow down (211k dead rows in ``pg_attribute`` after ~40 benchmark loads); clear them
    (~1 s). Returns what was done, for the log; never raises (the suite runs anyway)."""
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as c:
                if c.execute(text("SHOW autovacuum")).scalar_one() != "off":
                    return "autovacuum is on: no catalog VACUUM needed"
                vacuums = catalog_vacuums(c)
                for sql in vacuums:
                    c.execute(text(sql))
                return f"catalog VACUUM done ({len(vacuums)} tables; autovacuum is off)"
        finally:
            admin.dispose()
    except Exception as e:  # a server that refuses: the figures of the suite only slower
        return f"catalog VACUUM skipped: {str(e).splitlines()[0]}"


_REFUSED: set[str] = set()


def _step(conn: Connection, name: str, statements: list[str]) -> bool:
    """Run one preparation step's statements; False (said once) when the server refuses."""
    if name in _REFUSED:
        return False
    try:
        for sql in statements:
            conn.execute(text(sql))
    except Exception as e:  # not allowed: the figures are still comparable, only noisier
        _REFUSED.add(name)
        print(f"before the timed loads, no {name}: {str(e).splitlines()[0]}")
        return False
    return True


def pg_server_version() -> str | None:
    """The server's version, or None (with the reason printed) when it cannot be reached."""
    try:
        admin = create_engine(PG_ADMIN_URL)
        with admin.connect() as c:
            v = c.execute(text("SHOW server_version")).scalar_one()
        admin.dispose()
        return str(v)
    except Exception as e:  # the summary says why PostgreSQL figures are missing
        print(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {str(e).splitlines()[0]}")
        return None


def schema_url(schema: str) -> str:
    """The SQLAlchemy URL that puts Gongzhi's tables into ``schema``."""
    return f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"


def dlt_dsn() -> str:
    """The same server as a plain ``postgresql://`` DSN for dlt."""
    # dlt insists on a password; the test server trusts local connections.
    pg = make_url(PG_ADMIN_URL)
    return pg.set(drivername="postgresql", password=pg.password or "trust"
                  ).render_as_string(hide_password=False)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["vacuum-catalogs"]:
        sys.exit("usage: python -m benchmarks.bench_ingest_pg vacuum-catalogs")
    print(vacuum_catalogs_if_autovacuum_off())
