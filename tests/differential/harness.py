"""Drawing combinations and comparing every output path with the oracle.

Paths checked: ``Metrics.compute`` through the rollups and straight from the facts (the API the
dashboard's loaders call), ``gongzhi kpi --format json|csv``, the page frames of
``metrics.views`` through ``dashboard.data`` (cards, ranking, board, sparklines, heatmap), and
the CSV/XLSX detail exports. A mismatch names the seed and the draw, so
``GONGZHI_DIFF_SEED=<seed>`` reproduces it.

The draws and the comparison live in :mod:`tests.differential.combos`, the dashboard's paths in
:mod:`tests.differential.pages`, the incremental path in :mod:`tests.differential.increments`;
this module loads the world, checks the API and the CLI, and re-exports the rest (the tests
call everything as ``h.<name>``).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from tests.conftest import write_config
from tests.differential import oracle as o
from tests.differential.combos import (
    DEEP,
    DRAW_FIRST,
    DRAW_LAST,
    DRAWS,
    FIELDS,
    GRAINS,
    GROUPS,
    SCALE,
    SEED,
    Draw,
    close,
    compare,
    draws,
    frame_rows,
    report,
    scopes,
)
from tests.differential.increments import Evolution, evolve, rollup_snapshots
from tests.differential.pages import CHILD, DETAIL, check_export, check_pages, expected_export
from tests.differential.world import World, source_entries, write_sources

__all__ = ["CHILD", "DEEP", "DETAIL", "DRAWS", "DRAW_FIRST", "DRAW_LAST", "FIELDS", "GRAINS",
           "GROUPS", "SCALE", "SEED", "Draw", "Evolution", "build", "check_cli",
           "check_export", "check_metrics", "check_pages", "close", "compare", "draws",
           "evolve", "expected_export", "frame_rows", "ingest", "metrics_scope",
           "parse_period", "period_text", "refused", "report", "rollup_snapshots", "scopes",
           "source_entries", "write_sources"]


def build(w: World, folder: Path, url: str, *, deletes: bool = True) -> Path:
    """Write the world's sources and config into ``folder`` and load them with the runner
    and the rollup observer, as ``gongzhi ingest`` does; returns the config path."""
    write_sources(w, folder)
    cfg = write_config(folder, url, source_entries(w, deletes=deletes))
    ingest(cfg)
    return cfg


def ingest(cfg: Path, ids: list[str] | None = None) -> list[Any]:
    from ingest.registry import load_validated
    from ingest.runner import Runner
    from metrics.rollup import observers_for
    from warehouse.engine import open_warehouse

    settings = load_validated(cfg)
    engine = open_warehouse(settings.warehouse_url)
    try:
        results = Runner(settings, engine, observers=observers_for(settings)).run(ids)
    finally:
        engine.dispose()
    failed = [(r.source, r.error) for r in results if not r.ok]
    assert not failed, failed
    return results


def parse_period(text: str) -> Any:
    from metrics import periods

    return periods.parse(text)


def period_text(p: o.Span) -> str:
    return p.label


def metrics_scope(m: Any, s: o.Scope) -> Any:
    from metrics.compiler import Scope

    return Scope(s.level, s.code, "")


def check_metrics(m: Any, orc: o.Oracle, d: Draw, how: str) -> list[str]:
    frame = m.compute(list(d.kpis), metrics_scope(m, d.scope), parse_period(d.period.label),
                      d.group)
    problems = []
    for k in d.kpis:
        problems += compare(orc.compute(k, d.scope, d.period, d.group), frame_rows(frame, k),
                            f"{d.describe()} [{how}] {k}")
    return problems


def refused(d: Draw) -> list[str]:
    """The draw's KPIs ``gongzhi kpi --by`` refuses: kept at a level coarser than the
    grouping's (12345 requests by grid, the street tables by community)."""
    if d.group not in ("street", "community", "grid"):
        return []
    return [k for k in d.kpis if o.EVERY.index(o.kept_at(k)) < o.EVERY.index(d.group)]


def _cli(cfg: Path, d: Draw, fmt: str) -> str | None:
    """The command's output; None when it refused the draw's grouping (checked here: exit 2
    naming every KPI kept at a coarser level)."""
    from click.testing import CliRunner

    from gongzhi.cli import cli

    args = ["--config", str(cfg), "kpi", "--period", d.period.label, "--format", fmt]
    if d.scope.level != "district":
        args += [f"--{d.scope.level}", d.scope.code]
    for k in d.kpis:
        args += ["--kpi", k]
    if d.group:
        args += ["--by", d.group]
    res = CliRunner().invoke(cli, args)
    coarse = refused(d)
    if coarse:
        assert res.exit_code == 2, (d.describe(), res.output, res.exception)
        assert all(f"{k} is kept per {o.kept_at(k)}" in res.output for k in coarse), (
            d.describe(), res.output)
        return None
    assert res.exit_code == 0, (d.describe(), res.output, res.exception)
    return res.output


def _num(v: str) -> Any:
    if v == "":
        return None
    try:
        return float(v)
    except ValueError:
        return v


def check_cli(cfg: Path, orc: o.Oracle, d: Draw, fmt: str) -> list[str]:
    """``gongzhi kpi --format json|csv``: the JSON keys of DESIGN §7, the same figures."""
    out = _cli(cfg, d, fmt)
    if out is None:  # refused: the oracle has no figures for those KPIs at that level either
        return [f"{d.describe()} [cli {fmt}] {k}: refused, the oracle has figures"
                for k in refused(d) if orc.compute(k, d.scope, d.period, d.group)]
    names = orc.w.names()
    if fmt == "json":
        rows = json.loads(out)
    else:
        rows = [{k: (_num(v) if k not in ("kpi", "key", "period", "status", "scope", "unit",
                                          "label") else (v or None))
                 for k, v in r.items()} for r in csv.DictReader(io.StringIO(out))]
        for r in rows:
            r["sample"] = int(r["sample"]) if r["sample"] is not None else None
    problems = []
    for k in d.kpis:
        got = {r.get("key"): r for r in rows if r["kpi"] == k}
        want = orc.compute(k, d.scope, d.period, d.group)
        problems += compare(want, got, f"{d.describe()} [cli {fmt}] {k}",
                            ("value", "numerator", "denominator", "sample", "status", "period",
                             "delta_prev", "delta_yoy", "target"))
        for key, r in got.items():
            if r["scope"] != f"{d.scope.level}:{d.scope.code}":
                problems.append(f"{d.describe()} [cli {fmt}] {k}: scope {r['scope']}")
            if d.group in ("street", "community", "grid") and r.get("key_name") != names[key]:
                problems.append(f"{d.describe()} [cli {fmt}] {k} [{key}]: named "
                                f"{r.get('key_name')!r}, expected {names[key]!r}")
    return problems
