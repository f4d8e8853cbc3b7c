"""``make bench-ingest``: a 1M-row service-case CSV into Gongzhi and into dlt 1.31, side by side.

Both load the same file into the same engines (the embedded default, a SQLite file, and
PostgreSQL), merged on ``case_id``. Gongzhi's timed span is one ``Runner.run`` of a ``files``
source: read, hash, parse, cast to the contract, quarantine check, de-duplicate, stage, merge and
write the run log, all in its own transaction. Results go to ``benchmarks/out/ingest.json``.

The parts: the data (``bench_ingest_data``), the Gongzhi side (``bench_ingest_gongzhi``), the
dlt baseline (``bench_ingest_dlt``), the scratch PostgreSQL (``bench_ingest_pg``), peak memory
(``bench_ingest_rss``) and the JSON and summary (``bench_ingest_report``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any, TypeVar

from benchmarks.bench_ingest_data import OUT_DIR, cases_csv
from benchmarks.bench_ingest_dlt import run_dlt
from benchmarks.bench_ingest_gongzhi import GongzhiRun, profile_gongzhi, run_gongzhi
from benchmarks.bench_ingest_pg import (
    SCHEMA_PREFIX,
    dlt_dsn,
    pg_schema,
    pg_server_version,
    prepare,
    schema_url,
)
from benchmarks.bench_ingest_report import report, summary
from benchmarks.bench_ingest_rss import peak_rss

T = TypeVar("T")


def seconds_of(run: dict[str, Any]) -> float:
    """A dlt run's timed seconds."""
    return float(run["seconds"])


def median_run(runs: list[T], key: Callable[[T], float]) -> T | None:
    """The run whose time is the (lower) median: its phases and steps go into the report."""
    return sorted(runs, key=key)[(len(runs) - 1) // 2] if runs else None


_PREPARED: list[list[str]] = []  # what was done before each timed PostgreSQL load


def _prepared(steps: list[str]) -> None:
    _PREPARED.append(steps)


def _gongzhi_pg(csv_path: Path, rows: int, work: Path, tag: str) -> GongzhiRun:
    """One Gongzhi first load into a fresh scratch schema, dropped afterwards."""
    schema = f"{SCHEMA_PREFIX}{uuid.uuid4().hex[:10]}"
    pg_schema(True, schema)
    try:
        print(f"Gongzhi → PostgreSQL{tag} …", flush=True)
        return run_gongzhi("postgresql", schema_url(schema), csv_path, rows, work,
                           before=lambda: _prepared(prepare()))
    finally:
        pg_schema(False, schema)


def _dlt_pg(csv_path: Path, work: Path, tag: str,
            errors: dict[str, str]) -> dict[str, Any] | None:
    """One dlt load into a fresh dataset, dropped afterwards (None, in errors, if it failed)."""
    print(f"dlt → PostgreSQL{tag} …", flush=True)
    dataset = f"{SCHEMA_PREFIX}dlt_{uuid.uuid4().hex[:10]}"
    try:
        _prepared(prepare())  # as before Gongzhi's timed run: the same server state
        return run_dlt("postgres", dlt_dsn(), dataset, csv_path, work)
    except RuntimeError as e:
        errors["dlt_postgres"] = str(e)
        return None
    finally:  # dlt makes the dataset and a _staging one beside it
        pg_schema(False, dataset)
        pg_schema(False, f"{dataset}_staging")


def main(argv: list[str] | None = None) -> int:
    """Command line of ``make bench-ingest``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows in the CSV")
    p.add_argument("--skip-dlt", action="store_true", help="leave out the dlt baseline")
    p.add_argument("--skip-postgres", action="store_true", help="leave out PostgreSQL")
    p.add_argument("--profile", action="store_true",
                   help="also profile one embedded load (benchmarks/out/ingest_profile.txt)")
    p.add_argument("--out", type=Path, default=OUT_DIR / "ingest.json")
    p.add_argument("--repeat", type=int, default=1,
                   help="PostgreSQL first loads per side, alternating; medians are reported")
    p.add_argument("--rss-rows", type=int, default=10_000_000,
                   help="rows of the source whose peak RSS is measured (0: skip)")
    a = p.parse_args(argv)
    if a.repeat < 1:
        p.error("--repeat must be at least 1")

    csv_path = cases_csv(a.rows)
    _PREPARED.clear()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="work-", dir=OUT_DIR))
    errors: dict[str, str] = {}
    dlt = None
    gz_pgs: list[GongzhiRun] = []
    dlt_pgs: list[dict[str, Any]] = []
    rss: dict[str, Any] = {}
    pg_version = None if a.skip_postgres else pg_server_version()
    try:
        print("Gongzhi → SQLite …", flush=True)
        gz = run_gongzhi("sqlite", f"sqlite:///{work / 'gz' / 'warehouse.db'}", csv_path,
                         a.rows, work / "gz")
        if not a.skip_dlt:
            print("dlt → SQLite …", flush=True)
            try:
                dlt = run_dlt("sqlite", f"sqlite:///{work / 'dlt' / 'warehouse.db'}", "main",
                              csv_path, work / "dlt")
            except RuntimeError as e:
                errors["dlt_sqlite"] = str(e)
        if pg_version is not None:
            # --repeat: the two PostgreSQL sides alternate, so a shift of the machine's load
            # falls on both alike; the report takes the medians
            for i in range(a.repeat):
                tag = f" ({i + 1}/{a.repeat})" if a.repeat > 1 else ""
                gz_pgs.append(_gongzhi_pg(csv_path, a.rows, work / f"gz_pg{i}", tag))
                if not a.skip_dlt:
                    one = _dlt_pg(csv_path, work / f"dlt_pg{i}", tag, errors)
                    if one is not None:
                        dlt_pgs.append(one)
        if a.rss_rows:
            print(f"peak RSS of gongzhi ingest, {a.rss_rows:,} rows …", flush=True)
            rss = peak_rss(cases_csv(a.rss_rows), a.rss_rows, work / "rss")
        if a.profile:
            profile_gongzhi(f"sqlite:///{work / 'prof' / 'warehouse.db'}", csv_path,
                            work / "prof", a.out.with_name("ingest_profile.txt"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    for name, r in [("dlt_sqlite", dlt)] + [("dlt_postgres", r) for r in dlt_pgs]:
        if r is not None and r["rows"] != a.rows:
            errors[name] = f"dlt loaded {r['rows']:,} rows, not {a.rows:,}"
    gz_pg, dlt_pg = median_run(gz_pgs, lambda r: r.seconds), median_run(dlt_pgs, seconds_of)
    result = report(a.rows, gz, gz_pg, dlt, dlt_pg, pg_version, errors)
    result["repeat"] = a.repeat
    result["postgres_runs_s"] = [round(r.seconds, 3) for r in gz_pgs]
    # the server's preparation before the timed loads (the steps every load had)
    result["pg_prepare"] = (sorted(set.intersection(*(set(p) for p in _PREPARED)))
                            if _PREPARED else [])
    result["dlt_postgres_runs_s"] = [r["seconds"] for r in dlt_pgs]
    if gz_pgs:  # the medians, and the ratio of the medians (not the ratio within one pair)
        gz_med = median(r.seconds for r in gz_pgs)
        result["postgres_s"] = round(gz_med, 3)
        result["postgres_rows_per_s"] = round(a.rows / gz_med)
        if dlt_pgs:
            dlt_med = median(seconds_of(r) for r in dlt_pgs)
            result["dlt_postgres_s"] = dlt_med
            result["dlt_postgres_rows_per_s"] = round(a.rows / dlt_med)
            result["postgres_ratio"] = round(dlt_med / gz_med, 2)
    result.update(rss)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(summary(result))
    print(f"written to {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
