"""Grid-level figures from the rollups: a grid-level table (grid events) is rolled up per grid,
so grids, communities, streets and the district are all answered from it, equal to counts made
here from the input rows; runs that move events between grids keep the rollup equal to a
rebuild; a warehouse whose grid rollup predates this is rebuilt (that family only)."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event, update

from ingest.registry import load_validated
from ingest.runner import Runner
from metrics import periods
from metrics.catalog import load_catalog
from metrics.rollup import ROLLUP_VERSION, RollupObserver, ensure_rollups, families, rebuild
from metrics.service import Metrics
from tests.conftest import divisions_source, write_config
from tests.metrics.test_rollup import snapshot
from warehouse.engine import open_warehouse, write_transaction
from warehouse.schema import warehouse_meta

# grids of three communities in two streets
GRIDS = ["420606001001001", "420606001001002", "420606001001003", "420606001002001",
         "420606002001001", "420606002001002"]
HEADER = "event_id,grid_code,category,source,reported_at,registered_at,closed_at,is_dispute"
KPIS = ["grid.closure_rate", "grid.events_reported"]


def grids_csv(path: Path) -> None:
    lines = ["code,name,level,parent_code"]
    lines += [f"{g},{g[-3:]}号网格,grid,{g[:12]}" for g in GRIDS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def events(ids: range, seed: int) -> list[dict[str, Any]]:
    """Events in 2024-03..06 (local times); some registered just after a local midnight, the
    previous day in UTC, so the month is the local one."""
    rnd = random.Random(seed)
    out = []
    for i in ids:
        month, day = rnd.randint(3, 6), rnd.randint(1, 28)
        hour = rnd.choice(["00:30", "10:00", "23:30"])
        registered = rnd.random() < 0.85
        out.append({"event_id": f"E{i:05d}", "grid_code": rnd.choice(GRIDS),
                    "reported_at": f"2024-{month:02d}-{day:02d} {hour}",
                    "registered_at": f"2024-{month:02d}-{day:02d} {hour}" if registered else "",
                    "closed": registered and rnd.random() < 0.7})
    return out


def write_events(path: Path, rows: list[dict[str, Any]]) -> None:
    lines = [HEADER]
    for r in rows:
        closed = r["registered_at"][:10] + " 23:59" if r["closed"] else ""
        lines.append(f"{r['event_id']},{r['grid_code']},环境卫生,inspector,{r['reported_at']},"
                     f"{r['registered_at']},{closed},false")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def expected(rows: dict[str, dict[str, Any]], month: str, level: str) -> dict[str, tuple]:
    """(closed, registered, reported) per area of ``level`` in local ``month``, counted here."""
    width = {"grid": 15, "community": 12}[level]
    closed: Counter[str] = Counter()
    registered: Counter[str] = Counter()
    reported: Counter[str] = Counter()
    for r in rows.values():
        area = r["grid_code"][:width]
        if r["reported_at"][:7] == month:
            reported[area] += 1
        if r["registered_at"][:7] == month:
            registered[area] += 1
            closed[area] += r["closed"]
    return {a: (closed[a], registered[a], reported[a]) for a in set(registered) | set(reported)}


def computed(m: Metrics, month: str, level: str) -> dict[str, tuple]:
    """The same figures through ``Metrics`` (district grouped by ``level``)."""
    frame = m.compute(KPIS, m.district(), periods.parse(month), level, compare=False)
    out: dict[str, list[int]] = {}
    for r in frame.to_dicts():
        got = out.setdefault(r["key"], [0, 0, 0])
        if r["kpi"] == "grid.closure_rate":
            got[0], got[1] = int(r["numerator"] or 0), int(r["denominator"] or 0)
            if r["denominator"]:
                assert r["value"] == r["numerator"] / r["denominator"]
        else:
            got[2] = int(r["value"] or 0)
    return {k: tuple(v) for k, v in out.items() if any(v)}


class FactReads:
    """Statements that read the grid_events fact table (not its rollups) while active."""

    def __init__(self, engine: Any):
        self.engine, self.seen = engine, []

    def _log(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if re.search(r"(?<![\w])grid_events\b", statement):
            self.seen.append(statement)

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._log)
        return self.seen

    def __exit__(self, *exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._log)


def test_grid_figures_from_the_rollup_and_after_moves(tmp_path: Path, warehouse_url: str
                                                        ) -> None:
    (tmp_path / "grids").mkdir()
    (tmp_path / "inbox").mkdir()
    grids_csv(tmp_path / "grids" / "grids.csv")
    rows = {r["event_id"]: r for r in events(range(0, 300), seed=3)}
    write_events(tmp_path / "inbox" / "a.csv", list(rows.values()))
    cfg = write_config(tmp_path, warehouse_url, [
        divisions_source(),
        {"id": "grids", "plugin": "files", "table": "divisions", "path": "grids/*.csv"},
        {"id": "events", "plugin": "files", "table": "grid_events", "path": "inbox/*.csv"},
    ])
    settings = load_validated(cfg)
    engine = open_warehouse(settings.warehouse_url)
    catalog = load_catalog()
    ensure_rollups(engine, catalog)

    def run(*ids: str) -> None:
        results = Runner(settings, engine, observers=[RollupObserver(catalog)]).run(
            list(ids) or None)
        assert all(r.ok and not r.quarantined for r in results), \
            [(r.error, r.quarantined) for r in results]

    def check() -> None:
        m, raw = Metrics(engine, catalog), Metrics(engine, catalog, use_rollups=False)
        for month in ("2024-03", "2024-05", "2024-06"):
            for level in ("grid", "community"):
                want = expected(rows, month, level)
                assert want, month
                with FactReads(engine) as reads:
                    assert computed(m, month, level) == want, (month, level)
                assert reads == [], "grid figures of a month must come from the rollup"
                with FactReads(engine) as reads:
                    assert computed(raw, month, level) == want, (month, level)
                assert reads, "the facts path reads the fact table (the check is live)"
        grid = m.scope("grid", GRIDS[0])
        with FactReads(engine) as reads:
            one = m.compute(["grid.closure_rate"], grid, periods.parse("2024-05"))
        assert reads == []
        row = one.row(0, named=True)
        want = expected(rows, "2024-05", "grid").get(GRIDS[0], (0, 0, 0))
        assert (row["numerator"] or 0, row["denominator"] or 0) == want[:2]
        prev = expected(rows, "2024-04", "grid").get(GRIDS[0], (0, 0, 0))
        assert row["prev_value"] == (prev[0] / prev[1] if prev[1] else None)

    run()
    check()
    fam = families(catalog)[("grid_events", "registered_at")]
    assert fam.gridded
    with engine.connect() as conn:
        areas = {a for a, _ in snapshot(conn, fam)}
    assert areas == {r["grid_code"] for r in rows.values() if r["registered_at"]}

    # 120 events move to another grid (within and across communities and streets), some to
    # another month, some are closed now; 40 are new
    moved = events(range(180, 340), seed=4)
    for r in moved:
        rows[r["event_id"]] = r
    write_events(tmp_path / "inbox" / "b.csv", moved)
    run("events")
    with write_transaction(engine) as conn:
        for f in families(catalog).values():
            if f.table == "grid_events":
                kept = snapshot(conn, f)
                rebuild(conn, f)
                assert snapshot(conn, f) == kept, f.name
        conn.rollback()
    check()


def test_a_warehouse_with_community_rollups_rebuilds_only_the_grid_families(
        sqlite_url: str) -> None:
    """Before grid rollups, a family's fingerprint was (version, table, time, measures) for
    every table: a warehouse stamped so rebuilds the grid-level families, not the others."""
    engine = open_warehouse(sqlite_url)
    catalog = load_catalog()
    fams = families(catalog).values()
    ensure_rollups(engine, catalog)
    gridded = {f.name for f in fams if f.gridded}
    assert "rollup_grid_events__registered_at" in gridded
    assert len(gridded) < len(list(fams))
    with write_transaction(engine) as conn:
        for f in fams:
            spec = [ROLLUP_VERSION, f.table, f.time, sorted(f.measures)]
            old = hashlib.sha1(json.dumps(spec).encode()).hexdigest()[:16]
            if f.gridded:
                assert old != f.fingerprint
            else:
                assert old == f.fingerprint, f.name  # unchanged: not rebuilt on upgrade
            conn.execute(update(warehouse_meta).where(
                warehouse_meta.c.key == f"rollup:{f.name}").values(value=old))
    assert set(ensure_rollups(engine, catalog)) == gridded
