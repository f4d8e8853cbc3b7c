"""The geo plugin: GeoJSON, zipped Shapefile and KML boundaries and point layers into WGS84,
checked with shapely, bad features quarantined with the feature's index and the reason."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import pytest
import shapefile
from sqlalchemy import select

from tests.conftest import divisions_source
from tests.ingest.plugin_contract import PluginContract
from warehouse import runlog
from warehouse.engine import open_warehouse
from warehouse.schema import stations
from warehouse.tables.geometries import geometries, latest

HANJIANG, WANGZHAI = "420606001000", "420606002000"  # streets in the official list
COMMUNITY = "420606001001"
OTHER_DISTRICT = "420607001000"  # 襄城区's first street: not in 樊城区's list


def square(lon: float, lat: float, size: float) -> list[list[list[float]]]:
    return [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size],
             [lon, lat]]]


def feature(code: str | None, coords: Any, kind: str = "Polygon") -> dict[str, Any]:
    props = {"name": "x"} if code is None else {"XZQDM": code, "name": "x"}
    return {"type": "Feature", "properties": props,
            "geometry": {"type": kind, "coordinates": coords}}


def write_geojson(folder: Path, name: str, feats: list[dict[str, Any]],
                  **extra: Any) -> Path:
    p = folder / "geo" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats, **extra}),
                 encoding="utf-8")
    return p


def geo_source(pattern: str, **extra: Any) -> dict[str, Any]:
    return {"id": "streets_geo", "plugin": "geo", "path": pattern, "level": "street",
            "code_property": "XZQDM", "vintage": "2024-06-30", **extra}


def approx_km2(size_deg: float, lat: float) -> float:
    """A small square's area on the sphere: independent of pyproj's geodesic."""
    r = 6371.0088
    return (math.radians(size_deg) * r * math.cos(math.radians(lat + size_deg / 2))
            * math.radians(size_deg) * r)


class TestGeoContract(PluginContract):
    plugin = "geo"
    expected_rows = 2

    def source_config(self, tmp_path: Path) -> dict[str, Any]:
        write_geojson(tmp_path, "streets_2024.geojson", [
            feature(HANJIANG, square(112.10, 32.05, 0.02)),
            feature(WANGZHAI, square(112.13, 32.05, 0.02))])
        return geo_source("geo/*.geojson")

    def check_loaded(self, tmp_path: Path, warehouse_url: str) -> None:
        eng = open_warehouse(warehouse_url)
        rows = latest(eng, "street")
        eng.dispose()
        assert [r["code"] for r in rows] == [HANJIANG, WANGZHAI]
        first = rows[0]
        assert first["geometry"]["type"] == "Polygon"
        assert first["bbox"] == pytest.approx((112.10, 32.05, 112.12, 32.07))
        assert first["area_km2"] == pytest.approx(approx_km2(0.02, 32.05), rel=0.01)


def quarantined(url: str, source: str) -> dict[int, dict[str, Any]]:
    eng = open_warehouse(url)
    try:
        return {q["row_number"]: q for q in runlog.list_quarantine(eng, source=source)}
    finally:
        eng.dispose()


def test_bad_features_are_quarantined_with_index_and_reason(
        tmp_path: Path, sqlite_url: str, run_sources) -> None:
    open_ring = square(112.0, 32.1, 0.01)
    open_ring[0] = open_ring[0][:-1]  # the last point is not the first
    bowtie = [[[112.0, 32.0], [112.01, 32.01], [112.01, 32.0], [112.0, 32.01], [112.0, 32.0]]]
    write_geojson(tmp_path, "streets_2024.geojson", [
        feature(HANJIANG, square(112.10, 32.05, 0.02)),  # 1: good
        feature(WANGZHAI, bowtie),  # 2: self-intersecting
        feature(WANGZHAI, open_ring),  # 3: does not close
        feature(None, square(112.2, 32.1, 0.01)),  # 4: no code
        feature(OTHER_DISTRICT, square(112.3, 32.1, 0.01)),  # 5: another district's code
        feature(WANGZHAI, [112.1, 32.1], "Point"),  # 6: a point in a polygon layer
        feature(COMMUNITY, square(112.4, 32.1, 0.01)),  # 7: a community, not a street
    ])
    r = run_sources(sqlite_url, [divisions_source(), geo_source("geo/*.geojson")])[1]
    assert r.ok, r.error
    assert (r.read, r.loaded, r.quarantined) == (7, 1, 6)
    q = quarantined(sqlite_url, "streets_geo")
    assert sorted(q) == [2, 3, 4, 5, 6, 7]
    assert q[2]["reason"] == "bad_geometry" and "Self-intersection" in q[2]["message"]
    assert "feature 2" in q[2]["message"] and q[2]["column_name"] == "geometry"
    assert q[3]["reason"] == "bad_geometry" and "does not close" in q[3]["message"]
    assert q[4]["reason"] == "missing_value" and q[4]["column_name"] == "code"
    assert q[5]["reason"] == "unknown_street" and OTHER_DISTRICT in q[5]["message"]
    assert q[6]["reason"] == "bad_geometry" and "Point, not a polygon" in q[6]["message"]
    assert q[7]["reason"] == "unknown_street"
    assert "112.01" in q[2]["raw"]  # the shape is kept as read, nothing lost
    eng = open_warehouse(sqlite_url)
    with eng.connect() as c:
        assert c.execute(select(geometries.c.code)).scalars().all() == [HANJIANG]
    eng.dispose()


def test_unknown_crs_is_an_error_naming_the_file(tmp_path: Path, sqlite_url: str,
                                                 run_sources) -> None:
    path = write_geojson(tmp_path, "streets_2024.geojson",
                         [feature(HANJIANG, square(112.1, 32.05, 0.02))])
    r = run_sources(sqlite_url, [divisions_source(),
                                 geo_source("geo/*.geojson", crs="EPSG:999999")])[1]
    assert not r.ok
    assert "EPSG:999999" in (r.error or "") and str(path.name) in (r.error or "")


def test_gcj02_polygon_is_converted_to_wgs84(tmp_path: Path, sqlite_url: str,
                                             run_sources) -> None:
    # a ring whose first corner is eviltransform's Shanghai vector in GCJ-02
    glon, glat = 121.531541859215, 31.17530398364597
    ring = square(glon, glat, 0.01)
    write_geojson(tmp_path, "streets_2024.geojson", [feature(HANJIANG, ring)])
    r = run_sources(sqlite_url, [divisions_source(),
                                 geo_source("geo/*.geojson", crs="GCJ-02")])[1]
    assert r.ok and r.loaded == 1, r.error
    eng = open_warehouse(sqlite_url)
    shape = latest(eng, "street")[0]["geometry"]
    eng.dispose()
    corners = {(round(x, 6), round(y, 6)) for x, y in shape["coordinates"][0]}
    assert (121.527211, 31.177428) in corners  # the published WGS84 point, to 1e-6


def mercator(lon: float, lat: float) -> tuple[float, float]:
    r = 6378137.0
    return (math.radians(lon) * r, r * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)))


def shapefile_zip(path: Path, rings: list[tuple[str, list[list[float]]]], prj: str | None,
                  encoding: str = "gbk", extra: dict[str, bytes] | None = None) -> Path:
    shp, shx, dbf = io.BytesIO(), io.BytesIO(), io.BytesIO()
    w = shapefile.Writer(shp=shp, shx=shx, dbf=dbf, shapeType=shapefile.POLYGON,
                         encoding=encoding)
    w.field("XZQDM", "C", 20)
    w.field("XZQMC", "C", 40)
    for code, ring in rings:
        w.poly([ring])
        w.record(code, "汉江街道")
    w.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("streets.shp", shp.getvalue())
        z.writestr("streets.shx", shx.getvalue())
        z.writestr("streets.dbf", dbf.getvalue())
        if prj:
            z.writestr("streets.prj", prj)
        z.writestr("streets.cpg", encoding)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return path


WEB_MERCATOR_WKT = ('PROJCS["WGS 84 / Pseudo-Mercator",GEOGCS["WGS 84",DATUM["WGS_1984",'
                    'SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],'
                    'UNIT["degree",0.0174532925199433]],PROJECTION["Mercator_1SP"],'
                    'PARAMETER["central_meridian",0],PARAMETER["scale_factor",1],'
                    'PARAMETER["false_easting",0],PARAMETER["false_northing",0],'
                    'UNIT["metre",1],EXTENSION["PROJ4","+proj=merc +a=6378137 +b=6378137 '
                    '+lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +no_defs"],'
                    'AUTHORITY["EPSG","3857"]]')


def test_zipped_shapefile_in_web_mercator_with_gbk_attributes(
        tmp_path: Path, sqlite_url: str, run_sources) -> None:
    corners = [(112.10, 32.05), (112.10, 32.07), (112.12, 32.07), (112.12, 32.05),
               (112.10, 32.05)]  # clockwise: a Shapefile's outer ring
    ring = [list(mercator(*c)) for c in corners]
    shapefile_zip(tmp_path / "geo" / "streets_2024.zip", [(HANJIANG, ring)], WEB_MERCATOR_WKT)
    r = run_sources(sqlite_url, [divisions_source(), geo_source("geo/*.zip")])[1]
    assert r.ok and (r.loaded, r.quarantined) == (1, 0), r.error
    eng = open_warehouse(sqlite_url)
    row = latest(eng, "street")[0]
    eng.dispose()
    got = {(round(x, 6), round(y, 6)) for x, y in row["geometry"]["coordinates"][0]}
    assert got == {(round(x, 6), round(y, 6)) for x, y in corners}
    assert row["area_km2"] == pytest.approx(approx_km2(0.02, 32.05), rel=0.01)


def test_shapefile_zip_with_a_path_outside_is_refused(tmp_path: Path, sqlite_url: str,
                                                      run_sources) -> None:
    ring = [[112.1, 32.05], [112.1, 32.07], [112.12, 32.07], [112.1, 32.05]]
    shapefile_zip(tmp_path / "geo" / "streets_2024.zip", [(HANJIANG, ring)], None,
                  extra={"../../evil.txt": b"x"})
    r = run_sources(sqlite_url, [divisions_source(), geo_source("geo/*.zip")])[1]
    assert not r.ok and "outside" in (r.error or "") and "streets_2024.zip" in (r.error or "")


def test_shapefile_zip_bomb_is_refused(tmp_path: Path, sqlite_url: str, run_sources) -> None:
    ring = [[112.1, 32.05], [112.1, 32.07], [112.12, 32.07], [112.1, 32.05]]
    shapefile_zip(tmp_path / "geo" / "streets_2024.zip", [(HANJIANG, ring)], None,
                  extra={"padding.bin": b"\0" * 20_000_000})
    r = run_sources(sqlite_url, [divisions_source(), geo_source("geo/*.zip")])[1]
    assert not r.ok and "zip bomb" in (r.error or "")


KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<Placemark><name>汉江街道</name>
 <ExtendedData><Data name="XZQDM"><value>{code}</value></Data></ExtendedData>
 <Polygon><outerBoundaryIs><LinearRing><coordinates>
  112.10,32.05,0 112.12,32.05,0 112.12,32.07,0 112.10,32.07,0 112.10,32.05,0
 </coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
<Placemark><name>没闭合</name>
 <ExtendedData><SchemaData><SimpleData name="XZQDM">{code2}</SimpleData></SchemaData>
 </ExtendedData>
 <Polygon><outerBoundaryIs><LinearRing><coordinates>
  112.13,32.05 112.15,32.05 112.15,32.07 112.13,32.07
 </coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
</Document></kml>"""


def test_kml_polygons(tmp_path: Path, sqlite_url: str, run_sources) -> None:
    p = tmp_path / "geo" / "streets_2024.kml"
    p.parent.mkdir(parents=True)
    p.write_text(KML.format(code=HANJIANG, code2=WANGZHAI), encoding="utf-8")
    r = run_sources(sqlite_url, [divisions_source(), geo_source("geo/*.kml")])[1]
    assert r.ok and (r.loaded, r.quarantined) == (1, 1), r.error
    q = quarantined(sqlite_url, "streets_geo")
    assert q[2]["reason"] == "bad_geometry" and "ring 1 does not close" in q[2]["message"]
    eng = open_warehouse(sqlite_url)
    assert [g["code"] for g in latest(eng, "street")] == [HANJIANG]
    eng.dispose()


def test_point_layer_feeds_stations_with_gcj02_converted(
        tmp_path: Path, sqlite_url: str, run_sources) -> None:
    glon, glat = 121.531541859215, 31.17530398364597  # eviltransform's Shanghai, GCJ-02
    feats = [
        {"type": "Feature", "properties": {"站点编号": "ST1", "社区编码": COMMUNITY,
                                           "站点名称": "高庄驿站", "等级": "basic"},
         "geometry": {"type": "Point", "coordinates": [glon, glat]}},
        {"type": "Feature", "properties": {"站点编号": "ST2", "社区编码": COMMUNITY,
                                           "站点名称": "无坐标", "等级": "basic"},
         "geometry": {"type": "Polygon", "coordinates": square(112.1, 32.0, 0.01)}},
    ]
    write_geojson(tmp_path, "stations.geojson", feats)
    src = {"id": "station_points", "plugin": "geo", "table": "stations",
           "path": "geo/stations.geojson", "crs": "GCJ-02",
           "columns": {"站点编号": "station_id", "社区编码": "community_code",
                       "站点名称": "name", "等级": "tier"}}
    r = run_sources(sqlite_url, [divisions_source(), src])[1]
    assert r.ok and (r.loaded, r.quarantined) == (1, 1), r.error
    eng = open_warehouse(sqlite_url)
    with eng.connect() as c:
        row = c.execute(select(stations)).one()
    eng.dispose()
    assert row.station_id == "ST1"
    assert row.longitude == pytest.approx(121.5272106, abs=1e-7)
    assert row.latitude == pytest.approx(31.1774276, abs=1e-7)
    q = quarantined(sqlite_url, "station_points")
    assert q[2]["reason"] == "bad_geometry" and "not a point" in q[2]["message"]


def test_polygon_source_without_level_or_code_property_says_so(
        tmp_path: Path, sqlite_url: str, run_sources) -> None:
    write_geojson(tmp_path, "streets_2024.geojson",
                  [feature(HANJIANG, square(112.1, 32.05, 0.02))])
    src = {"id": "g", "plugin": "geo", "path": "geo/*.geojson"}
    r = run_sources(sqlite_url, [divisions_source(), src])[1]
    assert not r.ok and "level and code_property" in (r.error or "")
