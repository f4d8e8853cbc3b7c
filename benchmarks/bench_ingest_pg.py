"""The scratch PostgreSQL of ``make bench-ingest``: schemas made and dropped in db ``test`` at
127.0.0.1:5432 (``GONGZHI_BENCH_PG`` overrides the URL); the server itself is never touched."""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text
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
