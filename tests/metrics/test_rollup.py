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


def test_month_spans_join_consecutive_months() -> None:
    from metrics.rollup.build import _month_spans

    d = __import__("datetime").date
    assert _month_spans([]) == []
    assert _month_spans(["2024-03"]) == [(d(2024, 3, 1), d(2024, 4, 1))]
    # across a year's end, unsorted, repeated; a gap starts a new span
    assert _month_spans(["2025-01", "2024-11", "2024-12", "2024-12", "2025-03"]) == [
        (d(2024, 11, 1), d(2025, 2, 1)), (d(2025, 3, 1), d(2025, 4, 1))]


def test_month_bounds_select_exactly_the_rows_of_the_months(warehouse_url: str) -> None:
    """The ranges a refresh reads (consecutive months joined into one) select the same rows
    as a row-by-row test of each stored time's local month, on both engines (PostgreSQL
    partitioned by month, so the ranges also pick the partitions)."""
    import datetime as dt

    from sqlalchemy import func

    from core.timezone import to_local
    from metrics.rollup.build import _month_bounds
    from warehouse.schema import service_cases

    partition = "month" if warehouse_url.startswith("postgresql") else "none"
    engine = open_warehouse(warehouse_url, partition=partition)
    rnd = random.Random(7)
    start = dt.datetime(2023, 11, 30, 15, 0)  # UTC: around the local (UTC+8) month edges
    rows = []
    for i in range(600):
        at = start + dt.timedelta(hours=rnd.randint(0, 24 * 200), minutes=rnd.choice([0, 59]))
        rows.append({"case_id": f"C{i}", "item_code": "I1", "community_code": "420606001001",
                     "channel": "online", "submitted_at": at, "status": "accepted"})
    # the local month edges themselves (16:00 UTC the day before a month's first day)
    for j, m in enumerate([(2023, 12), (2024, 1), (2024, 2), (2024, 3), (2024, 5)]):
        edge = dt.datetime(*m, 1) - dt.timedelta(hours=8)
        for k, at in enumerate([edge - dt.timedelta(microseconds=1), edge]):
            rows.append({"case_id": f"E{j}{k}", "item_code": "I1",
                         "community_code": "420606001001", "channel": "online",
                         "submitted_at": at, "status": "accepted"})
    with write_transaction(engine) as conn:
        if partition == "month":
            from warehouse import partitions

            partitions.add_months(conn, service_cases, {
                dt.date(2023 + (10 + k) // 12, (10 + k) % 12 + 1, 1) for k in range(9)})
        lineage = {"_run_id": 1, "_ingested_at": dt.datetime(2024, 6, 1), "_source": "t"}
        conn.execute(service_cases.insert(), [{**r, **lineage} for r in rows])
    month_of = {r["case_id"]: to_local(r["submitted_at"]).strftime("%Y-%m") for r in rows}
    for months in (["2024-01"], ["2023-12", "2024-01", "2024-02"],
                   ["2023-11", "2024-01", "2024-02", "2024-05"], ["2024-03", "2023-12"]):
        with engine.connect() as conn:
            got = set(conn.execute(select(service_cases.c.case_id).where(
                _month_bounds(service_cases, "submitted_at", months))).scalars())
            total = conn.execute(select(func.count()).select_from(service_cases)).scalar()
        assert total == len(rows)
        assert got == {c for c, m in month_of.items() if m in months}, months
    engine.dispose()
