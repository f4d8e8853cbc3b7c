"""Indexes on the time columns KPIs count by, so that a drill-through's first page (rows of a
period, newest first) is read from the index instead of sorting the period's rows.

Measured on 1.5M service cases (``make bench-drill`` at scale 10): the first page of a month
took 1.4-3.5 s without them (a scan of the table) and ≤ 80 ms with them. They are declared on
the tables in ``warehouse/schema.py`` (a fresh warehouse gets them with its tables) and
migration 9 (``warehouse.engine``) adds them to an existing warehouse.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, Index, inspect

from warehouse import schema

# (index, table, column): the big fact tables' KPI time columns not leading another index
DRILL_INDEXES = (
    ("ix_service_cases_submitted_at", "service_cases", "submitted_at"),
    ("ix_service_cases_completed_at", "service_cases", "completed_at"),
    ("ix_grid_events_reported_at", "grid_events", "reported_at"),
    ("ix_grid_events_registered_at", "grid_events", "registered_at"),
)


def _declared(name: str, table: str) -> Index:
    return next(ix for ix in schema.metadata.tables[table].indexes if ix.name == name)


def create(conn: Connection) -> list[str]:
    """Create the drill indexes a warehouse lacks (both engines); returns the ones created."""
    insp = inspect(conn)
    made = []
    for name, table, _ in DRILL_INDEXES:
        if name not in {ix["name"] for ix in insp.get_indexes(table)}:
            _declared(name, table).create(conn, checkfirst=True)
            made.append(name)
    return made


def ensure(engine: Engine) -> list[str]:
    """:func:`create` in a transaction of its own (``make bench-drill``; idempotent)."""
    with engine.begin() as conn:
        return create(conn)


def drop(engine: Engine) -> list[str]:
    """Drop the drill indexes (``make bench-drill --no-indexes`` measures without them; the
    next migration does not bring them back: run :func:`ensure`)."""
    with engine.begin() as conn:
        have = {ix["name"] for _, table, _ in DRILL_INDEXES
                for ix in inspect(conn).get_indexes(table)}
        gone = [name for name, _, _ in DRILL_INDEXES if name in have]
        for name, table, _ in DRILL_INDEXES:
            if name in have:
                _declared(name, table).drop(conn)
        return gone
