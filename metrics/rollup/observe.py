"""Rollup maintenance inside a run: the runner observer that adds each merge's delta."""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import Connection, Table, and_, select
from sqlalchemy.dialects import sqlite as sq

from metrics import semantic
from metrics.calendar import ensure_calendar
from metrics.catalog import Catalog, load_catalog
from metrics.rollup.build import aggregate, ensure_rollups, months_of_keys, rebuild, refresh_months
from metrics.rollup.distinct import DistinctKeeper
from metrics.rollup.family import Family, families
from metrics.rollup_eval import contributions
from warehouse.changed import changed_count, changed_rows
from warehouse.schema import holiday_calendar, key_columns, service_items


class RollupObserver:
    """Keeps rollups in step with each merge, inside the run's transaction."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.by_table: dict[str, list[Family]] = {}
        for fam in families(catalog).values():
            self.by_table.setdefault(fam.table, []).append(fam)
        self._old: dict[str, list[pl.DataFrame]] = {}
        # what the run's staged rows contribute, summed chunk by chunk in polars; None once
        # the scratch table lost rows after staging (the SQL aggregate is used then)
        self._new: dict[str, list[pl.DataFrame] | None] = {}
        self._lookups: dict[str, pl.DataFrame] | None = None
        self.distinct = DistinctKeeper(catalog)

    def coupled_tables(self) -> dict[str, set[str]]:
        """Per fact table, the other tables whose load changes its rollups: the item catalogue
        and the holiday calendar behind 按期 deadlines (derived columns' ``depends_on``), the
        ``via`` table of a distinct count (a volunteer's community). A run of one recomputes
        rollups of the other from the facts it sees, so two runs of coupled tables must not
        commit at once (``gongzhi ingest --jobs`` keeps them apart)."""
        out: dict[str, set[str]] = {}
        for fams in self.by_table.values():
            for fam in fams:
                for d in fam.derived_used():
                    out.setdefault(fam.table, set()).update(d.depends_on)
        for dfams in self.distinct.by_via.values():
            for dfam in dfams:
                if dfam.via and dfam.via != dfam.table:
                    out.setdefault(dfam.table, set()).add(dfam.via)
        return {t: deps - {t} for t, deps in out.items() if deps - {t}}

    def needed_columns(self, t: Table, fams: list[Family]) -> list[str]:
        spec = semantic.load(check=False).table(t.name)
        assert spec is not None and spec.area is not None
        cols = {spec.area.column}
        for fam in fams:
            cols.add(fam.time)
            for m in fam.measures.values():
                names = [m.column] if m.column else []
                names += [f.column for f in m.filters] + [f.ref for f in m.filters if f.ref]
                for name in names:
                    d = spec.derived.get(name or "")
                    if d is not None:  # its inputs, as the semantic layer declares them
                        cols |= set(d.inputs)
                    elif name:
                        cols.add(name)
        return sorted(c for c in cols if c in t.c)

    def _dependants(self, conn: Connection, table: Table, keys: Any = None) -> None:
        """Recompute the families whose derived columns depend on ``table`` (the item
        catalogue and the holiday calendar behind 按期 deadlines): only the months whose
        facts refer to the changed rows (``keys``, a select of ``table``'s key) when the facts
        carry that key (an item's cases), else the whole family (the calendar)."""
        if table.name == holiday_calendar.name and not ensure_calendar(conn):
            return
        for fams in self.by_table.values():
            for fam in fams:
                if not fam.depends_on(table.name):
                    continue
                months = (months_of_keys(conn, fam, table, keys) if keys is not None
                          else None)
                if months is None:
                    rebuild(conn, fam)
                else:
                    refresh_months(conn, fam, months)

    def staged(self, conn: Connection | None, table: Table, frame: pl.DataFrame | None, *,
               first: bool = False) -> None:
        """A chunk of the run's rows (cast to the contract) went to ``table``'s scratch table:
        add up what they contribute, while they are in memory anyway. ``frame=None``: rows
        left the scratch table after staging (repeats across chunks, deleted keys), so the
        sums no longer hold. ``first``: the run's first chunk for the table."""
        fams = self.by_table.get(table.name)
        if not fams:
            return
        if first:
            self._new[table.name] = [pl.DataFrame() for _ in fams]
            self._lookups = None
        acc = self._new.get(table.name)
        if frame is None or acc is None or conn is None:
            self._new[table.name] = None
            return
        if self._lookups is None and any(f.needs_lookups() for f in fams):
            self._lookups = _lookups(conn)
        for i, fam in enumerate(fams):
            c = contributions(frame, table, fam, self._lookups or {})
            if acc[i].width:
                value_cols = [x for x in c.columns if x not in ("area", "month")]
                c = pl.concat([acc[i], c], how="vertical_relaxed").group_by(
                    "area", "month").agg(pl.col(value_cols).sum())
            acc[i] = c

    def before_merge(self, conn: Connection, table: Table, stage: Table) -> None:
        """What the stored rows the merge is about to change contribute (one aggregate over
        the join with the scratch table: nothing of the run is read into memory)."""
        self.distinct.before_merge(conn, table, stage)
        fams = self.by_table.get(table.name)
        if not fams:
            return
        if changed_count(stage) == 0:  # a re-sent export: no stored row changes
            self._old[table.name] = [pl.DataFrame() for _ in fams]
            return
        other, cond = changed_rows(table, stage)
        self._old[table.name] = [aggregate(conn, fam, other, cond) for fam in fams]

    def after_merge(self, conn: Connection, table: Table, stage: Table, counts: Any) -> None:
        """Add what the inserted and changed rows contribute now, less what they did."""
        changed_any = bool(counts.inserted or counts.updated)
        keys = key_columns(table)
        match = and_(*[table.c[k] == stage.c[k] for k in keys])
        if changed_any:
            # e.g. 按期 deadlines depend on promised_days and on the holiday calendar: recompute
            # the families that use them (the months of the changed items' cases).
            self._dependants(conn, table, select(table.c[keys[0]]).select_from(
                table.join(stage, match)).where(table.c._run_id == counts.run_id))
            self.distinct.after(conn, table, stage, and_(
                match, table.c._run_id == counts.run_id), select(table.c[keys[0]]).select_from(
                table.join(stage, match)).where(table.c._run_id == counts.run_id))
        fams = self.by_table.get(table.name)
        old = self._old.pop(table.name, None)
        if not fams or not changed_any:
            return
        summed = self._new.pop(table.name, None)
        for i, fam in enumerate(fams):
            parts = []
            if summed is not None and summed[i].width:
                # every staged row's contribution, less the unchanged rows' (the same before
                # and after: only they are read back, and only when some row changed)
                parts.append(summed[i])
                if counts.unchanged:
                    parts.append(_negated(aggregate(
                        conn, fam, stage, and_(match, table.c._run_id != counts.run_id))))
            else:
                parts.append(aggregate(conn, fam, stage,
                                       and_(match, table.c._run_id == counts.run_id)))
            if old is not None and old[i].height:
                parts.append(_negated(old[i]))
            delta = pl.concat(parts, how="vertical_relaxed")
            value_cols = [c for c in delta.columns if c not in ("area", "month")]
            _apply(conn, fam, delta.group_by("area", "month").agg(pl.col(value_cols).sum()))

    def before_delete(self, conn: Connection, table: Table, stage: Table) -> None:
        """What the stored rows a source deleted contribute, before they go."""
        fams = self.by_table.get(table.name)
        keys = key_columns(table)
        cond = and_(*[table.c[k] == stage.c[k] for k in keys])
        self.distinct.before(conn, table, stage, cond)
        if not fams:
            return
        self._old[table.name] = [aggregate(conn, fam, stage, cond) for fam in fams]

    def after_delete(self, conn: Connection, table: Table, stage: Table, removed: int) -> None:
        """Subtract what the deleted rows contributed; an item or an official holiday
        leaving changes 按期 deadlines, so those families are recomputed."""
        old = self._old.pop(table.name, None)
        if removed:
            self._dependants(conn, table, select(stage.c[key_columns(table)[0]]))
            self.distinct.after(conn, table, stage, None, select(stage.c[key_columns(table)[0]]))
        else:
            self.distinct._months.pop(table.name, None)
        fams = self.by_table.get(table.name)
        if not fams or old is None:
            return
        for fam, gone in zip(fams, old, strict=True):
            value_cols = [c for c in gone.columns if c not in ("area", "month")]
            _apply(conn, fam, gone.with_columns([pl.col(c) * -1 for c in value_cols]))


def _negated(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns([pl.col(c) * -1 for c in frame.columns
                               if c not in ("area", "month")])


def _lookups(conn: Connection) -> dict[str, pl.DataFrame]:
    from warehouse.schema import work_calendar

    items = conn.execute(select(service_items.c.item_code, service_items.c.promised_days)).all()
    cal = conn.execute(select(work_calendar.c.day, work_calendar.c.workdays_to_date,
                              work_calendar.c.day_rank)).all()
    return {
        "items": pl.DataFrame([tuple(r) for r in items], orient="row",
                              schema={"item_code": pl.String, "promised_days": pl.Int64}),
        "calendar": pl.DataFrame([tuple(r) for r in cal], orient="row",
                                 schema={"day": pl.Date, "workdays_to_date": pl.Int64,
                                         "day_rank": pl.Int64}),
    }


def _apply(conn: Connection, fam: Family, delta: pl.DataFrame) -> None:
    """Add ``delta`` to the rollup rows (creating the rows that are new)."""
    value_cols = [c for c in delta.columns if c not in ("area", "month")]
    if delta.is_empty():
        return
    delta = delta.filter(pl.any_horizontal([pl.col(c) != 0 for c in value_cols]))
    if delta.is_empty():
        return
    rt = fam.sa_table()
    delta = delta.sort("area", "month")
    if conn.dialect.name == "postgresql":
        _apply_copy(conn, rt, delta, value_cols)
        return
    ins: Any = sq.insert(rt)
    stmt = ins.on_conflict_do_update(
        index_elements=["area", "month"],
        set_={c: rt.c[c] + ins.excluded[c] for c in value_cols})
    rows = delta.to_dicts()
    for i in range(0, len(rows), 5000):
        conn.execute(stmt, rows[i:i + 5000])


def _apply_copy(conn: Connection, rt: Table, delta: pl.DataFrame, value_cols: list[str]
                ) -> None:
    """PostgreSQL: the delta goes in by one COPY into a temporary table and one upsert (row
    by row, tens of thousands of area-months cost seconds in round trips)."""
    import io

    cols = ["area", "month", *value_cols]
    names = ", ".join(f'"{c}"' for c in cols)
    tmp = f"_d_{rt.name}"[:63]  # one per family: their columns differ
    conn.exec_driver_sql(f'CREATE TEMPORARY TABLE IF NOT EXISTS "{tmp}" '
                         f'(LIKE "{rt.name}") ON COMMIT DROP')
    conn.exec_driver_sql(f'TRUNCATE "{tmp}"')
    raw = conn.connection.driver_connection
    assert raw is not None
    buf = io.BytesIO()
    delta.select(cols).write_csv(buf, include_header=False)
    with raw.cursor() as cur, cur.copy(
            f'COPY "{tmp}" ({names}) FROM STDIN (FORMAT csv)') as cp:
        cp.write(buf.getvalue())
    sets = ", ".join(f'"{c}" = "{rt.name}"."{c}" + excluded."{c}"' for c in value_cols)
    conn.exec_driver_sql(f'INSERT INTO "{rt.name}" ({names}) SELECT {names} FROM '
                         f'"{tmp}" ON CONFLICT (area, month) DO UPDATE SET {sets}')


def observers_for(settings: Any) -> list[RollupObserver]:
    """The observers a run needs (called by the CLI); builds missing rollups first."""
    from warehouse.engine import open_warehouse

    catalog = load_catalog()
    ensure_rollups(open_warehouse(settings.warehouse_url,
                                  partition=settings.warehouse_partition), catalog)
    return [RollupObserver(catalog)]
