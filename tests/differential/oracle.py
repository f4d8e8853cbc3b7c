"""The independent computation: every KPI straight from the generated fact rows, in polars.

Nothing here comes from ``metrics/``: periods, scopes, the working-day calendar, filters and
the KPI definitions are written again from the definitions of record (DESIGN §5 and the
catalogue's descriptions), on the generator's own frames in local time. Where both agree,
the compiler, the rollups, the batching and the output paths are right; where they differ,
one of the two is wrong and the failure says which combination to look at.

Semantics restated (docs/metrics-design.md, "Grouped results"):
- a period is a half-open range of local days; a time column is in it when its local date is;
  a stock (``to_end``) counts rows dated before the period's end; month-grained data
  (``property_fees.period``) counts a month whose first day lies in the period;
- a grouped result has a row per group where one of the KPI's measures counts a row;
- 环比/同比 are the group's values in the previous period / same period last year; with
  ``--by month`` each month compares with M-1 and M-12.

The periods and the working-day calendar live in :mod:`tests.differential.periods`, the
KPI definitions in :mod:`tests.differential.kpis`; this module evaluates them and re-exports
the rest (the tests call everything as ``o.<name>``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from tests.differential.kpis import (
    AREA,
    DISTRICT_TABLES,
    EVERY,
    GRID_TABLES,
    KPIS,
    MONTH_TABLES,
    STREET_TABLES,
    K,
    M,
    c,
    kept_at,
    nn,
    true,
)
from tests.differential.periods import (
    Span,
    _month_start,
    deadline,
    is_workday,
    last_year,
    month_rows,
    previous,
    span,
)
from tests.differential.world import World


class NotApplicable(Exception):
    pass


@dataclass(frozen=True)
class Scope:
    level: str
    code: str


class Oracle:
    """KPI results for a :class:`World`, as plain dicts keyed by group."""

    def __init__(self, w: World):
        self.w = w
        t = dict(w.tables)
        cases = t["service_cases"].join(
            t["service_items"].select("item_code", "promised_days"), on="item_code", how="left")
        on_time = []
        for sub, done, days in cases.select("submitted_at", "completed_at",
                                            "promised_days").iter_rows():
            if done is None:
                on_time.append(False)
            elif days is None:
                on_time.append(None)
            else:
                on_time.append(done.date() <= deadline(sub.date(), days))
        t["service_cases"] = cases.with_columns(pl.Series("_on_time", on_time,
                                                          dtype=pl.Boolean))
        t["grid_events"] = t["grid_events"].with_columns(
            ((c("closed_at") - c("registered_at")).dt.total_seconds() / 3600.0)
            .alias("_hours_to_close"))
        t["hotline_requests"] = t["hotline_requests"].with_columns(
            ((c("responded_at") - c("received_at")).dt.total_seconds() / 3600.0)
            .alias("_hours_to_respond"))
        t["volunteer_services_v"] = t["volunteer_services"].drop("community_code").join(
            t["volunteers"].select("volunteer_id", "community_code"), on="volunteer_id")
        t["divisions"] = w.divisions
        self.t = t

    # rows of a measure inside a scope and a span, with their group area
    def _rows(self, m: M, scope: Scope, p: Span | None) -> pl.DataFrame:
        name = "volunteer_services_v" if m.join_volunteers else m.table
        f = self.t[name]
        if m.table in DISTRICT_TABLES:  # kept for the whole district only
            if scope.level != "district":
                raise NotApplicable
            return f.filter(m.where().fill_null(False) if m.where else pl.lit(True)
                            ).with_columns(pl.lit(None, dtype=pl.String).alias("_area"))
        area = AREA.get(m.table, "community_code")
        gridded = m.table in GRID_TABLES or m.table == "divisions"
        if scope.level == "grid" and not gridded:
            raise NotApplicable
        if scope.level == "community" and m.table in STREET_TABLES:
            raise NotApplicable
        prefix = {"district": scope.code[:6], "street": scope.code[:9],
                  "community": scope.code[:12], "grid": scope.code}[scope.level]
        inside = c(area).str.starts_with(prefix)
        if scope.level == "district":  # rows no area claims (12345 without a community)
            inside = inside | c(area).is_null()
        f = f.filter(inside)
        if scope.level == "grid":
            f = f.filter(c(area) == scope.code)
        if m.where is not None:
            f = f.filter(m.where().fill_null(False))
        if m.window == "latest_year":
            year = (p.end - dt.timedelta(days=1)).year if p is not None else 9999
            latest = f.filter(c("year") <= year).group_by("community_code").agg(
                c("year").max().alias("_y"))
            f = f.join(latest, on="community_code").filter(c("year") == c("_y"))
        elif m.window in ("period", "to_end") and p is not None and m.time:
            f = f.filter(nn(m.time))
            if m.table in MONTH_TABLES:
                first = lambda d: d if d.day == 1 else _month_start(d.year, d.month + 1)  # noqa
                lo, hi = f"{first(p.start):%Y-%m}", f"{(p.end - dt.timedelta(days=1)):%Y-%m}"
                f = f.filter((c("period") <= hi) & ((c("period") >= lo)
                                                    if m.window == "period" else pl.lit(True)))
            else:
                day = c(m.time) if f.schema[m.time] == pl.Date else c(m.time).dt.date()
                f = f.filter(day < p.end)
                if m.window == "period":
                    f = f.filter(day >= p.start)
        return f.with_columns(c(area).alias("_area"))

    def _measure(self, m: M, scope: Scope, p: Span | None, group: str | None
                 ) -> dict[Any, tuple[float | None, int]]:
        """group key -> (value, rows), with rows as the engine counts them."""
        f = self._rows(m, scope, p)
        if group in ("street", "community", "grid"):
            if m.table in DISTRICT_TABLES:
                raise NotApplicable
            if group == "grid" and not (m.table in GRID_TABLES or m.table == "divisions"):
                raise NotApplicable
            if group == "community" and m.table in STREET_TABLES:
                raise NotApplicable
            f = f.filter(nn("_area"))  # rows without an area belong to no street or community
            f = f.with_columns({"street": c("_area").str.slice(0, 9) + "000",
                                "community": c("_area").str.slice(0, 12),
                                "grid": c("_area")}[group].alias("_key"))
        else:
            f = f.with_columns(pl.lit(None, dtype=pl.String).alias("_key"))
        out: dict[Any, tuple[float | None, int]] = {}
        for key, part in f.partition_by("_key", as_dict=True, maintain_order=False).items() \
                if f.height else []:
            k = key[0]
            if m.agg == "count":
                out[k] = (float(part.height), part.height)
            elif m.agg == "sum":
                out[k] = (float(part[m.column].fill_null(0).sum()), part.height)
            elif m.agg == "avg":
                vals = part[m.column].drop_nulls()
                out[k] = (float(vals.mean()) if len(vals) else None, len(vals))  # type: ignore
            else:
                out[k] = (float(part[m.column].drop_nulls().n_unique()), part.height)
        return out

    def compute(self, kpi_id: str, scope: Scope, p: Span, group: str | None
                ) -> dict[Any, dict[str, Any]]:
        """The expected result rows of one KPI, by group key (None when ungrouped)."""
        k = KPIS[kpi_id]
        if group == "month":
            if not k.periodic:
                return {}
            out = {}
            for month, part, prev, ly in month_rows(p):
                one = self._one(k, scope, part, prev, ly, None, p)
                row = one.get(None)
                if row is not None and row["_present"]:
                    out[month] = row
            return out
        return self._one(k, scope, p, previous(p), last_year(p), group, p)

    def _one(self, k: K, scope: Scope, cur: Span, prev: Span, ly: Span, group: str | None,
             asked: Span) -> dict[Any, dict[str, Any]]:
        spans = {"cur": cur, "prev": prev, "ly": ly} if k.periodic else {"cur": cur}
        got: dict[str, list[dict[Any, tuple[float | None, int]]]] = {}
        try:
            for tag, sp in spans.items():
                ms = [k.num] + ([k.den] if k.den else [])
                got[tag] = [self._measure(m, scope, sp if (k.periodic or m.window ==
                                                           "latest_year") else None, group)
                            for m in ms]
        except NotApplicable:
            if group is None:
                level = scope.level
                return {None: {"value": None, "numerator": None, "denominator": None,
                               "target": k.target if k.target is not None and level in k.levels
                               else None,
                               "sample": 0, "prev_value": None, "ly_value": None,
                               "delta_prev": None, "delta_yoy": None, "status": None,
                               "period": asked.label if k.periodic else None,
                               "_present": False}}
            return {}
        present = {key for d in got["cur"] for key, (_, n) in d.items() if n}
        keys = [None] if group is None else sorted(present)
        level = scope.level if group in (None, "month") else group
        out = {}
        for key in keys:
            val, num, den, sample = self._value(k, got["cur"], key)
            pv = self._value(k, got["prev"], key)[0] if "prev" in got else None
            lv = self._value(k, got["ly"], key)[0] if "ly" in got else None
            out[key] = {"value": val, "numerator": num, "denominator": den, "sample": sample,
                        "prev_value": pv, "ly_value": lv,
                        "delta_prev": None if val is None or pv is None else val - pv,
                        "delta_yoy": None if val is None or lv is None else val - lv,
                        "status": status(k, val, sample, level),
                        "target": k.target if k.target is not None and level in k.levels
                        else None,
                        "period": asked.label if k.periodic else None,
                        "_present": key in present}
        return out

    @staticmethod
    def _value(k: K, parts: list[dict[Any, tuple[float | None, int]]], key: Any
               ) -> tuple[float | None, float | None, float | None, int]:
        if k.den is not None:
            num = parts[0].get(key, (0.0, 0))[0] or 0.0
            den, rows = parts[1].get(key, (0.0, 0))
            den = den or 0.0
            v = num / den * k.scale if den else None
            return v, float(num), float(den), rows
        raw, rows = parts[0].get(key, (None, 0))
        if raw is None and k.num.agg != "avg":
            raw = 0.0
        v = raw * k.scale if raw is not None else None
        return v, v, None, rows


def status(k: K, value: float | None, sample: int, level: str) -> str | None:
    """红黄蓝: blue meets the target, yellow the warning line, red neither."""
    if value is None or k.target is None or level not in k.levels:
        return None
    if sample < k.min_sample:
        return None
    eps = 1e-9
    meets = (lambda x: value >= x - eps) if k.higher else (lambda x: value <= x + eps)
    if meets(k.target):
        return "blue"
    if k.warning is not None and meets(k.warning):
        return "yellow"
    return "red"


__all__ = ["AREA", "DISTRICT_TABLES", "EVERY", "GRID_TABLES", "KPIS", "MONTH_TABLES",
           "STREET_TABLES", "K", "M", "NotApplicable", "Oracle", "Scope", "Span", "c",
           "deadline", "is_workday", "kept_at", "last_year", "month_rows", "nn", "previous",
           "span", "status", "true"]
