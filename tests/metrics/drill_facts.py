"""The independent side of the drill-through tests: the sampled KPIs' parts restated from
DESIGN §5 and the catalogue's descriptions (nothing from ``metrics/``), the periods they are
checked on, and :class:`Facts`, the generated fact rows in local time filtered by them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from tests.differential.oracle import deadline
from tests.differential.world import World

c = pl.col


@dataclass(frozen=True)
class Span:
    label: str
    start: dt.date  # local days, end exclusive
    end: dt.date


def _month_end(y: int, m: int) -> dt.date:
    return dt.date(y + m // 12, m % 12 + 1, 1)


SPANS = [Span("2024-02", dt.date(2024, 2, 1), dt.date(2024, 3, 1)),
         Span("2024-Q4", dt.date(2024, 10, 1), dt.date(2025, 1, 1)),
         Span("2024-W40", dt.date(2024, 9, 30), dt.date(2024, 10, 7)),
         Span("2025-06-YTD", dt.date(2025, 1, 1), dt.date(2025, 7, 1)),
         Span("2023", dt.date(2023, 1, 1), dt.date(2024, 1, 1))]


@dataclass(frozen=True)
class Part:
    """The rows of one part: ``table`` rows whose ``time`` falls in the span (``to_end``: on
    or before its end) and ``where`` holds; the figure is ``agg`` over them."""

    table: str
    time: str
    where: Callable[[], pl.Expr] | None = None
    agg: str = "count"  # count | sum | avg | distinct
    column: str | None = None
    window: str = "period"


GE, SC = "grid_events", "service_cases"
# KPI -> parts, restated from DESIGN §5 and the catalogue's descriptions
SAMPLE: dict[str, dict[str, Part]] = {
    "grid.on_time_closure_rate": {
        "numerator": Part(GE, "registered_at", lambda: c("closed_at") <= c("deadline_at")),
        "denominator": Part(GE, "registered_at")},
    "grid.rework_rate": {
        "numerator": Part(GE, "registered_at",
                          lambda: c("closed_at").is_not_null() & (c("reworked") == True)),  # noqa: E712
        "denominator": Part(GE, "registered_at", lambda: c("closed_at").is_not_null())},
    "grid.registration_rate": {
        "numerator": Part(GE, "reported_at", lambda: c("registered_at").is_not_null()),
        "denominator": Part(GE, "reported_at")},
    "grid.events_reported": {"measure": Part(GE, "reported_at")},
    "grid.mean_hours_to_close": {
        "measure": Part(GE, "registered_at", lambda: c("closed_at").is_not_null(), "avg",
                        "_hours")},
    "gov.online_case_rate": {
        "numerator": Part(SC, "submitted_at", lambda: c("channel") == "online"),
        "denominator": Part(SC, "submitted_at")},
    "gov.good_rating_rate": {
        "numerator": Part(SC, "submitted_at", lambda: c("rating") >= 3),
        "denominator": Part(SC, "submitted_at", lambda: c("rating").is_not_null())},
    "gov.rectification_rate": {
        "numerator": Part(SC, "submitted_at",
                          lambda: (c("rating") <= 2) & (c("rectified") == True)),  # noqa: E712
        "denominator": Part(SC, "submitted_at", lambda: c("rating") <= 2)},
    "gov.on_time_rate": {
        "numerator": Part(SC, "completed_at",
                          lambda: (c("status") == "completed") & c("_on_time")),
        "denominator": Part(SC, "completed_at", lambda: c("status") == "completed")},
    "gov.avg_visits": {"numerator": Part(SC, "submitted_at", None, "sum", "visits"),
                       "denominator": Part(SC, "submitted_at")},
    "vol.active_rate": {
        "numerator": Part("volunteer_services_v", "started_at", None, "distinct",
                          "volunteer_id"),
        "denominator": Part("volunteers", "registered_at", window="to_end")},
    "civic.property_fee_collection_rate": {
        "numerator": Part("property_fees", "period", None, "sum", "households_paid"),
        "denominator": Part("property_fees", "period", None, "sum", "households_billed")},
}
KEYS = {GE: ["event_id"], SC: ["case_id"], "volunteer_services_v": ["record_id"],
        "volunteers": ["volunteer_id"], "property_fees": ["community_code", "period"]}
AREA = {GE: "grid_code", "delegated_items": "street_code"}
GRID_KPIS = [k for k in SAMPLE if k.startswith("grid.")]


class Facts:
    """The generated fact rows in local time, with the few derived values the filters need."""

    def __init__(self, w: World):
        t = dict(w.tables)
        items = t["service_items"].select("item_code", "promised_days", "department")
        cases = t[SC].join(items, on="item_code", how="left")
        on_time = [None if days is None else done is not None and
                   done.date() <= deadline(sub.date(), days)
                   for sub, done, days in cases.select("submitted_at", "completed_at",
                                                       "promised_days").iter_rows()]
        t[SC] = cases.with_columns(pl.Series("_on_time", on_time, dtype=pl.Boolean))
        t[GE] = t[GE].with_columns(
            ((c("closed_at") - c("registered_at")).dt.total_seconds() / 3600).alias("_hours"))
        # a volunteer's service counts in the volunteer's own community
        t["volunteer_services_v"] = t["volunteer_services"].drop("community_code").join(
            t["volunteers"].select("volunteer_id", "community_code"), on="volunteer_id")
        self.t = t

    def rows(self, p: Part, scope: tuple[str, str], span: Span) -> pl.DataFrame:
        f = self.t[p.table]
        level, code = scope
        area = AREA.get(p.table, "community_code")
        prefix = {"district": 6, "street": 9, "community": 12, "grid": 15}[level]
        f = f.filter(c(area).str.starts_with(code[:prefix]))
        if p.table == "property_fees":  # a month counts when its first day is in the span
            first = span.start if span.start.day == 1 else _month_end(span.start.year,
                                                                      span.start.month)
            f = f.filter((c("period") >= f"{first:%Y-%m}")
                         & (c("period") <= f"{span.end - dt.timedelta(days=1):%Y-%m}"))
        else:
            day = c(p.time).dt.date()
            f = f.filter(c(p.time).is_not_null() & (day < span.end))
            if p.window == "period":
                f = f.filter(day >= span.start)
        if p.where is not None:
            f = f.filter(p.where().fill_null(False))
        if p.agg == "avg":
            f = f.filter(c(p.column or "").is_not_null())
        return f

    def figure(self, p: Part, scope: tuple[str, str], span: Span) -> float | None:
        f = self.rows(p, scope, span)
        if p.agg == "count":
            return float(f.height)
        if p.agg == "sum":
            return float(f[p.column or ""].sum() or 0)
        if p.agg == "distinct":
            return float(f[p.column or ""].drop_nulls().n_unique())
        return None if f.is_empty() else float(f[p.column or ""].mean())  # type: ignore[arg-type]
