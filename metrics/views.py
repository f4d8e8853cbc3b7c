"""What the dashboard's pages show, as small frames: the pages only lay them out.

Everything here goes through :class:`metrics.service.Metrics` (cached by data version), so a
page never holds SQL or KPI arithmetic and the browser only gets aggregated rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from metrics.access import Viewer
from metrics.compiler import Group, Scope
from metrics.periods import Period, month_range, months_in, parse
from metrics.service import Metrics

CHILD: dict[str, Group] = {"district": "street", "street": "community", "community": "grid",
                           "grid": None}


@dataclass
class Overview:
    """The leaders' page: headline cards, sparklines, street ranking, three-colour board."""

    cards: pl.DataFrame
    sparklines: pl.DataFrame
    ranking: pl.DataFrame
    board: pl.DataFrame


@dataclass
class DomainPage:
    """A domain page for one area: its KPIs, trends, and the areas one level down."""

    kpis: pl.DataFrame
    trend: pl.DataFrame
    ranking: pl.DataFrame


def headline_ids(m: Metrics) -> list[str]:
    return [k.id for k in m.catalog.kpis.values() if k.headline]


def domain_ids(m: Metrics, domain: str) -> list[str]:
    return [k.id for k in m.catalog.by_domain(domain)]


def _trend_by_month(m: Metrics, ids: list[str], scope: Scope, period: Period,
                    months: int, viewer: Viewer | None = None) -> pl.DataFrame:
    """Monthly values of each KPI over the ``months`` months ending with ``period``: flows
    (cases in the month) and stocks (members by the month's end) alike, a point for each
    month with rows, as ``--by month`` gives them (states without months have none)."""
    rng = month_range(period, months)
    periodic = [kid for kid in ids if m.catalog.get(kid).periodic]
    f = m.compute(periodic, scope, rng, "month", compare=False, viewer=viewer) if periodic \
        else pl.DataFrame()
    if not f.height:
        return pl.DataFrame(schema={"kpi": pl.String, "month": pl.String, "value": pl.Float64,
                                    "target": pl.Float64, "status": pl.String})
    return f.select("kpi", pl.col("key").alias("month"), "value", "target",
                    "status").sort("kpi", "month")


def overview(m: Metrics, scope: Scope, period: Period, months: int = 12,
             viewer: Viewer | None = None) -> Overview:
    ids = headline_ids(m)
    child = CHILD.get(scope.level)
    cards = m.compute(ids, scope, period, viewer=viewer)
    ranking = m.compute(ids, scope, period, child, viewer=viewer) if child else cards.head(0)
    board_group: Group = "community" if scope.level in ("district", "street") else child
    # the board colours areas against their targets: KPIs whose target holds at its level
    rate_ids = [k for k in ids if board_group in m.catalog.get(k).target_levels]
    board = m.compute(rate_ids, scope, period, board_group, compare=False,
                      viewer=viewer) if board_group and rate_ids else cards.head(0)
    return Overview(cards=cards, sparklines=_trend_by_month(m, ids, scope, period, months, viewer),
                    ranking=ranking, board=board)


def domain_page(m: Metrics, domain: str, scope: Scope, period: Period,
                months: int = 12, viewer: Viewer | None = None) -> DomainPage:
    ids = domain_ids(m, domain)
    child = CHILD.get(scope.level)
    kpis = m.compute(ids, scope, period, viewer=viewer)
    ranking = m.compute(ids, scope, period, child, viewer=viewer) if child else kpis.head(0)
    return DomainPage(kpis=kpis, trend=_trend_by_month(m, ids, scope, period, months, viewer),
                      ranking=ranking)


def domain_board(m: Metrics, domain: str, scope: Scope, period: Period,
                 viewer: Viewer | None = None) -> pl.DataFrame:
    """A domain's KPIs by community (by grid inside a community) where their targets hold at
    that level, with status: the three-colour board of one domain (the big screen's counts)."""
    group: Group = "community" if scope.level in ("district", "street") else CHILD.get(scope.level)
    ids = [k for k in domain_ids(m, domain) if group in m.catalog.get(k).target_levels]
    if group is None or not ids:
        return pl.DataFrame(schema={"kpi": pl.String, "key": pl.String, "status": pl.String})
    return m.compute(ids, scope, period, group, compare=False, viewer=viewer)


def heatmap(m: Metrics, kpi_id: str, scope: Scope, period: Period, months: int = 12,
            viewer: Viewer | None = None) -> pl.DataFrame:
    """One KPI by the areas one level down × month (the street × month heatmap)."""
    child = CHILD.get(scope.level)
    if child is None:
        return pl.DataFrame()
    frames = []
    for month in months_in(month_range(period, months)):
        f = m.compute([kpi_id], scope, parse(month), child, compare=False, viewer=viewer)
        if f.height:
            frames.append(f.select(pl.col("key").alias("area"), pl.lit(month).alias("month"),
                                   "value", "status"))
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
