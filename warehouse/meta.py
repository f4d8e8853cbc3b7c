"""Small named values kept in the warehouse itself (``warehouse_meta``): the pseudonym key's
fingerprint and its history. Each read or write takes the caller's connection, so a value
changes in the same transaction as the data it describes."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from warehouse.schema import warehouse_meta

KEY_FINGERPRINT = "pseudonym_key_fingerprint"
KEY_HISTORY = "pseudonym_key_history"


def get(conn: Connection | Engine, key: str) -> str | None:
    """The value stored under ``key`` (None when there is none)."""
    stmt = select(warehouse_meta.c.value).where(warehouse_meta.c.key == key)
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return c.execute(stmt).scalar_one_or_none()
    return conn.execute(stmt).scalar_one_or_none()


def put(conn: Connection, key: str, value: str) -> None:
    """Store ``value`` under ``key`` (inside the caller's write transaction).

    One upsert where the engine has one: two runs committing at once (``gongzhi ingest
    --jobs``) may both find the key missing, and an update-then-insert would fail the second
    on the primary key."""
    upsert = upsert_of(conn)
    if upsert is not None:
        stmt = upsert(warehouse_meta).values(key=key, value=value)
        conn.execute(stmt.on_conflict_do_update(index_elements=[warehouse_meta.c.key],
                                                set_={"value": stmt.excluded.value}))
        return
    res = conn.execute(update(warehouse_meta).where(warehouse_meta.c.key == key)
                       .values(value=value))
    if not res.rowcount:
        conn.execute(insert(warehouse_meta).values(key=key, value=value))


def upsert_of(conn: Connection) -> Any:
    """The dialect's INSERT … ON CONFLICT construct, or None for an engine without one."""
    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(conn.dialect.name)


def get_json(conn: Connection | Engine, key: str, default: Any = None) -> Any:
    raw = get(conn, key)
    return json.loads(raw) if raw else default


def put_json(conn: Connection, key: str, value: Any) -> None:
    put(conn, key, json.dumps(value, ensure_ascii=False, default=str))
