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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import chinese_calendar
import polars as pl

from tests.differential.world import World

# -- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    grain: str
    start: dt.date
    end: dt.date  # exclusive

    @property
    def label(self) -> str:
        s = self.start
        return {"day": s.isoformat(), "week": f"{s.isocalendar()[0]}-W{s.isocalendar()[1]:02d}",
                "month": f"{s:%Y-%m}", "quarter": f"{s.year}-Q{(s.month + 2) // 3}",
                "year": str(s.year)}.get(self.grain, "")


def _month_start(y: int, m: int) -> dt.date:
    y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    return dt.date(y, m, 1)


def span(grain: str, day: dt.date) -> Span:
    if grain == "day":
        return Span("day", day, day + dt.timedelta(days=1))
    if grain == "week":
        s = day - dt.timedelta(days=day.weekday())
        return Span("week", s, s + dt.timedelta(days=7))
    if grain == "month":
        return Span("month", day.replace(day=1), _month_start(day.year, day.month + 1))
    if grain == "quarter":
        q = (day.month - 1) // 3 * 3 + 1
        return Span("quarter", dt.date(day.year, q, 1), _month_start(day.year, q + 3))
    return Span("year", dt.date(day.year, 1, 1), dt.date(day.year + 1, 1, 1))


def previous(p: Span) -> Span:
    back = {"day": p.start - dt.timedelta(days=1), "week": p.start - dt.timedelta(days=7),
            "month": _month_start(p.start.year, p.start.month - 1),
            "quarter": _month_start(p.start.year, p.start.month - 3),
            "year": dt.date(p.start.year - 1, 1, 1)}[p.grain]
    return span(p.grain, back)


def last_year(p: Span) -> Span:
    if p.grain == "week":
        y, w, _ = p.start.isocalendar()
        weeks = dt.date(y - 1, 12, 28).isocalendar()[1]  # 52 or 53
        return span("week", dt.date.fromisocalendar(y - 1, min(w, weeks), 1))
    s = p.start
    if (s.month, s.day) == (2, 29):
        return span(p.grain, dt.date(s.year - 1, 2, 28))
    return span(p.grain, s.replace(year=s.year - 1))


def month_rows(p: Span) -> list[tuple[str, Span, Span, Span]]:
    """(month, part, prev, ly) for each month ``p`` touches (the ``--by month`` rows)."""
    out = []
    m = p.start.replace(day=1)
    while m < p.end:
        nxt = _month_start(m.year, m.month + 1)
        lo, hi = max(m, p.start), min(nxt, p.end)
        if lo == m and hi == nxt:
            whole = Span("month", m, nxt)
            out.append((f"{m:%Y-%m}", whole, previous(whole), last_year(whole)))
        elif lo == p.start and hi == p.end:
            out.append((f"{m:%Y-%m}", p, previous(p), last_year(p)))
        else:
            d_prev = previous(p).start - p.start
            d_ly = last_year(p).start - p.start
            out.append((f"{m:%Y-%m}", Span("part", lo, hi),
                        Span("part", lo + d_prev, hi + d_prev), Span("part", lo + d_ly, hi + d_ly)))
        m = nxt
    return out


# -- the working-day calendar ------------------------------------------------------------------


def is_workday(d: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:  # beyond the package's data: weekends only
        return d.weekday() < 5


@cache
def deadline(submitted: dt.date, n: int) -> dt.date:
    """The end of the n-th working day after ``submitted`` (that day not counted)."""
    d, left = submitted, n
    while left > 0:
        d += dt.timedelta(days=1)
        if is_workday(d):
            left -= 1
    return d


# -- measures and KPIs -------------------------------------------------------------------------


@dataclass(frozen=True)
class M:
    """One measure: rows of ``table`` where ``where`` holds, aggregated by ``agg``."""

    table: str
    time: str | None
    agg: str = "count"  # count | sum | avg | distinct
    column: str | None = None
    where: Callable[[], pl.Expr] | None = None
    window: str = "period"  # period | to_end | none | latest_year
    area: str | None = None  # default: the table's area column
    join_volunteers: bool = False  # scope by the volunteer's own community


@dataclass(frozen=True)
class K:
    id: str
    num: M
    den: M | None = None
    scale: float = 1.0
    periodic: bool = True
    target: float | None = None
    warning: float | None = None
    higher: bool = True
    min_sample: int = 0
    target_levels: tuple[str, ...] | None = None  # default: ratios and averages everywhere,
    # counts and sums at the district only (a district's 5,000 says nothing of a community)

    @property
    def levels(self) -> tuple[str, ...]:
        if self.target_levels is not None:
            return self.target_levels
        return ("district",) if self.den is None and self.num.agg != "avg" else EVERY


c = pl.col
nn = lambda name: c(name).is_not_null()  # noqa: E731
true = lambda name: c(name).fill_null(False)  # noqa: E731
GRID_TABLES = {"grid_events", "grid_staff", "buildings"}
MONTH_TABLES = {"property_fees", "committee_assessments"}  # a 'YYYY-MM' text time column
DISTRICT_TABLES = {"service_items", "certificates"}
AREA = {"grid_events": "grid_code", "grid_staff": "grid_code", "buildings": "grid_code",
        "divisions": "code", "delegated_items": "street_code", "enforcers": "street_code",
        "enforcement_cases": "street_code"}
STREET_TABLES = {"delegated_items", "enforcers", "enforcement_cases"}  # no community, no grid
EVERY = ("district", "street", "community", "grid")


def kept_at(kpi_id: str) -> str:
    """The finest level a KPI's figures exist at: the coarsest of its measures' tables
    (grid tables per grid, the street tables per street, district tables for the district
    only, the rest per community)."""
    k = KPIS[kpi_id]
    levels = ["grid" if m.table in GRID_TABLES or m.table == "divisions"
              else "street" if m.table in STREET_TABLES
              else "district" if m.table in DISTRICT_TABLES else "community"
              for m in (k.num, k.den) if m is not None]
    return min(levels, key=EVERY.index)


def _kpis() -> list[K]:
    sc, ge, hl = "service_cases", "grid_events", "hotline_requests"
    ca = "committee_assessments"
    online = lambda: c("channel") == "online"  # noqa: E731
    completed = lambda: c("status") == "completed"  # noqa: E731
    return [
        K("gov.online_capable_rate", M("service_items", None, where=lambda: true(
            "online_capable"), window="none"), M("service_items", None, window="none"),
          periodic=False, target=0.9, warning=0.85, min_sample=1),
        K("gov.case_count", M(sc, "submitted_at")),
        K("gov.online_case_rate", M(sc, "submitted_at", where=online), M(sc, "submitted_at"),
          target=0.6, warning=0.5, min_sample=30),
        K("gov.on_time_rate", M(sc, "completed_at", where=lambda: completed() & true("_on_time")),
          M(sc, "completed_at", where=completed), target=0.98, warning=0.95, min_sample=30),
        K("gov.avg_visits", M(sc, "submitted_at", "sum", "visits"), M(sc, "submitted_at"),
          target=0.5, warning=0.8, higher=False, min_sample=30),
        K("gov.zero_visit_rate", M(sc, "submitted_at", where=lambda: c("visits") == 0),
          M(sc, "submitted_at"), target=0.7, warning=0.6, min_sample=30),
        K("gov.good_rating_rate", M(sc, "submitted_at", where=lambda: c("rating") >= 3),
          M(sc, "submitted_at", where=lambda: nn("rating")), target=0.98, warning=0.95,
          min_sample=30),
        K("gov.rectification_rate", M(sc, "submitted_at", where=lambda: (c("rating") <= 2)
                                      & true("rectified")),
          M(sc, "submitted_at", where=lambda: c("rating") <= 2), target=1.0, warning=0.95,
          min_sample=5),
        K("gov.station_case_share", M(sc, "submitted_at", where=lambda: c("channel") == "station"),
          M(sc, "submitted_at"), target=0.08, warning=0.05, min_sample=30),
        K("gov.help_desk_cases", M(sc, "submitted_at", where=lambda: c("channel") == "help_desk")),
        K("gov.retained_certificates", M("certificates", None, window="none",
                                         where=lambda: c("status") == "retained"),
          periodic=False, target=13, warning=20, higher=False, min_sample=1),
        K("grid.events_reported", M(ge, "reported_at")),
        K("grid.registration_rate", M(ge, "reported_at", where=lambda: nn("registered_at")),
          M(ge, "reported_at"), target=0.98, warning=0.95, min_sample=20),
        K("grid.on_time_disposal_rate",
          M(ge, "registered_at", where=lambda: c("resolved_at") <= c("deadline_at")),
          M(ge, "registered_at"), target=0.95, warning=0.9, min_sample=20),
        K("grid.closure_rate", M(ge, "registered_at", where=lambda: nn("closed_at")),
          M(ge, "registered_at"), target=0.95, warning=0.9, min_sample=20),
        K("grid.on_time_closure_rate",
          M(ge, "registered_at", where=lambda: c("closed_at") <= c("deadline_at")),
          M(ge, "registered_at"), target=0.9, warning=0.85, min_sample=20),
        K("grid.rework_rate", M(ge, "registered_at", where=lambda: nn("closed_at")
                                & true("reworked")),
          M(ge, "registered_at", where=lambda: nn("closed_at")), target=0.03, warning=0.05,
          higher=False, min_sample=20),
        K("grid.mean_hours_to_close", M(ge, "registered_at", "avg", "_hours_to_close",
                                        where=lambda: nn("closed_at")),
          target=72, warning=120, higher=False, min_sample=20),
        K("grid.satisfaction_rate", M(ge, "registered_at", where=lambda: c("satisfaction") >= 3),
          M(ge, "registered_at", where=lambda: nn("satisfaction")), target=0.95, warning=0.9,
          min_sample=20),
        K("grid.dispute_mediation_rate",
          M(ge, "registered_at", where=lambda: true("is_dispute") & true("mediated")),
          M(ge, "registered_at", where=lambda: true("is_dispute") & nn("mediated")),
          target=0.9, warning=0.85, min_sample=10),
        K("grid.grids_with_worker", M("grid_staff", None, "distinct", "grid_code", window="none",
                                      where=lambda: c("role") == "grid_worker"),
          M("divisions", None, window="none", where=lambda: (c("level") == "grid")
            & c("active")), periodic=False, target=1.0, warning=0.97, min_sample=5),
        K("grid.households_per_worker", M("population", None, "sum", "households",
                                          window="latest_year"),
          M("grid_staff", None, window="none", where=lambda: c("role") == "grid_worker"),
          periodic=False, target=400, warning=500, higher=False, min_sample=5),
        K("grid.party_member_worker_rate",
          M("grid_staff", None, window="none", where=lambda: (c("role") == "grid_worker")
            & true("is_party_member")),
          M("grid_staff", None, window="none", where=lambda: c("role") == "grid_worker"),
          periodic=False, min_sample=5),
        K("grid.party_member_grids",
          M("grid_staff", None, "distinct", "grid_code", window="none",
            where=lambda: (c("role") == "grid_worker") & true("is_party_member")),
          periodic=False),
        K("grid.building_head_coverage",
          M("grid_staff", None, "distinct", "building_code", window="none",
            where=lambda: c("role") == "building_head"),
          M("buildings", None, window="none"), periodic=False, target=0.9, warning=0.8,
          min_sample=5),
        K("grid.households_per_building_head",
          M("buildings", None, "sum", "households", window="none"),
          M("grid_staff", None, window="none", where=lambda: c("role") == "building_head"),
          periodic=False, higher=False, min_sample=5),
        K("vol.registered_per_1000", M("volunteers", "registered_at", window="to_end"),
          M("population", None, "sum", "residents", window="latest_year"), scale=1000,
          target=30, warning=25, min_sample=1),
        K("vol.active_rate", M("volunteer_services", "started_at", "distinct", "volunteer_id",
                               join_volunteers=True),
          M("volunteers", "registered_at", window="to_end"), target=0.3, warning=0.2,
          min_sample=30),
        K("vol.service_hours", M("volunteer_services", "started_at", "sum", "hours")),
        K("vol.hours_per_volunteer", M("volunteer_services", "started_at", "sum", "hours"),
          M("volunteers", "registered_at", window="to_end"), min_sample=30),
        K("vol.timebank_deposited", M("volunteer_services", "started_at", "sum", "hours",
                                      where=lambda: true("timebank"))),
        K("vol.timebank_redeemed", M("timebank_redemptions", "redeemed_at", "sum", "hours")),
        K("vol.timebank_redemption_rate", M("timebank_redemptions", "redeemed_at", "sum", "hours"),
          M("volunteer_services", "started_at", "sum", "hours", where=lambda: true("timebank")),
          min_sample=10),
        K("vol.teams", M("volunteers", "registered_at", "distinct", "team_id", window="to_end")),
        K("party.checked_in_members", M("party_members", "checked_in_at", window="to_end"),
          target=5000, min_sample=1, target_levels=("district",)),
        K("party.deeds_done", M("party_deeds", "done_at")),
        K("party.points_per_member", M("party_members", "checked_in_at", "avg", "points",
                                       window="to_end"), min_sample=10),
        K("party.certified_social_worker_rate",
          M("grid_staff", None, window="none", where=lambda: (c("role") == "grid_worker")
            & true("certified_social_worker")),
          M("grid_staff", None, window="none", where=lambda: c("role") == "grid_worker"),
          periodic=False, target=0.5, warning=0.4, min_sample=5),
        K("party.training_coverage",
          M("grid_staff", None, window="none", where=lambda: (c("role") == "grid_worker")
            & true("trained")),
          M("grid_staff", None, window="none", where=lambda: c("role") == "grid_worker"),
          periodic=False, target=1.0, warning=0.95, min_sample=5),
        K("party.stations", M("stations", "opened_at", window="to_end"), target=262,
          min_sample=1, target_levels=("district",)),
        K("party.station_coverage", M("stations", None, "distinct", "community_code",
                                      window="none"),
          M("divisions", None, window="none", where=lambda: (c("level") == "community")
            & c("active") & ~c("placeholder")),
          periodic=False, target=0.95, warning=0.85, min_sample=5),
        K("civic.consultation_topics", M("consultations", "raised_at")),
        K("civic.consultation_resolution_rate",
          M("consultations", "raised_at", where=lambda: nn("resolved_at")),
          M("consultations", "raised_at"), target=0.85, warning=0.75, min_sample=5),
        K("civic.property_fee_collection_rate",
          M("property_fees", "period", "sum", "households_paid"),
          M("property_fees", "period", "sum", "households_billed"), target=0.88, warning=0.8,
          min_sample=1),
        K("party.committees_red", M(ca, "period", "distinct", "community_code",
                                    where=lambda: c("colour") == "red"),
          higher=False, min_sample=1),
        K("party.committees_escalated", M(ca, "period", "distinct", "community_code",
                                          where=lambda: true("escalated"), window="to_end"),
          higher=False, min_sample=1),
        K("party.committee_rectification_rate",
          M(ca, "period", where=lambda: (c("colour") == "red") & (c("rectification") == "done")),
          M(ca, "period", where=lambda: c("colour") == "red"), target=1.0, warning=0.8,
          min_sample=1),
        K("hotline.requests", M(hl, "received_at")),
        K("hotline.requests_per_10k", M(hl, "received_at"),
          M("population", None, "sum", "residents", window="latest_year"), scale=10000,
          higher=False, min_sample=1),
        K("hotline.response_rate", M(hl, "received_at",
                                     where=lambda: c("_hours_to_respond") <= 24),
          M(hl, "received_at"), target=0.98, warning=0.95, min_sample=20),
        K("hotline.resolution_rate", M(hl, "closed_at", where=lambda: true("resolved")),
          M(hl, "closed_at", where=lambda: nn("resolved")), target=0.85, warning=0.8,
          min_sample=20),
        K("hotline.satisfaction_rate", M(hl, "closed_at", where=lambda: c("satisfaction") >= 2),
          M(hl, "closed_at", where=lambda: nn("satisfaction")), target=0.9, warning=0.85,
          min_sample=20),
        K("hotline.on_time_rate", M(hl, "closed_at",
                                    where=lambda: c("closed_at") <= c("deadline_at")),
          M(hl, "closed_at", where=lambda: nn("deadline_at")), target=0.95, warning=0.9,
          min_sample=20),
        K("hotline.reopen_rate", M(hl, "closed_at", where=lambda: true("reopened")),
          M(hl, "closed_at"), target=0.03, warning=0.05, higher=False, min_sample=20),
        K("gov.help_teams", M("help_teams", "formed_on", window="to_end"), target=96,
          min_sample=1, target_levels=("district",)),
        K("gov.help_team_services", M("help_team_services", "served_at")),
        K("gov.help_team_services_per_team", M("help_team_services", "served_at"),
          M("help_teams", "formed_on", window="to_end"), min_sample=1),
        K("civic.model_merchants", M("model_merchants", "designated_on", window="to_end"),
          target=125, min_sample=1, target_levels=("district",)),
        K("civic.merchant_problems", M("merchant_problems", "raised_at")),
        K("civic.merchant_problem_resolution_rate",
          M("merchant_problems", "raised_at", where=lambda: nn("resolved_at")),
          M("merchant_problems", "raised_at"), target=0.9, warning=0.8, min_sample=5),
        K("street.delegated_items", M("delegated_items", "delegated_on", "distinct", "item_code",
                                      window="to_end"),
          target=210, min_sample=1, target_levels=("district",)),
        K("street.certified_enforcers", M("enforcers", "certified_on", window="to_end"),
          target=64, min_sample=1, target_levels=("district",)),
        K("street.enforcement_cases", M("enforcement_cases", "opened_at")),
        K("street.items_exercised_rate",
          M("enforcement_cases", "opened_at", "distinct", "item_code"),
          M("delegated_items", "delegated_on", "distinct", "item_code", window="to_end"),
          min_sample=10),
    ]


KPIS: dict[str, K] = {k.id: k for k in _kpis()}


# -- evaluating --------------------------------------------------------------------------------


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
