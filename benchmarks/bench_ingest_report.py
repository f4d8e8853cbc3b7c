"""The report of ``make bench-ingest``: the bars of DESIGN §8, the JSON written to
``benchmarks/out/ingest.json`` (its keys are read by people and scripts: keep them) and the
printed summary."""

from __future__ import annotations

import os
import platform
import sqlite3
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy

from benchmarks.bench_ingest_gongzhi import GongzhiRun

BARS = {"gongzhi_rows_per_s_min": 200_000, "ratio_min": 3.0, "reingest_s_max": 2.0,
        "reingest_changed_rows_max": 0}


def _rate(rows: int, seconds: float | None) -> float | None:
    return round(rows / seconds) if seconds else None


def machine(pg_version: str | None, dlt: dict[str, Any] | None) -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "nproc": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "polars": pl.__version__,
        "sqlalchemy": sqlalchemy.__version__, "numpy": np.__version__,
        "sqlite": sqlite3.sqlite_version, "postgresql": pg_version,
        "dlt": (dlt or {}).get("dlt_version"), "dlt_python": (dlt or {}).get("python"),
    }


def report(rows: int, gz: GongzhiRun, gz_pg: GongzhiRun | None, dlt: dict[str, Any] | None,
           dlt_pg: dict[str, Any] | None, pg_version: str | None,
           errors: dict[str, str]) -> dict[str, Any]:
    """The JSON written to benchmarks/out/ingest.json."""
    gz_rate = _rate(rows, gz.seconds)
    dlt_rate = _rate(rows, dlt["seconds"]) if dlt else None
    ratio = round(gz_rate / dlt_rate, 2) if gz_rate and dlt_rate else None
    out: dict[str, Any] = {
        "rows": rows,
        "gongzhi_s": round(gz.seconds, 3), "gongzhi_rows_per_s": gz_rate,
        "gongzhi_phases_s": gz.phases,
        "dlt_s": dlt and dlt["seconds"], "dlt_rows_per_s": dlt_rate,
        "dlt_steps_s": dlt and dlt["steps"],
        "dlt_loader_file_formats": dlt and dlt["loader_file_formats"],
        "ratio": ratio,
        "postgres_s": gz_pg and round(gz_pg.seconds, 3),
        "postgres_rows_per_s": gz_pg and _rate(rows, gz_pg.seconds),
        "postgres_phases_s": gz_pg and gz_pg.phases,
        "dlt_postgres_s": dlt_pg and dlt_pg["seconds"],
        "dlt_postgres_rows_per_s": dlt_pg and _rate(rows, dlt_pg["seconds"]),
        "dlt_postgres_steps_s": dlt_pg and dlt_pg["steps"],
        "dlt_postgres_loader_file_formats": dlt_pg and dlt_pg["loader_file_formats"],
        "postgres_ratio": (round(dlt_pg["seconds"] / gz_pg.seconds, 2)
                           if gz_pg and dlt_pg else None),
        "reingest_s": round(gz.reingest_s, 3),
        "reingest_changed_rows": gz.reingest_changed_rows,
        "remerge_s": round(gz.remerge_s, 3),
        "remerge_changed_rows": gz.remerge_changed_rows,
        "remerge_phases_s": gz.remerge_phases,
        "postgres_reingest_s": gz_pg and round(gz_pg.reingest_s, 3),
        "postgres_remerge_s": gz_pg and round(gz_pg.remerge_s, 3),
        "postgres_remerge_changed_rows": gz_pg and gz_pg.remerge_changed_rows,
        "postgres_remerge_phases_s": gz_pg and gz_pg.remerge_phases,
        "machine": machine(pg_version, dlt or dlt_pg),
        "bars": BARS,
        "errors": errors,
    }
    meets = {
        "gongzhi_rows_per_s": bool(gz_rate and gz_rate >= BARS["gongzhi_rows_per_s_min"]),
        "ratio": bool(ratio and ratio >= BARS["ratio_min"]),
        "reingest_s": gz.reingest_s <= BARS["reingest_s_max"],
        "reingest_changed_rows": gz.reingest_changed_rows <= BARS["reingest_changed_rows_max"],
    }
    meets["all"] = all(meets.values())
    out["meets_bars"] = meets
    return out


def summary(r: dict[str, Any]) -> str:
    """A readable table of the figures that have bars, and the ones that explain them."""
    def f(v: Any, unit: str = "") -> str:
        if v is None:
            return "—"
        if isinstance(v, float):
            return f"{v:,.2f}{unit}"
        return f"{v:,}{unit}"

    ok = r["meets_bars"]
    mark = {True: "ok", False: "BELOW BAR"}
    lines = [
        f"ingest benchmark: {r['rows']:,} service cases "
        f"({r['machine']['nproc']} cores, Python {r['machine']['python']})",
        f"{'':28}{'seconds':>10}{'rows/s':>14}",
        f"{'Gongzhi → SQLite':28}{f(r['gongzhi_s']):>10}{f(r['gongzhi_rows_per_s']):>14}"
        f"   bar ≥ {BARS['gongzhi_rows_per_s_min']:,}: {mark[ok['gongzhi_rows_per_s']]}",
        f"{'dlt → SQLite (SQLAlchemy)':28}{f(r['dlt_s']):>10}{f(r['dlt_rows_per_s']):>14}",
        f"{'Gongzhi → PostgreSQL':28}{f(r['postgres_s']):>10}{f(r['postgres_rows_per_s']):>14}",
        f"{'dlt → PostgreSQL':28}{f(r['dlt_postgres_s']):>10}"
        f"{f(r['dlt_postgres_rows_per_s']):>14}",
        *([f"PostgreSQL first loads, {r['repeat']} alternating runs each (medians above): "
           f"Gongzhi {r['postgres_runs_s']} s, dlt {r['dlt_postgres_runs_s']} s"]
          if r.get("repeat", 1) > 1 else []),
        f"ratio on SQLite: {f(r['ratio'], '×')}   bar ≥ {BARS['ratio_min']}×: "
        f"{mark[ok['ratio']]};   on PostgreSQL: {f(r['postgres_ratio'], '×')}",
        f"re-ingest same file: {f(r['reingest_s'], ' s')}, {r['reingest_changed_rows']} rows "
        f"changed   bar ≤ {BARS['reingest_s_max']} s, no change: "
        f"{mark[ok['reingest_s'] and ok['reingest_changed_rows']]}",
        f"re-merge same rows, new bytes: {f(r['remerge_s'], ' s')}, "
        f"{r['remerge_changed_rows']} rows changed",
        f"re-merge on PostgreSQL: {f(r['postgres_remerge_s'], ' s')}, first load there: "
        f"{f(r['postgres_s'], ' s')}",
        f"peak RSS, one {f(r.get('peak_rss_rows'))}-row source: {f(r.get('peak_rss_mb'))} MB",
        f"Gongzhi phases (s): {r['gongzhi_phases_s']}",
    ]
    if r["dlt_steps_s"]:
        lines.append(f"dlt steps (s): {r['dlt_steps_s']}")
    for what, err in r["errors"].items():
        lines.append(f"{what}: {err.splitlines()[0]}")
    return "\n".join(lines)
