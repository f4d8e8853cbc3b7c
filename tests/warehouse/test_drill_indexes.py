"""The drill-through's time-column indexes: created once on either engine, then left alone;
on SQLite the first page of a month is then read through the index (no table scan)."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from warehouse import drill_indexes


def test_ensure_creates_the_indexes_once(engine: Engine) -> None:
    names = [n for n, _, _ in drill_indexes.DRILL_INDEXES]
    assert drill_indexes.ensure(engine) == names
    assert drill_indexes.ensure(engine) == []
    insp = inspect(engine)
    have = {ix["name"]: (t, ix["column_names"]) for t in ("service_cases", "grid_events")
            for ix in insp.get_indexes(t)}
    for name, table, col in drill_indexes.DRILL_INDEXES:
        assert have[name] == (table, [col])
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            plan = " ".join(str(r[3]) for r in conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT case_id FROM service_cases WHERE submitted_at >= "
                "'2025-11-30 16:00:00' AND submitted_at < '2025-12-31 16:00:00' "
                "ORDER BY submitted_at DESC, case_id LIMIT 50")))
        assert "ix_service_cases_submitted_at" in plan, plan
