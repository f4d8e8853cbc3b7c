"""The dashboard's output paths of the differential suite: the page loaders of
``dashboard.data`` (cards, ranking, board, sparklines, heatmap) and the CSV/XLSX detail
exports, against the oracle and the generated rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import polars as pl

from tests.differential import oracle as o
from tests.differential.combos import Draw, compare, frame_rows
from tests.differential.world import World

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
