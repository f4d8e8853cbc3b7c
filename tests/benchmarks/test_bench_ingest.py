"""``make bench-ingest`` end to end at a tiny size (SQLite only, no dlt, no RSS child): the
command line still runs through its split modules, and ``ingest.json`` keeps the keys scripts
and the README read, with figures that agree with the generated file."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import bench_ingest, bench_ingest_data

REPO = Path(__file__).resolve().parents[2]

ROWS = 300

# The keys of benchmarks/out/ingest.json (README "Output"): a public interface, not code output.
KEYS = {
    "rows", "gongzhi_s", "gongzhi_rows_per_s", "gongzhi_phases_s", "dlt_s", "dlt_rows_per_s",
    "dlt_steps_s", "dlt_loader_file_formats", "ratio", "postgres_s", "postgres_rows_per_s",
    "postgres_phases_s", "dlt_postgres_s", "dlt_postgres_rows_per_s", "dlt_postgres_steps_s",
    "dlt_postgres_loader_file_formats", "postgres_ratio", "reingest_s", "reingest_changed_rows",
    "remerge_s", "remerge_changed_rows", "remerge_phases_s", "postgres_reingest_s",
    "postgres_remerge_s", "postgres_remerge_changed_rows", "postgres_remerge_phases_s",
    "machine", "bars", "errors", "repeat", "postgres_runs_s", "dlt_postgres_runs_s",
    "meets_bars", "pg_prepare",
}


def test_a_tiny_run_writes_every_key_with_figures_that_add_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the CSV cache and the work folder go to tmp, not the checkout's benchmarks/{data,out}
    monkeypatch.setattr(bench_ingest_data, "DATA_DIR", tmp_path / "data")
    monkeypatch.setattr(bench_ingest, "OUT_DIR", tmp_path / "out")
    out = tmp_path / "ingest.json"
    assert bench_ingest.main(["--rows", str(ROWS), "--skip-dlt", "--skip-postgres",
                              "--rss-rows", "0", "--out", str(out)]) == 0
    r = json.loads(out.read_text(encoding="utf-8"))
    assert set(r) == KEYS

    [data] = (tmp_path / "data").glob("*.csv")
    with data.open(encoding="utf-8", newline="") as f:
        cases = list(csv.DictReader(f))
    assert len(cases) == len({c["case_id"] for c in cases}) == r["rows"] == ROWS
    # rows/s comes from the unrounded seconds; gongzhi_s is that rounded to the millisecond
    s = r["gongzhi_s"]
    assert ROWS / (s + 0.0005) - 1 <= r["gongzhi_rows_per_s"] <= ROWS / max(s - 0.0005, 1e-9) + 1
    assert (r["reingest_changed_rows"], r["remerge_changed_rows"]) == (0, 0)
    assert r["meets_bars"]["reingest_changed_rows"] and r["meets_bars"]["ratio"] is False
    assert r["dlt_s"] is r["ratio"] is r["postgres_s"] is r["postgres_ratio"] is None
    assert set(r["gongzhi_phases_s"]) >= {"extract_and_cast"}
    assert r["errors"] == {}
    assert not list((tmp_path / "out").glob("work-*"))  # the work folder is removed


@pytest.mark.postgres
def test_each_timed_postgresql_load_starts_from_a_prepared_server(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_schema_url: str) -> None:
    """``before`` (the server's preparation) runs once, after the untimed divisions load and
    before the timed first load; ``prepare`` makes the server checkpoint and, when its
    autovacuum is off, vacuums the catalogs (their dead rows are gone)."""
    from sqlalchemy import create_engine, func, select, text

    from benchmarks import bench_ingest_pg
    from benchmarks.bench_ingest_gongzhi import run_gongzhi
    from warehouse.schema import divisions, service_cases

    monkeypatch.setattr(bench_ingest_data, "DATA_DIR", tmp_path / "data")
    csv_path = bench_ingest_data.cases_csv(ROWS)
    engine = create_engine(pg_schema_url)
    seen: list[tuple[int, int]] = []

    def before() -> None:
        with engine.connect() as c:
            seen.append((c.execute(select(func.count()).select_from(divisions)).scalar_one(),
                         c.execute(select(func.count()).select_from(service_cases))
                         .scalar_one()))

    try:
        run = run_gongzhi("postgresql", pg_schema_url, csv_path, ROWS, tmp_path / "w",
                          before=before)
    finally:
        engine.dispose()
    assert len(seen) == 1 and seen[0][0] > 0 and seen[0][1] == 0
    assert run.seconds > 0

    admin = create_engine(bench_ingest_pg.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        def requested() -> int:
            with admin.connect() as c:
                return int(c.execute(text(
                    "SELECT checkpoints_req FROM pg_stat_bgwriter")).scalar_one())
        with admin.connect() as c:
            autovacuum = c.execute(text("SHOW autovacuum")).scalar_one()
            c.execute(text("CREATE TABLE pg_temp.t_dead (a int)"))
            c.execute(text("DROP TABLE pg_temp.t_dead"))  # a dead row in pg_class, at least
        def vacuumed_at() -> Any:
            with admin.connect() as c:
                return c.execute(text("SELECT last_vacuum FROM pg_stat_sys_tables "
                                      "WHERE relname = 'pg_attribute'")).scalar_one()
        n, before_vacuum = requested(), vacuumed_at()
        steps = bench_ingest_pg.prepare()
        assert requested() > n  # (other tests may checkpoint too)
        assert "CHECKPOINT" in steps
        vacuumed = "VACUUM pg_catalog (autovacuum is off)" in steps
        assert vacuumed == (autovacuum == "off")
        if vacuumed:
            assert vacuumed_at() is not None
            assert before_vacuum is None or vacuumed_at() > before_vacuum
    finally:
        admin.dispose()


@pytest.mark.postgres
def test_ci_vacuums_the_same_catalog_tables_as_the_bench(pg_schema_url: str) -> None:
    """``.ci/run`` calls ``python -m benchmarks.bench_ingest_pg vacuum-catalogs``: one list of
    the catalog tables (every table of ``pg_catalog``), vacuumed when autovacuum is off."""
    import subprocess
    import sys

    from sqlalchemy import create_engine, text

    from benchmarks import bench_ingest_pg

    assert "benchmarks.bench_ingest_pg vacuum-catalogs" in (REPO / ".ci" / "run").read_text()
    admin = create_engine(bench_ingest_pg.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            autovacuum = c.execute(text("SHOW autovacuum")).scalar_one()
            tables = set(c.execute(text(
                "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = "
                "'pg_catalog'::regnamespace")).scalars())
            vacuums = bench_ingest_pg.catalog_vacuums(c)

        def vacuumed_at() -> Any:
            with admin.connect() as c:
                return c.execute(text("SELECT last_vacuum FROM pg_stat_sys_tables "
                                      "WHERE relname = 'pg_depend'")).scalar_one()
        before = vacuumed_at()
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_ingest_pg",
                              "vacuum-catalogs"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout
        after = vacuumed_at()
    finally:
        admin.dispose()
    assert {v.removeprefix("VACUUM pg_catalog.") for v in vacuums} == tables
    assert {"pg_attribute", "pg_class", "pg_depend", "pg_type"} <= tables
    if autovacuum == "off":
        assert out.startswith(f"catalog VACUUM done ({len(tables)} tables")
        assert after is not None and (before is None or after > before)
    else:
        assert out.startswith("autovacuum is on")
