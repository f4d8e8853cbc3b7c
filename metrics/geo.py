"""What a map shows, computed on the server: a KPI by area with its rank, the areas' simplified
polygons, and events counted in hexagonal bins. The browser gets a few hundred small features,
never the rows (DESIGN: nothing large sent to the browser).

Access is the metrics layer's as everywhere: a viewer asking for an area outside their own gets
:class:`~metrics.access.AccessDenied`, and polygons are selected by the scope's code prefix,
so a street's staff never receive another street's shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from typing import cast as typing_cast

import polars as pl
from sqlalchemy import Engine, Float, case, cast, func, select

from core import divisions
from metrics.access import Viewer
from metrics.compiler import Group, Scope, prefix_range
from metrics.periods import Period
from metrics.service import Metrics
from metrics.views import CHILD
from warehouse.schema import grid_events
from warehouse.tables import geometries as geotable

SIMPLIFY_PX = 0.3  # polygons are simplified to about this many screen pixels
COORD_DECIMALS = 5  # ≈ 1 m: finer than any screen shows
SQRT3 = math.sqrt(3)


def map_levels(scope_level: str) -> list[str]:
    """Levels a map of ``scope_level`` can colour: every level below it, to the grid."""
    return list(divisions.SCOPE_LEVELS[divisions.depth(scope_level) + 1:])


def default_level(scope_level: str) -> str | None:
    return CHILD.get(scope_level)


def _prefix(scope: Scope) -> str:
    return divisions.prefix(scope.code, scope.level)


def choropleth(m: Metrics, kpi_id: str, scope: Scope, period: Period, level: str,
               viewer: Viewer | None = None) -> pl.DataFrame:
    """One KPI for every area of ``level`` inside ``scope``: ``key, value, target, status,
    sample, rank, ranked`` (rank 1 is the best by the KPI's direction; areas without a value
    have no rank; ``ranked`` is how many have one). The values are ``gongzhi kpi``'s."""
    if level not in map_levels(scope.level):
        raise ValueError(f"a {scope.level} map colours {', '.join(map_levels(scope.level))}, "
                         f"not {level}")
    f = m.compute([kpi_id], scope, period, typing_cast(Group, level), compare=False,
                  viewer=viewer)
    schema = {"key": pl.String, "value": pl.Float64, "target": pl.Float64, "status": pl.String,
              "sample": pl.Int64, "rank": pl.Int64, "ranked": pl.Int64}
    if not f.height:
        return pl.DataFrame(schema=schema)
    higher = m.catalog.get(kpi_id).direction == "higher"
    f = f.filter(pl.col("key").is_not_null()).select("key", "value", "target", "status",
                                                     "sample")
    ranked = f.filter(pl.col("value").is_not_null())
    rank = ranked.with_columns(pl.col("value").rank("min", descending=higher).cast(pl.Int64)
                               .alias("rank")).select("key", "rank")
    return (f.join(rank, on="key", how="left")
            .with_columns(pl.lit(ranked.height, dtype=pl.Int64).alias("ranked"))
            .cast({k: v for k, v in schema.items() if k != "key"}).sort("key"))


def tolerance(bbox: tuple[float, float, float, float], width_px: int) -> float:
    """Degrees that make about :data:`SIMPLIFY_PX` pixels on a map of ``bbox``."""
    span = max(bbox[2] - bbox[0], (bbox[3] - bbox[1]) / math.cos(math.radians(bbox[1])))
    return SIMPLIFY_PX * span / max(width_px, 100)


def shapes(engine: Engine, scope: Scope, level: str, viewer: Viewer | None = None,
           width_px: int = 800) -> list[dict[str, Any]]:
    """The latest polygons of ``level`` inside ``scope``, simplified for a map ``width_px``
    wide: ``[{"key", "geometry" (GeoJSON mapping), "area_km2", "bbox"}]`` (``bbox``: the
    simplified polygon's bounds, so :func:`bbox_of` needs no geometry objects per page run)."""
    import shapely
    from shapely.geometry import mapping, shape

    if viewer is not None:
        viewer.check(scope.level, scope.code)
    prefix = _prefix(scope)
    if viewer is not None and len(viewer.prefix) > len(prefix):
        prefix = viewer.prefix  # never wider than the viewer's own area
    rows = geotable.latest(engine, level, prefix)
    if not rows:
        return []
    xs = [r["bbox"] for r in rows]
    box = (min(b[0] for b in xs), min(b[1] for b in xs), max(b[2] for b in xs),
           max(b[3] for b in xs))
    tol = tolerance(box, width_px)
    out = []
    for r in rows:
        g = shapely.simplify(shape(r["geometry"]), tol, preserve_topology=True)
        g = shapely.transform(g, lambda a: a.round(COORD_DECIMALS))
        # the browser's d3-geo (Vega's geoshape) reads rings on the sphere: an exterior ring
        # must run clockwise, or it draws the whole globe outside the polygon. GeoJSON files
        # (RFC 7946) usually run them anticlockwise, so each polygon is oriented here.
        g = shapely.orient_polygons(g, exterior_cw=True)
        out.append({"key": r["code"], "geometry": mapping(g), "area_km2": r["area_km2"],
                    "bbox": tuple(float(x) for x in g.bounds)})
    return out


def bbox_of(features: list[dict[str, Any]]) -> tuple[float, float, float, float] | None:
    """The bounding box of GeoJSON geometries (``features[i]["geometry"]``); from their
    ``bbox`` when :func:`shapes` gave one (each map draw asks: building a thousand shapely
    polygons for it cost more than the rest of the map's payload)."""
    import shapely
    from shapely.geometry import shape

    if not features:
        return None
    if all("bbox" in f for f in features):
        boxes = [f["bbox"] for f in features]
        return (min(b[0] for b in boxes), min(b[1] for b in boxes),
                max(b[2] for b in boxes), max(b[3] for b in boxes))
    b = shapely.total_bounds([shape(f["geometry"]) for f in features])
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


@dataclass(frozen=True)
class HexGrid:
    """Pointy-top regular hexagons of circumradius ``radius`` (degrees of latitude), regular on
    the ground at latitude ``lat0``: longitudes are scaled by cos(lat0) first, as the map's
    Mercator projection does near its centre.

    The hexagon centres are the union of two rectangular lattices, A at ``(i·w, k·3r)`` and B
    at ``((i+½)·w, (k+½)·3r)`` with ``w = √3·r``; a point's hexagon is the nearer of its
    nearest A centre and its nearest B centre (the hexagons are the lattice's Voronoi cells),
    which SQL computes with ``floor`` alone."""

    radius: float
    lat0: float

    @property
    def kx(self) -> float:
        return math.cos(math.radians(self.lat0))

    @property
    def width(self) -> float:
        return SQRT3 * self.radius

    def centre(self, lattice: int, i: int, k: int) -> tuple[float, float]:
        """(lon, lat) of a hexagon's centre."""
        half = 0.5 * lattice
        return ((i + half) * self.width / self.kx, (k + half) * 3 * self.radius)

    def ring(self, lon: float, lat: float) -> list[list[float]]:
        """The hexagon around a centre as a closed GeoJSON ring, clockwise (as d3-geo wants)."""
        pts = [[round(lon + self.radius * math.cos(math.radians(a)) / self.kx, COORD_DECIMALS),
                round(lat + self.radius * math.sin(math.radians(a)), COORD_DECIMALS)]
               for a in (90, 30, -30, -90, -150, 150)]
        return [*pts, pts[0]]



def hex_bins(engine: Engine, scope: Scope, period: Period, grid: HexGrid,
             viewer: Viewer | None = None) -> pl.DataFrame:
    """Grid events reported in ``period`` inside ``scope`` that carry a position, counted in
    the hexagons of ``grid`` by the database: ``lon, lat`` (the hexagon's centre) and
    ``events``, one row per hexagon holding an event (a few hundred rows, never the events)."""
    if viewer is not None:
        viewer.check(scope.level, scope.code)
    e = grid_events.c
    w, h = grid.width, 3 * grid.radius
    x = cast(e.longitude, Float) * grid.kx
    y = cast(e.latitude, Float)
    inner = (select(func.floor(x / w + 0.5).label("ai"), func.floor(y / h + 0.5).label("ak"),
                    func.floor(x / w).label("bi"), func.floor(y / h).label("bk"),
                    x.label("x"), y.label("y"))
             .where(prefix_range(e.grid_code, _prefix(scope)) if scope.level != "grid"
                    else e.grid_code == scope.code,
                    e.reported_at >= period.utc_start, e.reported_at < period.utc_end,
                    e.longitude.is_not(None), e.latitude.is_not(None))
             .subquery())
    c = inner.c
    dist_a = (c.x - c.ai * w) * (c.x - c.ai * w) + (c.y - c.ak * h) * (c.y - c.ak * h)
    dist_b = ((c.x - (c.bi + 0.5) * w) * (c.x - (c.bi + 0.5) * w)
              + (c.y - (c.bk + 0.5) * h) * (c.y - (c.bk + 0.5) * h))
    near_a = dist_a <= dist_b
    lattice = case((near_a, 0), else_=1).label("lattice")
    i = case((near_a, c.ai), else_=c.bi).label("i")
    k = case((near_a, c.ak), else_=c.bk).label("k")
    query = select(lattice, i, k, func.count().label("events")).group_by(lattice, i, k)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    centres = [grid.centre(int(r.lattice), int(r.i), int(r.k)) for r in rows]
    return pl.DataFrame({"lon": [cx for cx, _ in centres], "lat": [cy for _, cy in centres],
                         "events": [int(r.events) for r in rows]},
                        schema={"lon": pl.Float64, "lat": pl.Float64, "events": pl.Int64})


def notes(engine: Engine, scope: Scope, level: str) -> list[tuple[str, str]]:
    """(note, vintage) of the outline and of the polygons of ``level`` in ``scope``."""
    district = geotable.notes(engine, "district",
                              divisions.prefix(scope.code, "district"))
    return district + [n for n in geotable.notes(engine, level, _prefix(scope))
                       if n not in district]
