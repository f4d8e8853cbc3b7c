"""KPI frames for the pages: headline cards, domain pages, boards, heatmaps, breakdowns,
A-vs-B, the composite ranking (综合考评) and the map layers.

All cached per :class:`~dashboard.data.base.Key`; each checks the asked-for scope against the
viewer's area before the metrics call (which checks it again).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import polars as pl

from dashboard.data.base import Key, cached, catalog, check_scope, metrics, scoring_schemes
from metrics import committees, detail, geo, latest, periods, semantic, ticker, views
from metrics.compiler import Scope


def _plain(frame: pl.DataFrame) -> pl.DataFrame:
    """An empty result comes with Object columns, which cannot be cached (pickled): give it
    plain null columns instead."""
    if not any(dt == pl.Object for dt in frame.dtypes):
        return frame
    if frame.height:
        return frame.with_columns(pl.col(c).map_elements(str, return_dtype=pl.String)
                                  for c, dt in frame.schema.items() if dt == pl.Object)
    return pl.DataFrame(schema={c: (pl.Null if dt == pl.Object else dt)
                                for c, dt in frame.schema.items()})


def _plain_all(page: Any) -> Any:
    for f in dataclasses.fields(page):
        setattr(page, f.name, _plain(getattr(page, f.name)))
    return page


@cached
def _overview(k: Key, level: str, code: str, name: str, period: str) -> views.Overview:
    scope = Scope(level, code, name)
    check_scope(k, scope)
    # without the board: the overview draws it in a tab of its own, on request
    return _plain_all(views.overview(metrics(), scope, periods.parse(period),
                                     viewer=k.viewer, with_board=False))


@cached
def _overview_board(k: Key, level: str, code: str, name: str, period: str) -> pl.DataFrame:
    scope = Scope(level, code, name)
    check_scope(k, scope)
    return _plain(views.board(metrics(), scope, periods.parse(period), viewer=k.viewer))


def overview(k: Key, scope: Scope, period: str, with_board: bool = True) -> views.Overview:
    """Headline cards, sparklines, ranking one level down and (unless ``with_board`` is
    False: an empty frame) the three-colour board (:func:`overview_board`)."""
    ov = _overview(k, scope.level, scope.code, scope.name, period)
    if with_board:
        ov = dataclasses.replace(ov, board=overview_board(k, scope, period))
    return ov


def overview_board(k: Key, scope: Scope, period: str) -> pl.DataFrame:
    """The overview's three-colour board of communities (grids) × KPIs: cached on its own,
    so that a visit that never opens the board neither computes nor copies it."""
    return _overview_board(k, scope.level, scope.code, scope.name, period)


@cached
def _domain(k: Key, domain: str, level: str, code: str, name: str,
            period: str) -> views.DomainPage:
    scope = Scope(level, code, name)
    check_scope(k, scope)
    return _plain_all(views.domain_page(metrics(), domain, scope, periods.parse(period),
                                        viewer=k.viewer))


def domain_page(k: Key, domain: str, scope: Scope, period: str) -> views.DomainPage:
    """A domain's KPIs, 12-month trends and ranking one level down."""
    return _domain(k, domain, scope.level, scope.code, scope.name, period)


@cached
def _domain_board(k: Key, domain: str, level: str, code: str, name: str,
                  period: str) -> pl.DataFrame:
    scope = Scope(level, code, name)
    check_scope(k, scope)
    return _plain(views.domain_board(metrics(), domain, scope, periods.parse(period),
                                     viewer=k.viewer))


def domain_board(k: Key, domain: str, scope: Scope, period: str) -> pl.DataFrame:
    """A domain's KPIs by community (grid in a community) where targets hold there."""
    return _domain_board(k, domain, scope.level, scope.code, scope.name, period)


@cached
def _heatmap(k: Key, kpi: str, level: str, code: str, name: str, period: str) -> pl.DataFrame:
    scope = Scope(level, code, name)
    check_scope(k, scope)
    return _plain(views.heatmap(metrics(), kpi, scope, periods.parse(period),
                                viewer=k.viewer))


def heatmap(k: Key, kpi: str, scope: Scope, period: str) -> pl.DataFrame:
    """One KPI by the areas one level down × month (area, month, value, status)."""
    return _heatmap(k, kpi, scope.level, scope.code, scope.name, period)


@cached
def _opening_month(k: Key, level: str, code: str, not_after: str) -> str | None:
    scope = Scope(level, code)
    check_scope(k, scope)
    found = latest.latest_month(metrics(), scope, periods.parse(not_after))
    return found.label if found else None


def opening_month(k: Key, scope: Scope, not_after: str) -> str | None:
    """The latest month, up to ``not_after``, with data in ``scope`` (where the dashboard
    opens); None when the area has no data at all."""
    return _opening_month(k, scope.level, scope.code, not_after)


@cached
def _top_values(k: Key, page: str, level: str, code: str, period: str) -> pl.DataFrame:
    scope = Scope(level, code)
    check_scope(k, scope)
    top = semantic.load().pages[page].top
    assert top is not None
    return detail.top_values(metrics().engine, top.table, top.column, top.time, scope,
                             periods.parse(period), top.n, viewer=k.viewer)


def top_values(k: Key, page: str, scope: Scope, period: str) -> pl.DataFrame:
    """The page's "top values" section (semantic layer ``top``): value, rows."""
    return _top_values(k, page, scope.level, scope.code, period)


@cached
def _committees(k: Key, level: str, code: str, period: str) -> pl.DataFrame:
    scope = Scope(level, code)
    check_scope(k, scope)
    return committees.latest(metrics().engine, scope, periods.parse(period), viewer=k.viewer)


def committees_latest(k: Key, scope: Scope, period: str) -> pl.DataFrame:
    """Each community's latest 三色研判 up to the period's end (metrics.committees)."""
    return _committees(k, scope.level, scope.code, period)


def applicable(frame: pl.DataFrame, level: str) -> pl.DataFrame:
    """Rows of KPIs that are defined for areas of ``level`` (the catalogue's ``scopes``):
    a district-only KPI has no card on a street's page."""
    keep = _applicable_mask(frame, level)
    if all(keep):  # the usual case: no polars filter (a thread-pool round trip) at all
        return frame
    return frame[[i for i, k in enumerate(keep) if k]]


def applicable_rows(frame: pl.DataFrame, level: str) -> list[dict[str, Any]]:
    """:func:`applicable`'s rows as dicts (what the cards draw), in the frame's order."""
    keep = _applicable_mask(frame, level)
    return [r for r, k in zip(frame.to_dicts(), keep, strict=True) if k]


def _applicable_mask(frame: pl.DataFrame, level: str) -> list[bool]:
    cat = catalog()
    ok: dict[str, bool] = {}
    return [ok.setdefault(kid, level in cat.get(kid).scopes) for kid in frame["kpi"]]


@cached
def _latest_events(k: Key, level: str, code: str, per_kind: int) -> pl.DataFrame:
    scope = Scope(level, code)
    check_scope(k, scope)
    return ticker.latest_events(metrics().engine, scope, per_kind, viewer=k.viewer)


def latest_events(k: Key, scope: Scope, per_kind: int) -> pl.DataFrame:
    """The newest grid events, service cases and runs of ``scope`` (the big screen's ticker;
    a few short rows, per data version)."""
    return _latest_events(k, scope.level, scope.code, per_kind)


# -- breakdowns and A-vs-B ---------------------------------------------------------------------


@cached
def _breakdown(k: Key, kpi: str, dim: str, level: str, code: str, name: str,
               period: str) -> pl.DataFrame:
    scope = Scope(level, code, name)
    check_scope(k, scope)
    return _plain(metrics().compute([kpi], scope, periods.parse(period), dim,  # type: ignore
                                    compare=False, viewer=k.viewer))


def breakdown(k: Key, kpi: str, dim: str, scope: Scope, period: str) -> pl.DataFrame:
    """One KPI by a breakdown dimension (category, department, channel, item)."""
    return _breakdown(k, kpi, dim, scope.level, scope.code, scope.name, period)


@cached
def _versus(k: Key, ids: tuple[str, ...], level: str, code: str, name: str, a: str,
            b: str) -> pl.DataFrame:
    scope = Scope(level, code, name)
    check_scope(k, scope)
    return _plain(views.versus(metrics(), list(ids), scope, periods.parse(a), periods.parse(b),
                               viewer=k.viewer))


def versus(k: Key, ids: list[str], scope: Scope, a: str, b: str) -> pl.DataFrame:
    """KPIs in periods A and B side by side with the change."""
    return _versus(k, tuple(ids), scope.level, scope.code, scope.name, a, b)


# -- 综合考评 ---------------------------------------------------------------------------------


@cached
def _ranking(k: Key, level: str, period: str, within: str) -> pl.DataFrame:
    from metrics.ranking import compute_ranking
    from metrics.scoring import pick

    scheme = pick(scoring_schemes(k.config), None)
    r = compute_ranking(metrics(), scheme, level, periods.parse(period), viewer=k.viewer)
    if within:
        r = r.within("street", within)
    rows = [{"rank": x.rank, "code": x.code, "name": x.name, "score": x.score,
             "status": x.status, "rank_change": x.rank_change, "prev_rank": x.prev_rank,
             "board": x.board, "redistributed": x.redistributed} for x in r.rows]
    return pl.DataFrame(rows, schema={
        "rank": pl.Int64, "code": pl.String, "name": pl.String, "score": pl.Float64,
        "status": pl.String, "rank_change": pl.Int64, "prev_rank": pl.Int64,
        "board": pl.String, "redistributed": pl.Boolean})


def ranking(k: Key, level: str, period: str, within: str = "") -> pl.DataFrame:
    """The composite ranking (综合考评) of the streets, or of the communities (of street
    ``within`` when given), under the default scheme; staff get their own area's rows."""
    return _ranking(k, level, period, within)


# -- map ---------------------------------------------------------------------------------------


@cached
def _map_areas(k: Key, kpi: str, level: str, code: str, name: str, period: str,
               map_level: str) -> pl.DataFrame:
    scope = Scope(level, code, name)
    check_scope(k, scope)
    return geo.choropleth(metrics(), kpi, scope, periods.parse(period), map_level,
                          viewer=k.viewer)


def map_areas(k: Key, kpi: str, scope: Scope, period: str, level: str) -> pl.DataFrame:
    """One KPI for every area of ``level`` in ``scope``, with its rank (metrics.geo)."""
    return _map_areas(k, kpi, scope.level, scope.code, scope.name, period, level)


@cached
def _map_shapes(k: Key, level: str, code: str, map_level: str,
                width: int) -> list[dict[str, Any]]:
    scope = Scope(level, code)
    check_scope(k, scope)
    return geo.shapes(metrics().engine, scope, map_level, viewer=k.viewer, width_px=width)


def map_shapes(k: Key, scope: Scope, level: str, width: int) -> list[dict[str, Any]]:
    """The simplified polygons of ``level`` inside ``scope`` (only the viewer's own area)."""
    return _map_shapes(k, scope.level, scope.code, level, width)


@cached
def _hex_bins(k: Key, level: str, code: str, period: str, radius: float,
              lat0: float) -> pl.DataFrame:
    scope = Scope(level, code)
    check_scope(k, scope)
    return geo.hex_bins(metrics().engine, scope, periods.parse(period),
                        geo.HexGrid(radius, lat0), viewer=k.viewer)


def hex_bins(k: Key, scope: Scope, period: str, grid: geo.HexGrid) -> pl.DataFrame:
    """Grid events of the period counted in hexagons by the database (no rows)."""
    return _hex_bins(k, scope.level, scope.code, period, grid.radius, grid.lat0)


@cached
def _map_notes(k: Key, level: str, code: str, map_level: str) -> list[tuple[str, str]]:
    return geo.notes(metrics().engine, Scope(level, code), map_level)


def map_notes(k: Key, scope: Scope, level: str) -> list[tuple[str, str]]:
    """Where the shapes come from (note, vintage): licence, 'demo geometry'."""
    return _map_notes(k, scope.level, scope.code, level)
