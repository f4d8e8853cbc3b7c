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
             viewer: Viewer | None = None, with_board: bool = True) -> Overview:
    """Headline cards, their 12-month sparklines, the ranking one level down and (unless
    ``with_board`` is False: an empty frame, for a page that draws the board on request
    only) the three-colour board (:func:`board`)."""
    ids = headline_ids(m)
    child = CHILD.get(scope.level)
    cards = m.compute(ids, scope, period, viewer=viewer)
    ranking = m.compute(ids, scope, period, child, viewer=viewer) if child else cards.head(0)
    return Overview(cards=cards, sparklines=_trend_by_month(m, ids, scope, period, months, viewer),
                    ranking=ranking,
                    board=board(m, scope, period, viewer) if with_board else cards.head(0))


def board(m: Metrics, scope: Scope, period: Period, viewer: Viewer | None = None
          ) -> pl.DataFrame:
    """The overview's three-colour board: the headline KPIs whose target holds for
    communities (grids inside a community), by community (grid)."""
    ids = headline_ids(m)
    board_group: Group = "community" if scope.level in ("district", "street") \
        else CHILD.get(scope.level)
    # the board colours areas against their targets: KPIs whose target holds at its level
    rate_ids = [k for k in ids if board_group in m.catalog.get(k).target_levels]
    if board_group and rate_ids:
        return m.compute(rate_ids, scope, period, board_group, compare=False, viewer=viewer)
    return m.compute(ids, scope, period, viewer=viewer).head(0)


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


VERSUS_FIELDS = ("value", "numerator", "denominator", "sample", "status")


def versus(m: Metrics, kpi_ids: list[str] | None, scope: Scope, a: Period, b: Period,
           group: Group = None, viewer: Viewer | None = None) -> pl.DataFrame:
    """Two periods side by side (A against B, any two: 2026-11 against 2025-11, a YTD
    against last year's): per KPI (and group), each period's value, numerator, denominator,
    sample and status with suffix ``_a`` / ``_b``, and ``change`` = A − B (``change_rel``
    = change / |B|). Each side is the KPI computed for that period alone."""
    fa = m.compute(kpi_ids, scope, a, group, compare=False, viewer=viewer)
    fb = m.compute(kpi_ids, scope, b, group, compare=False, viewer=viewer)
    keep = ["kpi", "key", *VERSUS_FIELDS]
    meta = ["kpi", "label", "label_en", "domain", "unit", "direction", "target"]

    def side(f: pl.DataFrame, suffix: str) -> pl.DataFrame:
        if not f.height:
            return pl.DataFrame(schema={"kpi": pl.String, "key": pl.String,
                                        **{f"{c}_{suffix}": pl.Float64 for c in VERSUS_FIELDS}})
        return f.select(keep).with_columns(pl.col("key").cast(pl.String)).rename(
            {c: f"{c}_{suffix}" for c in VERSUS_FIELDS})

    labels = pl.concat([f.select(meta) for f in (fa, fb) if f.height],
                       how="vertical_relaxed").unique("kpi", keep="first",
                                                      maintain_order=True) \
        if fa.height or fb.height else pl.DataFrame(schema={c: pl.String for c in meta})
    both = side(fa, "a").join(side(fb, "b"), on=["kpi", "key"], how="full", coalesce=True,
                              nulls_equal=True)
    out = both.join(labels, on="kpi", how="left").with_columns(
        pl.lit(a.label).alias("period_a"), pl.lit(b.label).alias("period_b"),
        (pl.col("value_a") - pl.col("value_b")).alias("change"))
    out = out.with_columns(pl.when(pl.col("value_b").abs() > 0)
                           .then(pl.col("change") / pl.col("value_b").abs())
                           .otherwise(None).alias("change_rel"))
    order = {k: i for i, k in enumerate(kpi_ids or m.catalog.kpis)}
    return out.with_columns(pl.col("kpi").replace_strict(order, default=len(order),
                                                         return_dtype=pl.Int64).alias("_o")
                            ).sort("_o", "key", nulls_last=False).drop("_o")
