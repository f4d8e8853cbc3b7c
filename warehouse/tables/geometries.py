"""Boundaries of the district's areas: one polygon (or multipolygon) per division code and
boundary vintage, fed by the ``geo`` source plugin (ingest/plugins/geo.py).

The geometry is stored as GeoJSON text in WGS84 (longitude, latitude), with its bounding box
and its area in km², so that a reader needs neither a spatial database nor shapely to select
the polygons of an area. Several vintages of one code may coexist (boundaries are redrawn):
readers take the latest vintage of each code (:func:`latest`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Column, Date, Engine, Float, Index, String, func, select

from core.divisions import LEVEL_WORDS, SCOPE_LEVELS
from warehouse.schema import DIMENSION, _table

geometries = _table(
    "geometries",
    DIMENSION,
    # the division code; ``ref`` "@level": it must exist in divisions at the row's own level
    Column("code", String(32), primary_key=True, info={"ref": "@level"}),
    Column("vintage", Date, primary_key=True),
    Column("level", String(16), nullable=False,
           info={"enum": SCOPE_LEVELS, "synonyms": LEVEL_WORDS}),
    # GeoJSON geometry text, WGS84; coordinates are code-like text (never redacted)
    # GeoJSON text, simplified on load; a declared maximum as for every text column (10 MB,
    # under PostgreSQL's varchar limit): a larger feature is quarantined (too_long), not stored
    Column("geometry", String(10_000_000), nullable=False, info={"code": True}),
    Column("bbox", String(128), nullable=False, info={"code": True}),  # "minx,miny,maxx,maxy"
    Column("area_km2", Float, nullable=False, info={"range": (0, 1_000_000)}),
    # what the map says under these shapes: their origin and licence, "demo geometry" …
    Column("note", String(500)),
    Index("ix_geometries_level", "level", "code"),
)


def latest(engine: Engine, level: str, prefix: str = "") -> list[dict[str, Any]]:
    """The latest-vintage geometry of every code of ``level`` starting with ``prefix`` (a
    viewer's area): ``code, vintage, geometry (a dict), bbox (4 floats), area_km2``."""
    g = geometries.c
    newest = (select(g.code, func.max(g.vintage).label("vintage"))
              .where(g.level == level, g.code.startswith(prefix, autoescape=True))
              .group_by(g.code).subquery())
    query = (select(g.code, g.vintage, g.geometry, g.bbox, g.area_km2)
             .join(newest, (newest.c.code == g.code) & (newest.c.vintage == g.vintage))
             .order_by(g.code))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{"code": r.code, "vintage": r.vintage if isinstance(r.vintage, dt.date)
             else dt.date.fromisoformat(str(r.vintage)),
             "geometry": json.loads(r.geometry),
             "bbox": tuple(float(x) for x in r.bbox.split(",")), "area_km2": r.area_km2}
            for r in rows]


def notes(engine: Engine, level: str, prefix: str = "") -> list[tuple[str, str]]:
    """The notes and vintages of the polygons of ``level`` under ``prefix`` (what the map's
    caption states: where the shapes come from, their licence, whether they are demo ones)."""
    g = geometries.c
    query = (select(g.note, func.max(g.vintage))
             .where(g.level == level, g.code.startswith(prefix, autoescape=True))
             .group_by(g.note).order_by(g.note))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [(note or "", v.isoformat() if isinstance(v, dt.date) else str(v))
            for note, v in rows]
