"""Readers of boundary and point files for the ``geo`` plugin: GeoJSON, zipped Shapefile and
KML, each into a list of :class:`Feature` (properties and a GeoJSON geometry mapping, in the
file's own coordinates) plus the coordinate reference system the file declares, if any.

Nothing is reprojected or validated here (ingest/plugins/geo.py does both), and nothing is
written to disk: a Shapefile zip is read member by member in memory after the same zip-bomb
checks as an XLSX, and members whose names would point outside the archive are refused.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from defusedxml import ElementTree

from core.errors import SourceError
from ingest.plugins.files import check_zip


@dataclass
class Feature:
    """One feature of a file: its 1-based index, properties, and geometry (None: none)."""

    index: int
    properties: dict[str, Any]
    geometry: dict[str, Any] | None


@dataclass
class Layer:
    features: list[Feature]
    crs: str | None  # what the file declares (GeoJSON "crs", a Shapefile's .prj), or None


# -- GeoJSON -------------------------------------------------------------------------------------


def read_geojson(data: bytes, location: str) -> Layer:
    """A FeatureCollection, a single Feature or a bare geometry."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SourceError(f"not valid GeoJSON: {e}", location=location) from None
    if not isinstance(doc, dict) or "type" not in doc:
        raise SourceError("not GeoJSON: the top level has no 'type'", location=location)
    crs = None
    declared = doc.get("crs")
    if isinstance(declared, dict):  # the 2008 GeoJSON "crs" member (RFC 7946 dropped it)
        crs = str((declared.get("properties") or {}).get("name") or "") or None
    kind = doc["type"]
    if kind == "FeatureCollection":
        items = doc.get("features")
        if not isinstance(items, list):
            raise SourceError("a FeatureCollection without a 'features' list",
                              location=location)
    elif kind == "Feature":
        items = [doc]
    else:
        items = [{"type": "Feature", "properties": {}, "geometry": doc}]
    features = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            features.append(Feature(i, {}, None))
            continue
        props = item.get("properties") or {}
        geom = item.get("geometry")
        features.append(Feature(i, props if isinstance(props, dict) else {},
                                geom if isinstance(geom, dict) else None))
    return Layer(features, crs)


# -- zipped Shapefile ----------------------------------------------------------------------------


def read_shapefile_zip(path: Path, *, max_unzipped_mb: float,
                       encoding: str | None = None) -> Layer:
    """The one Shapefile (.shp, .shx, .dbf; .prj and .cpg if present) inside a zip."""
    import shapefile  # pyshp: pure Python, no GDAL

    location = str(path)
    check_zip(path, max_unzipped_mb)
    with zipfile.ZipFile(path) as z:
        members: dict[str, zipfile.ZipInfo] = {}
        for info in z.infolist():
            name = PurePosixPath(info.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or ":" in info.filename:
                raise SourceError(f"refused: the zip names a path outside itself "
                                  f"({info.filename!r})", location=location)
            if not info.is_dir() and not name.name.startswith("."):
                members[info.filename] = info
        shps = [n for n in members if n.lower().endswith(".shp")]
        if len(shps) != 1:
            raise SourceError(f"a Shapefile zip must hold exactly one .shp, found {len(shps)}",
                              location=location)
        stem = shps[0][:-4]

        def part(ext: str) -> bytes | None:
            for n, info in members.items():
                if n[:-len(ext)] == stem and n.lower().endswith(ext):
                    return z.read(info)
            return None

        shp, shx, dbf = part(".shp"), part(".shx"), part(".dbf")
        prj, cpg = part(".prj"), part(".cpg")
    if shp is None or dbf is None:
        raise SourceError("the Shapefile lacks its .dbf (the attribute table)", location=location)
    enc = encoding or (cpg.decode("ascii", "replace").strip() if cpg else None) or "utf-8"
    crs = prj.decode("utf-8", "replace").strip() if prj else None
    features = []
    try:
        reader = shapefile.Reader(shp=io.BytesIO(shp), dbf=io.BytesIO(dbf),
                                  shx=io.BytesIO(shx) if shx else None, encoding=enc)
        fields = [f[0] for f in reader.fields[1:]]
        for i, rec in enumerate(reader.iterShapeRecords(), start=1):
            props = dict(zip(fields, list(rec.record), strict=False))
            shape = rec.shape
            geom = None if shape.shapeType == shapefile.NULL else dict(shape.__geo_interface__)
            features.append(Feature(i, props, geom))
    except UnicodeDecodeError:
        raise SourceError(f"the attribute table is not {enc}: set 'encoding' (e.g. \"gbk\") "
                          "or add a .cpg file", location=location) from None
    except shapefile.ShapefileException as e:
        raise SourceError(f"not a readable Shapefile: {e}", location=location) from None
    return Layer(features, crs)


# -- KML -----------------------------------------------------------------------------------------

KML_NS = "{http://www.opengis.net/kml/2.2}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: Any, name: str) -> list[Any]:
    return [c for c in el if _local(c.tag) == name]


def _coords(el: Any, location: str, index: int) -> list[list[float]]:
    text = " ".join((c.text or "") for c in el.iter() if _local(c.tag) == "coordinates")
    out = []
    for tup in text.split():
        parts = tup.split(",")
        try:
            out.append([float(parts[0]), float(parts[1])])
        except (ValueError, IndexError):
            raise SourceError(f"feature {index}: '{tup}' is not a coordinate "
                              "(longitude,latitude[,altitude])", location=location) from None
    return out


def _kml_geometry(el: Any, location: str, index: int) -> dict[str, Any] | None:
    kind = _local(el.tag)
    if kind == "Point":
        pts = _coords(el, location, index)
        return {"type": "Point", "coordinates": pts[0]} if pts else None
    if kind == "Polygon":
        rings = []
        for bound in ("outerBoundaryIs", "innerBoundaryIs"):
            for b in _children(el, bound):
                rings += [_coords(r, location, index) for r in b.iter()
                          if _local(r.tag) == "LinearRing"]
        return {"type": "Polygon", "coordinates": rings}
    if kind == "LineString":
        return {"type": "LineString", "coordinates": _coords(el, location, index)}
    if kind == "MultiGeometry":
        parts = [g for g in (_kml_geometry(c, location, index) for c in el) if g]
        if parts and all(p["type"] == "Polygon" for p in parts):
            return {"type": "MultiPolygon", "coordinates": [p["coordinates"] for p in parts]}
        if parts and all(p["type"] == "Point" for p in parts):
            return {"type": "MultiPoint", "coordinates": [p["coordinates"] for p in parts]}
        return {"type": "GeometryCollection", "geometries": parts}
    return None


GEOMETRY_TAGS = {"Point", "Polygon", "LineString", "MultiGeometry"}


def read_kml(data: bytes, location: str) -> Layer:
    """Placemarks: ``name``, ``ExtendedData`` (Data and SchemaData) and the geometry. KML is
    WGS84 by its specification; a file from a Chinese web map may still be GCJ-02 (``crs``)."""
    try:
        root = ElementTree.fromstring(data)
    except Exception as e:  # defusedxml refuses entities; expat reports bad XML
        raise SourceError(f"not valid KML: {e}", location=location) from None
    features = []
    for i, pm in enumerate((e for e in root.iter() if _local(e.tag) == "Placemark"), start=1):
        props: dict[str, Any] = {}
        for el in pm.iter():
            tag = _local(el.tag)
            if tag == "name" and "name" not in props:
                props["name"] = (el.text or "").strip()
            elif tag == "Data" and el.get("name"):
                value = next((v.text for v in el if _local(v.tag) == "value"), None)
                props[el.get("name")] = (value or "").strip()
            elif tag == "SimpleData" and el.get("name"):
                props[el.get("name")] = (el.text or "").strip()
        geom = next((_kml_geometry(g, location, i) for g in pm
                     if _local(g.tag) in GEOMETRY_TAGS), None)
        features.append(Feature(i, props, geom))
    return Layer(features, "EPSG:4326")
