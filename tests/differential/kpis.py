"""The oracle's KPI catalogue, restated from the catalogue's descriptions (not from
``metrics/``): measures, KPIs with targets and the tables' areas and levels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl


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
