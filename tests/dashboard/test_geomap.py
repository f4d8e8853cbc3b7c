"""The map chart without a server: the projection fits the area, basemap tiles are the right
web-Mercator tiles with the key from the environment, and [map] settings are checked."""

from __future__ import annotations

import itertools
import json
import math

import polars as pl
import pytest

from core.mapsettings import MapSettings, parse_map
from dashboard.components import geomap

BBOX = (111.74, 32.02, 112.18, 32.25)  # about 樊城区
TEMPLATE = "https://tiles.example/{z}/{x}/{y}.png?tk=KEY"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The slippy-map tile holding a point (the OSM wiki's asinh form)."""
    n = 2 ** z
    return (int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


def test_projection_fits_the_area_in_the_frame() -> None:
    scale, lon_c, _lat_c = geomap.projection(BBOX, 760, 540)
    width_px = math.radians(BBOX[2] - BBOX[0]) * scale
    merc = [math.log(math.tan(math.pi / 4 + math.radians(y) / 2)) for y in (BBOX[1], BBOX[3])]
    height_px = (merc[1] - merc[0]) * scale
    assert width_px <= 760 and height_px <= 540
    assert max(width_px / 760, height_px / 540) == pytest.approx(0.94)
    assert lon_c == pytest.approx(sum(BBOX[::2]) / 2)


def test_tiles_cover_the_area_at_the_maps_scale() -> None:
    scale, _, _ = geomap.projection(BBOX, 760, 540)
    frame, size = geomap.tiles(TEMPLATE, BBOX, scale)
    z = int(frame["url"][0].split("/")[3])
    assert 256 <= size < 512  # drawn at 1-2× their size: the zoom nearest the map's scale
    want = {(x, y) for x in range(tile_of(BBOX[0], BBOX[3], z)[0],
                                  tile_of(BBOX[2], BBOX[3], z)[0] + 1)
            for y in range(tile_of(BBOX[0], BBOX[3], z)[1], tile_of(BBOX[0], BBOX[1], z)[1] + 1)}
    got = {(int(u.split("/")[4]), int(u.split("/")[5].split(".")[0])) for u in frame["url"]}
    assert got == want
    # each tile's north-west corner is where that tile starts
    for row in frame.iter_rows(named=True):
        x, y = int(row["url"].split("/")[4]), int(row["url"].split("/")[5].split(".")[0])
        assert tile_of(row["lon"] + 1e-9, row["lat"] - 1e-9, z) == (x, y)


def test_basemap_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    m = MapSettings("https://t0.example/w?x={x}&y={y}&z={z}&tk=${TIANDITU_KEY}")
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    assert m.tile_template() == (None, ["TIANDITU_KEY"])
    monkeypatch.setenv("TIANDITU_KEY", "abc123")
    assert m.tile_template() == ("https://t0.example/w?x={x}&y={y}&z={z}&tk=abc123", [])
    assert MapSettings().tile_template() == (None, [])


def test_map_settings_problems_are_reported() -> None:
    _, problems = parse_map({"basemap_url": "https://x/{z}/{x}.png", "colour": 1}, "f:3")
    text = "; ".join(p.message for p in problems)
    assert "unknown map key 'colour'" in text and "{z}, {x} and {y}" in text
    ok, none = parse_map({"basemap_url": TEMPLATE, "basemap_attribution": "© 天地图"}, "f:3")
    assert none == [] and ok.basemap_url == TEMPLATE


def test_chart_with_basemap_lays_tiles_under_the_polygons() -> None:
    square = {"type": "Polygon", "coordinates": [[[112.0, 32.1], [112.0, 32.2], [112.1, 32.2],
                                                  [112.1, 32.1], [112.0, 32.1]]]}
    bins = pl.DataFrame({"lon": [112.05, 112.5], "lat": [32.15, 32.15], "events": [3, 1]})
    grid = geomap.hex_grid(BBOX)
    hexes = geomap.hex_features(bins, grid)
    payload = geomap.MapPayload(
        "grid.closure_rate", "street",
        [{"type": "Feature", "geometry": square, "properties": {}, "key": "420606001000",
          "area": "汉江街道", "shown": "95%", "target_shown": "95%", "status_label": "达标（蓝）",
          "rank_shown": "1 / 1"}], bins, BBOX, hexes=hexes)
    assert [h["events"] for h in hexes] == [3, 1]
    spec = geomap.map_chart(payload, "结案率", basemap=TEMPLATE)
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
             for layer in spec["layer"]]
    assert marks == ["image", "geoshape", "geoshape"]
    assert "tk=KEY" in json.dumps(spec)
    assert spec["layer"][1]["data"] == {"values": payload.features}  # the polygons, inline
    assert spec["layer"][2]["data"] == {"values": hexes}
    # only the areas take clicks: the hexagons' layer is named for the style that lets the
    # pointer through its marks (tests/dashboard/test_e2e_map.py clicks through one)
    picks = {p["name"]: (p["views"], p["select"]["fields"]) for p in spec["params"]}
    assert picks == {"pick": ([spec["layer"][1]["name"]], ["key"])}
    assert spec["layer"][2]["name"] == geomap.HEX_LAYER
    assert f".{geomap.HEX_LAYER}_marks path" in geomap.MAP_CSS
    offline = geomap.map_chart(payload, "结案率")
    assert "image" not in json.dumps([layer["mark"] for layer in offline["layer"]])


def test_hexagons_are_regular_on_the_ground_and_clockwise() -> None:
    grid = geomap.hex_grid(BBOX)
    ring = grid.ring(112.0, 32.1)
    kx = math.cos(math.radians(grid.lat0))
    ground = [((x - 112.0) * kx, y - 32.1) for x, y in ring[:-1]]
    for gx, gy in ground:  # every corner one radius from the centre (within the rounding)
        assert math.hypot(gx, gy) == pytest.approx(grid.radius, abs=2e-5)
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
    assert area2 < 0 and ring[0] == ring[-1]  # closed, clockwise (d3-geo's orientation)
    # about HEX_ACROSS hexagons across the map's width
    across = (BBOX[2] - BBOX[0]) * kx / (math.sqrt(3) * grid.radius)
    assert geomap.HEX_ACROSS - 1 <= across <= geomap.HEX_ACROSS + 1


def test_the_outline_sent_first_sits_where_the_map_goes_and_charts_are_not_shared() -> None:
    square = {"type": "Polygon", "coordinates": [[[112.0, 32.1], [112.0, 32.2], [112.1, 32.2],
                                                  [112.1, 32.1], [112.0, 32.1]]]}
    outline = [{"type": "Feature", "geometry": square, "properties": {}}]
    feature = {"type": "Feature", "geometry": square, "properties": {}, "key": "420606001000",
               "area": "汉江街道", "shown": "95%", "target_shown": "95%",
               "status_label": "达标（蓝）", "rank_shown": "1 / 1"}
    payload = geomap.MapPayload("grid.closure_rate", "street", [feature], pl.DataFrame(),
                                BBOX, outline=outline)
    spec = geomap.map_chart(payload, "结案率")
    first = geomap.outline_chart(payload)
    # the same projection, so the map replaces the outline in place
    assert first["projection"] == spec["projection"]
    assert (first["width"], first["height"]) == (spec["width"], spec["height"])
    assert first["data"] == {"values": outline} and first["mark"]["type"] == "geoshape"
    scale, lon_c, lat_c = geomap.projection(BBOX, geomap.WIDTH, geomap.HEIGHT)
    assert spec["projection"]["scale"] == pytest.approx(scale)
    assert spec["projection"]["center"] == pytest.approx([lon_c, lat_c])
    # the chart built without its polygons is kept, but every caller gets its own spec
    spec["layer"][0]["mark"]["fill"] = "changed"
    again = geomap.map_chart(payload, "结案率")
    assert again["layer"][0]["mark"]["fill"] == "#eef1f4"
    assert again["layer"][1]["data"] == {"values": [feature]}
    other = geomap.map_chart(payload, "按期结案率")  # another label: another tooltip title
    titles = [t["title"] for t in other["layer"][1]["encoding"]["tooltip"]]
    assert "按期结案率" in titles and "结案率" not in titles
