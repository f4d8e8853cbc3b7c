"""Rows that leave a table in a run's transaction: retired by a snapshot that no longer lists
them (a code list's newer vintage), or deleted because the source flagged them deleted.
Both join the table with the run's scratch table (:mod:`warehouse.bulk`) by key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, and_, delete, exists, literal_column, select, update

from warehouse.schema import key_columns


def retire_missing(
    conn: Connection,
    table: Table,
    stage: Table,
    *,
    scope: dict[str, list[Any]],
    prefix: tuple[str, str] | None,
    values: dict[str, Any],
) -> int:
    """Mark active rows inside ``scope`` that the staged snapshot lacks as retired.

    Used for full snapshots such as an official code list: a code missing from a newer
    vintage becomes inactive (``values``), it is never deleted.
    """
    keys = key_columns(table)
    conds: list[Any] = [table.c.active.is_(True)]
    for col, allowed in scope.items():
        conds.append(table.c[col].in_(allowed))
    if prefix is not None:
        conds.append(table.c[prefix[0]].startswith(prefix[1], autoescape=True))
    missing = ~exists(
        select(literal_column("1")).select_from(stage).where(
            and_(*[stage.c[k] == table.c[k] for k in keys])
        ).correlate(table)
    )
    result = conn.execute(update(table).where(*conds, missing).values(**values))
    return int(result.rowcount or 0)


def delete_keys(conn: Connection, table: Table, stage: Table) -> int:
    """Delete the rows of ``table`` whose keys are staged (rows a source flagged deleted);
    returns how many were stored."""
    keys = key_columns(table)
    match = exists(select(literal_column("1")).select_from(stage).where(
        and_(*[stage.c[k] == table.c[k] for k in keys])).correlate(table))
    return int(conn.execute(delete(table).where(match)).rowcount or 0)
