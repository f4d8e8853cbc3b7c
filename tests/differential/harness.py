"""Drawing combinations and comparing every output path with the oracle.

Paths checked: ``Metrics.compute`` through the rollups and straight from the facts (the API the
dashboard's loaders call), ``gongzhi kpi --format json|csv``, the page frames of
``metrics.views`` through ``dashboard.data`` (cards, ranking, board, sparklines, heatmap), and
the CSV/XLSX detail exports. A mismatch names the seed and the draw, so
``GONGZHI_DIFF_SEED=<seed>`` reproduces it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from tests.conftest import write_config
from tests.differential import oracle as o
from tests.differential.world import World, source_entries, write_sources

SEED = int(os.environ.get("GONGZHI_DIFF_SEED", "20240531"))
# draws per engine; `make test-deep` raises it (and the data) for thousands of combinations
DRAWS = int(os.environ.get("GONGZHI_DIFF_DRAWS", "160"))
SCALE = float(os.environ.get("GONGZHI_DIFF_SCALE", "1"))
# `make test-deep` (GONGZHI_DEEP=1): the samples that CI takes a cross-section of, in full
DEEP = os.environ.get("GONGZHI_DEEP") == "1"
FIELDS = ("value", "numerator", "denominator", "sample", "prev_value", "ly_value",
          "delta_prev", "delta_yoy", "status", "target", "period")
GRAINS = ("day", "week", "month", "quarter", "year")
GROUPS = (None, "month", "street", "community", "grid")
# periods are drawn a little beyond the data on both sides: empty periods must say so
DRAW_FIRST, DRAW_LAST = dt.date(2022, 11, 1), dt.date(2026, 2, 28)


@dataclass(frozen=True)
class Draw:
    n: int
    kpis: tuple[str, ...]
    scope: o.Scope
    period: o.Span
    group: str | None

    def describe(self) -> str:
        return (f"seed {SEED} draw #{self.n}: {','.join(self.kpis)} {self.scope.level}:"
                f"{self.scope.code} {self.period.label} by {self.group}")


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


def scopes(w: World) -> dict[str, list[o.Scope]]:
    d = w.divisions
    district = d.filter(pl.col("level") == "district")["code"][0]
    streets = sorted({c[:9] + "000" for c in w.communities})
    # one street and one community without any rows: every KPI must say "no data" there
    other_street = next(s for s in d.filter(pl.col("level") == "street")["code"]
                        if s not in streets)
    empty_comm = next(c for c in d.filter(pl.col("level") == "community")["code"]
                      if c not in w.communities and c[:9] + "000" in streets)
    return {"district": [o.Scope("district", district)],
            "street": [o.Scope("street", s) for s in [*streets, other_street]],
            "community": [o.Scope("community", c) for c in [*w.communities, empty_comm]],
            "grid": [o.Scope("grid", g) for g in w.grids]}


def draws(w: World, count: int, seed: int = SEED) -> list[Draw]:
    """``count`` combinations; every KPI, level, grain and grouping comes round in turn so
    that even a small draw covers each of them, the rest is random."""
    r = random.Random(seed)
    by_level = scopes(w)
    kpis = sorted(o.KPIS)
    out = []
    for n in range(count):
        level = ("district", "street", "community", "grid")[n % 4]
        grain = GRAINS[(n // 4) % 5]
        group = GROUPS[r.randrange(5)] if n >= 25 else GROUPS[(n // 5) % 5]
        first = kpis[n % len(kpis)]
        extra = r.sample(kpis, r.choice([0, 0, 1, 2]))
        day = DRAW_FIRST + dt.timedelta(days=r.randint(0, (DRAW_LAST - DRAW_FIRST).days))
        out.append(Draw(n, tuple(dict.fromkeys([first, *extra])),
                        r.choice(by_level[level]), o.span(grain, day), group))
    return out


def parse_period(text: str) -> Any:
    from metrics import periods

    return periods.parse(text)


def period_text(p: o.Span) -> str:
    return p.label


def close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def compare(expected: dict[Any, dict[str, Any]], got: dict[Any, dict[str, Any]], where: str,
            fields: tuple[str, ...] = FIELDS) -> list[str]:
    """Differences between expected and actual rows (by group key), as readable lines."""
    problems = []
    if set(expected) != set(got):
        problems.append(f"{where}: groups differ: expected {sorted(map(str, expected))} "
                        f"got {sorted(map(str, got))}")
    for key in sorted(set(expected) & set(got), key=str):
        for f in fields:
            if f not in got[key]:
                continue
            if not close(expected[key][f], got[key][f]):
                problems.append(f"{where} [{key}] {f}: expected {expected[key][f]!r}, "
                                f"got {got[key][f]!r}")
    return problems


def metrics_scope(m: Any, s: o.Scope) -> Any:
    from metrics.compiler import Scope

    return Scope(s.level, s.code, "")


def frame_rows(frame: pl.DataFrame, kpi: str) -> dict[Any, dict[str, Any]]:
    return {r["key"]: r for r in frame.filter(pl.col("kpi") == kpi).to_dicts()}


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


# -- the dashboard's loaders -------------------------------------------------------------------


CHILD = {"district": "street", "street": "community", "community": "grid", "grid": None}


def check_pages(orc: o.Oracle, d: Draw) -> list[str]:
    """The overview and a domain page through ``dashboard.data`` (the cached loaders a page
    calls, as a district leader), and one KPI's heatmap: every figure against the oracle."""
    from dashboard import data
    from metrics.access import Viewer
    from metrics.catalog import load_catalog

    catalog = load_catalog()
    key = data.key(Viewer("diff", "leader", data.district_code()))
    scope = data.unit_scope(key, d.scope.code)
    where = d.describe()
    problems: list[str] = []
    page = data.overview(key, scope, d.period.label)
    headline = [k for k, v in catalog.kpis.items() if v.headline]
    for k in headline:
        problems += compare(orc.compute(k, d.scope, d.period, None), frame_rows(page.cards, k),
                            f"{where} [overview card] {k}")
        child = CHILD[d.scope.level]
        if child:
            problems += compare(orc.compute(k, d.scope, d.period, child),
                                frame_rows(page.ranking, k), f"{where} [ranking] {k}")
        board_group = "community" if d.scope.level in ("district", "street") else child
        if board_group and o.KPIS[k].target is not None and board_group in o.KPIS[k].levels:
            problems += compare(orc.compute(k, d.scope, d.period, board_group),
                                frame_rows(page.board, k), f"{where} [board] {k}",
                                ("value", "numerator", "denominator", "sample", "status"))
    problems += _sparklines(orc, d, page.sparklines, headline, "overview sparkline")
    domain = d.kpis[0].split(".")[0]
    dom = data.domain_page(key, domain, scope, d.period.label)
    ids = [k for k, v in catalog.kpis.items() if v.domain == domain]
    for k in ids:
        problems += compare(orc.compute(k, d.scope, d.period, None), frame_rows(dom.kpis, k),
                            f"{where} [domain page] {k}")
    problems += _sparklines(orc, d, dom.trend, ids, "domain trend")
    child = CHILD[d.scope.level]
    if child:
        heat = data.heatmap(key, d.kpis[0], scope, d.period.label)
        want: dict[Any, dict[str, Any]] = {}
        for month in _last_months(d.period, 12):
            for area, row in orc.compute(d.kpis[0], d.scope, month, child).items():
                want[(area, month.label)] = row
        got = {(r["area"], r["month"]): r for r in heat.to_dicts()} if heat.height else {}
        problems += compare(want, got, f"{where} [heatmap] {d.kpis[0]}", ("value", "status"))
    return problems


def _last_months(p: o.Span, n: int) -> list[o.Span]:
    last = o.span("month", p.end - dt.timedelta(days=1))
    out = [last]
    while len(out) < n:
        out.insert(0, o.previous(out[0]))
    return out


def _sparklines(orc: o.Oracle, d: Draw, frame: pl.DataFrame, ids: list[str],
                what: str) -> list[str]:
    want: dict[Any, dict[str, Any]] = {}
    for k in ids:
        if not o.KPIS[k].periodic:
            continue
        for month in _last_months(d.period, 12):
            row = orc.compute(k, d.scope, month, None)[None]
            if row["_present"]:
                want[(k, month.label)] = row
    got = {(r["kpi"], r["month"]): r for r in frame.to_dicts()} if frame.height else {}
    return compare(want, got, f"{d.describe()} [{what}]", ("value", "status"))


# -- exports -----------------------------------------------------------------------------------

DETAIL = {  # domain: (table, time column, columns in the order shown)
    "gov": ("service_cases", "submitted_at", ["case_id", "item_code", "community_code",
                                              "channel", "submitted_at", "completed_at",
                                              "status", "visits", "rating", "rectified"]),
    "grid": ("grid_events", "reported_at", ["event_id", "grid_code", "category", "source",
                                            "reported_at", "registered_at", "closed_at",
                                            "deadline_at", "reworked", "satisfaction",
                                            "is_dispute", "mediated"]),
    "vol": ("volunteer_services", "started_at", ["record_id", "volunteer_id",
                                                 "community_code", "activity", "started_at",
                                                 "hours", "timebank"]),
    "party": ("party_deeds", "done_at", ["deed_id", "member_id", "community_code", "done_at",
                                         "kind"]),
    "civic": ("consultations", "raised_at", ["topic_id", "community_code", "mechanism",
                                             "raised_at", "resolved_at", "status"]),
    "hotline": ("hotline_requests", "received_at", [
        "request_id", "community_code", "grid_code", "category", "channel", "received_at",
        "responded_at",
        "closed_at", "deadline_at", "resolved", "satisfaction", "reopened", "title",
        "content"]),
    "street": ("enforcement_cases", "opened_at", ["case_id", "street_code", "item_code",
                                                  "opened_at", "closed_at", "status"]),
}


def expected_export(w: World, domain: str, s: o.Scope, p: o.Span) -> list[list[str]] | None:
    """The rows an export must hold, as text: local times to the minute, area names for
    codes, newest first (ties by id). None where the data has no such breakdown."""
    table, time, cols = DETAIL[domain]
    area = {"grid_events": "grid_code", "enforcement_cases": "street_code"}.get(
        table, "community_code")
    if s.level == "grid" and area != "grid_code":
        return None
    if s.level == "community" and area == "street_code":  # kept per street
        return None
    f = w.tables[table]
    prefix = {"district": s.code[:6], "street": s.code[:9], "community": s.code[:12],
              "grid": s.code}[s.level]
    day = pl.col(time).dt.date()
    inside = pl.col(area).str.starts_with(prefix)
    if s.level == "district":  # rows no area claims count for the district
        inside = inside | pl.col(area).is_null()
    f = f.filter(inside & (day >= p.start) & (day < p.end))
    f = f.sort([time, cols[0]], descending=[True, False])
    names = w.names()
    out = []
    # a column the world does not draw (the 12345 grid_code) is empty in every row
    for r in f.select([c if c in f.columns else pl.lit(None).alias(c) for c in cols]
                      ).iter_rows(named=True):
        row = []
        for col in cols:
            v = r[col]
            if col in ("community_code", "grid_code", "street_code"):
                v = names.get(v) or v
            row.append(_text(v))
        out.append(row)
    return out


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, float):
        return repr(float(v)).removesuffix(".0") if v.is_integer() else repr(v)
    return str(v)


def _read_back(frame_bytes: bytes, fmt: str) -> list[list[str]]:
    if fmt == "csv":
        assert frame_bytes.startswith(b"\xef\xbb\xbf"), "CSV without a BOM"
        text = frame_bytes[3:].decode("utf-8")
        return [row for row in csv.reader(io.StringIO(text))][1:]
    back = pl.read_excel(io.BytesIO(frame_bytes), infer_schema_length=0)
    return [[_text(v) if v is not None else "" for v in row] for row in back.iter_rows()]


def _norm(cell: str) -> str:
    try:
        f = float(cell)
    except ValueError:
        return {"TRUE": "true", "FALSE": "false"}.get(cell, cell)
    return _text(f) if not cell.isdigit() or len(cell) < 10 else cell


def check_export(w: World, d: Draw, fmt: str) -> list[str]:
    """The CSV / XLSX the domain page offers, read back, against the generated rows."""
    from dashboard import data
    from dashboard.components import exports
    from metrics.access import Viewer
    from metrics.compiler import NotApplicable

    domain = d.kpis[0].split(".")[0]
    key = data.key(Viewer("diff", "leader", data.district_code()))
    scope = data.unit_scope(key, d.scope.code)
    want = expected_export(w, domain, d.scope, d.period)
    where = f"{d.describe()} [export {domain} {fmt}]"
    try:
        frame = data.export_rows(key, domain, scope, d.period.label, "zh", fmt)
    except NotApplicable:
        return [] if want is None else [f"{where}: refused an export that exists"]
    if want is None:
        return [f"{where}: exported rows for data kept per community"]
    raw = exports.to_csv(frame) if fmt == "csv" else exports.to_xlsx(frame)
    got = [[_norm(c) for c in row] for row in _read_back(raw, fmt)]
    want = [[_norm(c) for c in row] for row in want]
    if got != want:
        diff = next((i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b),
                    min(len(want), len(got)))
        return [f"{where}: {len(want)} rows expected, {len(got)} exported; first difference "
                f"at row {diff}: expected {want[diff] if diff < len(want) else None}, "
                f"got {got[diff] if diff < len(got) else None}"]
    return []


def report(problems: list[str], limit: int = 25) -> str:
    head = "\n".join(problems[:limit])
    more = f"\n… and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"{len(problems)} differences:\n{head}{more}"


# -- the incremental path ----------------------------------------------------------------------


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
    from metrics.rollup import families, rebuild
    from warehouse.engine import open_warehouse, write_transaction

    def snap(conn: Any, fam: Any) -> dict[tuple[str, str], dict[str, float]]:
        from sqlalchemy import select

        out = {}
        for row in conn.execute(select(fam.sa_table())).mappings():
            vals = {k: round(float(v), 6) for k, v in row.items() if k not in ("area", "month")}
            if any(vals.values()):
                out[(row["area"], row["month"])] = vals
        return out

    engine = open_warehouse(load_validated(cfg).warehouse_url)
    kept, rebuilt = {}, {}
    try:
        for fam in families(load_catalog()).values():
            with write_transaction(engine) as conn:
                kept[fam.name] = snap(conn, fam)
                rebuild(conn, fam)
                rebuilt[fam.name] = snap(conn, fam)
                conn.rollback()
    finally:
        engine.dispose()
    return {"kept": kept, "rebuilt": rebuilt}  # type: ignore[dict-item]
