"""``geo``: boundary polygons and point layers from GeoJSON, zipped Shapefile or KML.

Polygons (the default, table ``geometries``): one row per feature, keyed by the division code
in ``code_property`` at ``level`` and by the boundary ``vintage``. Point layers (``table`` =
``stations``, ``grid_events`` … any table with ``longitude`` / ``latitude``): each feature's
properties become source columns (mapped like a CSV's headers) plus its point.

Coordinates are reprojected to WGS84 with pyproj (``crs``, else what the file declares, else
EPSG:4326); ``GCJ-02``, the offset datum of Chinese web maps, is converted by the iterative
inverse (ingest/plugins/gcj02.py). Shapes are checked with shapely: a ring that does not
close, a self-intersecting or otherwise invalid polygon, a polygon without area, or the wrong
kind of geometry is quarantined as ``bad_geometry`` with the feature's index and the reason;
a feature without a code, or a code that is not in the division list at that level (another
district's, say), is quarantined by the table contract. An unknown CRS stops the source with
an error naming the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from core.divisions import Level
from core.errors import SourceError
from core.privacy import redact
from core.reasons import BAD_GEOMETRY
from ingest.contract import (
    BAD_COLUMN,
    BAD_MESSAGE,
    BAD_REASON,
    ORIGIN,
    ROW,
    Batch,
    PluginConfig,
    Source,
)
from ingest.plugins import gcj02
from ingest.plugins.files import FilesConfig, matching_files
from ingest.plugins.geo_formats import Feature, Layer, read_geojson, read_kml, read_shapefile_zip
from warehouse.engine import utcnow
from warehouse.schema import data_tables

GCJ02 = "GCJ-02"
WGS84 = "EPSG:4326"
POLYGON_TABLE = "geometries"
SUFFIXES = {".geojson": "geojson", ".json": "geojson", ".zip": "shapefile", ".kml": "kml"}
COORD_DECIMALS = 7  # ≈ 1 cm: what a boundary file's precision can mean


class GeoConfig(PluginConfig):
    path: str = Field(description="glob of boundary files, relative to the config folder")
    level: Level | None = None
    code_property: str | None = None
    crs: str | None = None  # default: what the file declares, else EPSG:4326
    vintage: dt.date | None = None  # default: 30 June of the year in the file name
    note: str | None = None  # shown under the map: origin, licence, "demo geometry" …
    encoding: str | None = None  # a Shapefile's attribute table without a .cpg
    max_file_mb: float = 256.0
    max_unzipped_mb: float = 1024.0

    _inside = field_validator("path")(FilesConfig._inside.__func__)  # type: ignore[attr-defined]


def transformer(crs: str, location: str) -> Callable[[np.ndarray], np.ndarray] | None:
    """A function of (n, 2) lon/lat arrays into WGS84, or None for WGS84 itself."""
    if crs.strip().upper().replace("_", "-") in (GCJ02, "GCJ02"):
        def from_gcj(a: np.ndarray) -> np.ndarray:
            lon, lat = gcj02.gcj02_to_wgs84(a[:, 0], a[:, 1])
            return np.column_stack([lon, lat])
        return from_gcj
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError

    try:
        source = CRS.from_user_input(crs)
    except CRSError:
        raise SourceError(f"unknown coordinate reference system {crs!r} (use an EPSG code such "
                          "as \"EPSG:4326\", \"EPSG:4490\" or \"GCJ-02\")",
                          location=location) from None
    if source.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return None
    tr = Transformer.from_crs(source, CRS.from_epsg(4326), always_xy=True)

    def project(a: np.ndarray) -> np.ndarray:
        x, y = tr.transform(a[:, 0], a[:, 1])
        return np.column_stack([x, y])
    return project


def _rings(geom: dict[str, Any]) -> list[list[Any]]:
    coords = geom.get("coordinates") or []
    if geom.get("type") == "Polygon":
        return list(coords)
    if geom.get("type") == "MultiPolygon":
        return [ring for poly in coords for ring in poly]
    return []


def check_polygon(geom: dict[str, Any] | None) -> tuple[Any, str | None]:
    """The shapely polygon of a GeoJSON mapping, or None and why it is not a valid one."""
    import shapely
    from shapely.geometry import shape

    if geom is None:
        return None, "the feature has no geometry"
    kind = geom.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        return None, f"the geometry is a {kind}, not a polygon"
    for n, ring in enumerate(_rings(geom), start=1):
        if len(ring) < 4:
            return None, f"ring {n} has {len(ring)} points (a closed ring needs at least 4)"
        if list(ring[0])[:2] != list(ring[-1])[:2]:
            return None, (f"ring {n} does not close: it starts at {list(ring[0])[:2]} and "
                          f"ends at {list(ring[-1])[:2]}")
    try:
        poly = shape(geom)
    except Exception as e:  # shapely rejects malformed coordinate nesting
        return None, f"the geometry cannot be read as a polygon ({e})"
    if not poly.is_valid:  # before the area: a bow tie's two halves cancel out to 0
        return None, f"the polygon is not valid: {shapely.is_valid_reason(poly)}"
    if poly.is_empty or poly.area == 0:
        return None, "the polygon has no area"
    return poly, None


def _text(v: Any) -> str | None:
    """A property as text: 420606001000.0 (a DBF number) → '420606001000'."""
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = str(v).strip()
    return s or None


class GeoSource(Source):
    """Boundary polygons (``geometries``) or point layers of a table with lon/lat columns."""

    name = "geo"
    Config = GeoConfig
    tables = None
    needs_table = False

    config: GeoConfig

    def describe(self) -> str:
        return str(self.spec.resolve(self.config.path))

    def target_tables(self) -> tuple[str, ...]:
        return (self.spec.table or POLYGON_TABLE,)

    def files(self) -> list[Path]:
        return matching_files(self.spec, self.config.path)

    def extract(self, cursor: Any | None) -> Iterator[Batch]:
        table = self.target_tables()[0]
        polygons = table == POLYGON_TABLE
        self._check_settings(table, polygons)
        loaded: dict[str, Any] = dict((cursor or {}).get("files", {}))
        found = self.files()
        if not found:
            self.ctx.no_input(f"no files match {self.describe()}")
        for path in found:
            location = str(path)
            size_mb = path.stat().st_size / 2**20
            if size_mb > self.config.max_file_mb:
                raise SourceError(f"file is {size_mb:,.0f} MB, over the limit of "
                                  f"{self.config.max_file_mb:,.0f} MB", location=location)
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest in loaded:
                continue
            layer = self._read(path, data)
            crs = self.config.crs or layer.crs or WGS84
            to_wgs84 = transformer(crs, location)
            if polygons:
                frame = self._polygons(layer.features, to_wgs84, location, path)
            else:
                frame = self._points(layer.features, to_wgs84, location)
            loaded[digest] = {"path": redact(location), "loaded_at": utcnow().isoformat(),
                              "crs": crs if len(crs) < 64 else "(.prj)",
                              "features": len(layer.features)}
            self.ctx.progress(f"read {location}", frame.height)
            yield Batch(table=table, frame=frame, cursor={"files": dict(loaded)},
                        note=location, mapped=polygons)

    def _check_settings(self, table: str, polygons: bool) -> None:
        where = self.describe()
        if polygons:
            missing = [k for k in ("level", "code_property") if getattr(self.config, k) is None]
            if missing:
                raise SourceError(f"a boundary source needs {' and '.join(missing)}",
                                  location=where)
        elif {"longitude", "latitude"} - set(data_tables()[table].c.keys()):
            raise SourceError(f"{table} has no longitude / latitude columns: a point layer "
                              f"feeds {POLYGON_TABLE} or a table with them", location=where)

    def _read(self, path: Path, data: bytes) -> Layer:
        kind = SUFFIXES.get(path.suffix.lower())
        if kind == "geojson":
            return read_geojson(data, str(path))
        if kind == "kml":
            return read_kml(data, str(path))
        if kind == "shapefile":
            return read_shapefile_zip(path, max_unzipped_mb=self.config.max_unzipped_mb,
                                      encoding=self.config.encoding)
        raise SourceError(f"unsupported file type '{path.suffix}' (use .geojson, .kml or a "
                          ".zip holding a Shapefile)", location=str(path))

    def _vintage(self, path: Path) -> dt.date:
        if self.config.vintage:
            return self.config.vintage
        m = re.search(r"(19|20)\d{2}", path.name)
        if not m:
            raise SourceError("cannot tell the boundary vintage from the file name; set "
                              "'vintage'", location=str(path))
        return dt.date(int(m.group(0)), 6, 30)

    def _polygons(self, features: list[Feature],
                  to_wgs84: Callable[[np.ndarray], np.ndarray] | None,
                  location: str, path: Path) -> pl.DataFrame:
        import shapely
        from pyproj import Geod

        geod = Geod(ellps="WGS84")
        vintage = self._vintage(path).isoformat()
        rows: dict[str, list[Any]] = {k: [] for k in (
            ROW, "code", "geometry", "bbox", "area_km2", BAD_REASON, BAD_MESSAGE)}
        prop = self.config.code_property or ""
        for f in features:
            poly, why = check_polygon(f.geometry)
            if poly is not None and to_wgs84 is not None:
                poly = shapely.transform(poly, to_wgs84)
                if not poly.is_valid:  # a projection can fold a sliver
                    poly, why = None, ("the polygon is not valid once in WGS84: "
                                       f"{shapely.is_valid_reason(poly)}")
            rows[ROW].append(f.index)
            rows["code"].append(_text(f.properties.get(prop)))
            if poly is None:  # kept as read, so the quarantine shows the shape
                rows["geometry"].append(json.dumps(f.geometry)[:100_000] if f.geometry else None)
                rows["bbox"].append("-")  # nothing to measure: the reason is the shape
                rows["area_km2"].append(0.0)
                rows[BAD_REASON].append(BAD_GEOMETRY)
                rows[BAD_MESSAGE].append(f"feature {f.index}: {why}")
                continue
            poly = shapely.transform(poly, lambda a: np.round(a, COORD_DECIMALS))
            area, _ = geod.geometry_area_perimeter(poly)
            rows["geometry"].append(shapely.to_geojson(poly))
            rows["bbox"].append(",".join(f"{v:.{COORD_DECIMALS}f}" for v in poly.bounds))
            rows["area_km2"].append(abs(area) / 1e6)
            rows[BAD_REASON].append(None)
            rows[BAD_MESSAGE].append(None)
        n = len(features)
        return pl.DataFrame({
            ROW: pl.Series(rows[ROW], dtype=pl.Int64),
            ORIGIN: [location] * n,
            "code": pl.Series(rows["code"], dtype=pl.String),
            "vintage": [vintage] * n,
            "level": [self.config.level] * n,
            "geometry": pl.Series(rows["geometry"], dtype=pl.String),
            "bbox": pl.Series(rows["bbox"], dtype=pl.String),
            "area_km2": pl.Series(rows["area_km2"], dtype=pl.Float64),
            "note": [self.config.note] * n,
            BAD_REASON: pl.Series(rows[BAD_REASON], dtype=pl.String),
            BAD_MESSAGE: pl.Series(rows[BAD_MESSAGE], dtype=pl.String),
            BAD_COLUMN: ["geometry"] * n,
        })

    def _points(self, features: list[Feature],
                to_wgs84: Callable[[np.ndarray], np.ndarray] | None,
                location: str) -> pl.DataFrame:
        names: list[str] = []
        for f in features:
            names += [k for k in f.properties if k not in names]
        lonlat = np.full((len(features), 2), np.nan)
        bad: list[str | None] = []
        for i, f in enumerate(features):
            g = f.geometry or {}
            c = g.get("coordinates")
            if g.get("type") != "Point" or not isinstance(c, list | tuple) or len(c) < 2:
                kind = g.get("type") or "no geometry"
                bad.append(f"feature {f.index}: the geometry is {kind}, not a point")
                continue
            try:
                lonlat[i] = [float(c[0]), float(c[1])]
                bad.append(None)
            except (TypeError, ValueError):
                bad.append(f"feature {f.index}: {c!r} is not a coordinate pair")
        ok = ~np.isnan(lonlat[:, 0])
        if to_wgs84 is not None and ok.any():
            lonlat[ok] = to_wgs84(lonlat[ok])
        cols: dict[str, Any] = {
            name: pl.Series([_text(f.properties.get(name)) for f in features], dtype=pl.String)
            for name in names if name not in ("longitude", "latitude")}
        cols["longitude"] = pl.Series([None if np.isnan(v) else f"{v:.7f}"
                                       for v in lonlat[:, 0]], dtype=pl.String)
        cols["latitude"] = pl.Series([None if np.isnan(v) else f"{v:.7f}"
                                      for v in lonlat[:, 1]], dtype=pl.String)
        return pl.DataFrame({
            ROW: pl.Series([f.index for f in features], dtype=pl.Int64),
            ORIGIN: [location] * len(features),
            **cols,
            BAD_REASON: pl.Series([BAD_GEOMETRY if b else None for b in bad], dtype=pl.String),
            BAD_MESSAGE: pl.Series(bad, dtype=pl.String),
            BAD_COLUMN: ["longitude"] * len(features),
        })
