"""The incremental path of the differential suite: a world in two drops (changed and deleted
rows in the second), and the rollups as the runs kept them against a rebuild from the facts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from tests.differential.combos import SEED
from tests.differential.world import World


@dataclass
class Evolution:
    """Two drops of one world: the first half, then the rest with changed and deleted rows."""

    first: dict[str, list[dict[str, Any]]]
    second: dict[str, list[dict[str, Any]]]
    deleted: dict[str, list[dict[str, Any]]]
    half: World  # what the warehouse holds after the first drop
    final: World  # … and after the second


def evolve(w: World, seed: int = SEED) -> Evolution:
    """Split every table in two; in the second drop ~6 % of the first half come back changed
    (a value taken from another row of the same column: moved in time or area, closed, rated)
    and ~3 % flagged deleted."""
    from tests.differential.world import KEYS, REGISTERS, TIED

    r = random.Random(seed + 1)
    first, second, deleted, half_t, final_t = {}, {}, {}, {}, {}
    for table, frame in w.tables.items():
        rows = frame.to_dicts()
        r.shuffle(rows)
        register = table in REGISTERS
        cut = len(rows) if register else len(rows) // 2
        a, b = rows[:cut], rows[cut:]
        keys = KEYS[table]
        # a register's rows keep their area (their code lies in it)
        cols = [c for c in frame.columns if c not in keys
                and not (register and c.endswith("_code"))]
        changed, gone = [], []
        for row in a:
            u = r.random()
            if u < 0.06 and cols and len(rows) > 1:
                col = r.choice(cols)
                tied = TIED.get(table, ())
                other = r.choice(rows)
                changed.append(dict(row, **{k: other[k] for k in (tied if col in tied
                                                                   else (col,))}))
            elif u < 0.09 and not register:
                gone.append(row)
        first[table], second[table], deleted[table] = a, b + changed, gone
        half_t[table] = pl.DataFrame(a, schema=frame.schema)
        gone_keys = {tuple(g[k] for k in keys) for g in gone}
        latest = {tuple(x[k] for k in keys): x for x in a + changed}
        kept = [x for key, x in latest.items() if key not in gone_keys] + b
        final_t[table] = pl.DataFrame(kept, schema=frame.schema)
    half = World(w.seed, w.divisions, w.communities, w.grids, half_t, w.bad)
    final = World(w.seed, w.divisions, w.communities, w.grids, final_t, w.bad)
    return Evolution(first, second, deleted, half, final)


def rollup_snapshots(cfg: Path) -> dict[str, dict[tuple[str, str], dict[str, float]]]:
    """Every rollup table as kept by the runs, and as rebuilt from the facts (rolled back)."""
    from ingest.registry import load_validated
    from metrics.catalog import load_catalog
    from metrics.rollup import distinct, distinct_families, families, rebuild
    from warehouse.engine import open_warehouse, write_transaction

    def snap(conn: Any, fam: Any) -> dict[tuple[str, str], dict[str, float]]:
        from sqlalchemy import select

        out = {}
        for row in conn.execute(select(fam.sa_table())).mappings():
            vals = {k: round(float(v), 6) for k, v in row.items() if k not in ("area", "month")}
            if any(vals.values()):
                out[(row["area"], row["month"])] = vals
        return out

    def snap_keys(conn: Any, fam: Any) -> dict[tuple[str, str], dict[str, float]]:
        from sqlalchemy import select

        rt = fam.sa_table()
        return {(r.area, f"{r.month}|{r.dkey}"): {"n": float(r.n)}
                for r in conn.execute(select(rt))}

    engine = open_warehouse(load_validated(cfg).warehouse_url)
    kept, rebuilt = {}, {}
    try:
        for fam in families(load_catalog()).values():
            with write_transaction(engine) as conn:
                kept[fam.name] = snap(conn, fam)
                rebuild(conn, fam)
                rebuilt[fam.name] = snap(conn, fam)
                conn.rollback()
        # distinct counts' rollups: the keys per area and month, as kept and as rebuilt
        for dfam in distinct_families(load_catalog()).values():
            with write_transaction(engine) as conn:
                kept[dfam.name] = snap_keys(conn, dfam)
                distinct.rebuild(conn, dfam)
                rebuilt[dfam.name] = snap_keys(conn, dfam)
                conn.rollback()
    finally:
        engine.dispose()
    return {"kept": kept, "rebuilt": rebuilt}  # type: ignore[dict-item]
