"""Rollups kept by deltas during runs equal rollups rebuilt from the facts, through inserts,
updates that move rows between months and communities, re-runs, and catalogue changes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import select

from ingest.registry import load_validated
from ingest.runner import Runner
from metrics.catalog import load_catalog
from metrics.rollup import (
    Family,
    RollupObserver,
    distinct_families,
    ensure_rollups,
    families,
    rebuild,
)
from tests.conftest import divisions_source, write_config
from warehouse.engine import open_warehouse, write_transaction

COMMUNITIES = ["420606001001", "420606001002", "420606002001", "420606003001"]
CHANNELS = ["online", "window", "station", "self_service", "help_desk"]
HEADER = ("case_id,item_code,community_code,channel,submitted_at,completed_at,status,visits,"
          "rating,rectified")


def cases_csv(path: Path, ids: range, seed: int) -> None:
    rnd = random.Random(seed)
    lines = [HEADER]
    for i in ids:
        month = rnd.randint(1, 6)
        done = rnd.random() < 0.8
        rating = rnd.choice(["", "1", "2", "3", "4", "5"])
        lines.append(",".join([
            f"C{i:05d}", rnd.choice(["I1", "I2", "I3"]), rnd.choice(COMMUNITIES),
            rnd.choice(CHANNELS), f"2024-{month:02d}-{rnd.randint(1, 28):02d} 10:00",
            f"2024-{month + 1:02d}-{rnd.randint(1, 28):02d} 11:00" if done else "",
            "completed" if done else "accepted", str(rnd.randint(0, 3)), rating,
            rnd.choice(["true", "false", ""]) if rating in ("1", "2") else "",
        ]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def items_csv(path: Path, promised: int) -> None:
    path.write_text("item_code,item_name,online_capable,promised_days\n"
                    f"I1,甲,true,{promised}\nI2,乙,false,0\nI3,丙,true,5\n", encoding="utf-8")


def snapshot(conn, fam: Family) -> dict:
    rt = fam.sa_table()
    rows = {}
    for r in conn.execute(select(rt)).mappings():
        vals = {k: round(float(v), 6) for k, v in r.items() if k not in ("area", "month")}
        if any(vals.values()):
            rows[(r["area"], r["month"])] = vals
    return rows


def assert_rollups_match_rebuild(engine) -> None:
    catalog = load_catalog()
    for fam in families(catalog).values():
        if fam.table not in ("service_cases", "service_items"):
            continue
        with write_transaction(engine) as conn:
            kept = snapshot(conn, fam)
            rebuild(conn, fam)
            rebuilt = snapshot(conn, fam)
            conn.rollback()
        assert kept == rebuilt, fam.name


def test_delta_maintenance_equals_rebuild(tmp_path: Path, warehouse_url: str) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "items").mkdir()
    items_csv(tmp_path / "items" / "a.csv", 3)
    cases_csv(tmp_path / "inbox" / "a.csv", range(0, 400), seed=1)
    cfg = write_config(tmp_path, warehouse_url, [
        divisions_source(),
        {"id": "items", "plugin": "files", "table": "service_items", "path": "items/*.csv"},
        {"id": "cases", "plugin": "files", "table": "service_cases", "path": "inbox/*.csv"},
    ])
    settings = load_validated(cfg)
    engine = open_warehouse(settings.warehouse_url)
    catalog = load_catalog()
    ensure_rollups(engine, catalog)

    def run(*ids: str) -> None:
        results = Runner(settings, engine, observers=[RollupObserver(catalog)]).run(
            list(ids) or None)
        assert all(r.ok for r in results), [r.error for r in results]

    run()
    assert_rollups_match_rebuild(engine)
    # 200 rows re-drawn (months, communities, channels and completion move) + 100 new
    cases_csv(tmp_path / "inbox" / "b.csv", range(200, 500), seed=2)
    run("cases")
    assert_rollups_match_rebuild(engine)
    # the same rows again in another file: nothing changes
    (tmp_path / "inbox" / "c.csv").write_text(
        (tmp_path / "inbox" / "b.csv").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    run("cases")
    assert_rollups_match_rebuild(engine)
    # promised days change: on-time counts behind gov.on_time_rate must follow
    items_csv(tmp_path / "items" / "b.csv", 0)
    run("items")
    assert_rollups_match_rebuild(engine)


def test_catalogue_change_rebuilds_only_changed_families(tmp_path: Path, sqlite_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    engine = open_warehouse(sqlite_url)
    catalog = load_catalog()
    first = ensure_rollups(engine, catalog)
    assert set(first) == ({f.name for f in families(catalog).values()}
                          | {f.name for f in distinct_families(catalog).values()})
    assert ensure_rollups(engine, catalog) == []
    folder = tmp_path / "kpis"
    folder.mkdir()
    src = Path(__file__).resolve().parents[2] / "config" / "kpis"
    for f in src.glob("*.yaml"):
        text = f.read_text(encoding="utf-8")
        if f.stem == "gov":
            text = text.replace("value: station}", "value: self_service}")
        (folder / f.name).write_text(text, encoding="utf-8")
    assert ensure_rollups(engine, load_catalog(folder)) == [
        "rollup_service_cases__submitted_at"]
