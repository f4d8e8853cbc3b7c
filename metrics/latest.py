"""The latest month with data in an area: where the dashboard opens.

A district that imported its history until 2024-06 would see 无数据 on every card if the
dashboard opened on the calendar's last month. It opens instead on the latest month, not after
that one, in which any periodic KPI of the catalogue has a fact row in the viewer's area.
Months come from the monthly rollups where they are current (a few thousand rows), otherwise
from one ``max()`` per fact table; nothing is pulled into Python.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from core.timezone import to_local
from metrics import rollup, semantic
from metrics.compiler import (
    NotApplicable,
    Scope,
    area_column,
    grid_level,
    scope_condition,
    time_bounds,
)
from metrics.periods import Period, parse
from metrics.service import Metrics
from warehouse.schema import data_tables


def latest_month(m: Metrics, scope: Scope, not_after: Period) -> Period | None:
    """The latest month up to the end of ``not_after`` in which ``scope`` has a fact row of a
    periodic KPI's table (by that KPI's time column); None when it has none."""
    sources = sorted({(x.table or "", x.time or "", x.via or "")
                      for k in m.catalog.kpis.values() if k.periodic
                      for x in k.measures().values() if x.window == "period" and x.time})
    best: str | None = None
    asked: set[str] = set()  # rollups already read (one per table and time column)
    with m.engine.connect() as conn:
        stored = rollup.stored_fingerprints(conn)
        for table, time, via in sources:
            fam = m.families.get((table, time))
            try:
                if fam is not None and stored.get(fam.name) == fam.fingerprint \
                        and (scope.level != "grid" or fam.gridded):
                    if fam.name in asked:
                        continue
                    asked.add(fam.name)
                    month = _from_rollup(conn, fam, scope, not_after)
                else:
                    month = _from_facts(conn, table, time, via, scope, not_after)
            except NotApplicable:  # e.g. data kept for the whole district, asked for a street
                continue
            if month is not None and (best is None or month > best):
                best = month
    return parse(best) if best else None


def _from_rollup(conn: Connection, fam: rollup.Family, scope: Scope,
                 not_after: Period) -> str | None:
    t = fam.sa_table()
    conds: list[Any] = [t.c.month <= not_after.months[1]]
    conds.append(or_(*(t.c[x.rows_col] > 0 for x in fam.measures.values())))
    sc = scope_condition(t.c.area, scope, fam.gridded)
    if sc is not None:
        conds.append(sc)
    value = conn.execute(select(func.max(t.c.month)).where(and_(*conds))).scalar()
    return str(value) if value else None


def _from_facts(conn: Connection, table: str, time: str, via: str, scope: Scope,
                not_after: Period) -> str | None:
    tables = data_tables()
    t = tables[table]
    src: Any = t
    area_t = t
    if via:  # rows scoped through another table's area (volunteers' community)
        vt, _, vkey = via.partition(".")
        area_t = tables[vt]
        src = t.join(area_t, t.c[vkey] == area_t.c[vkey])
    col = t.c[time]
    _, high, inclusive = time_bounds(t, time, not_after)
    conds: list[Any] = [col <= high if inclusive else col < high]
    sc = scope_condition(area_column(area_t), scope, grid_level(area_t))
    if sc is not None:
        conds.append(sc)
    value = conn.execute(select(func.max(col)).select_from(src).where(and_(*conds))).scalar()
    if value is None:
        return None
    if semantic.load(check=False).is_month(table, time):
        return str(value)[:7]
    if isinstance(value, dt.datetime):
        return f"{to_local(value):%Y-%m}"
    if isinstance(value, dt.date):
        return f"{value:%Y-%m}"
    return str(value)[:7]  # SQLite may hand back text
