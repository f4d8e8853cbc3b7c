"""The map: a choropleth of one KPI by street, community or grid in the three status colours,
event counts in hexagonal bins on top, and a click on an area drilling down into it.

:func:`map_payload` gathers what a map shows (simplified polygons, values, ranks, bins; all
computed on the server by :mod:`metrics.geo`) and :func:`map_chart` draws it with Altair's
geoshape in a fixed Mercator projection: no tile server is needed (政务外网). With
``[map] basemap_url`` configured, the tiles covering the area are laid under the polygons as
image marks in the same projection. Both are plain functions of the KPI, level, area and
period, so another page (the 首屏 big screen) can place the same map at any size.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from dashboard import data, i18n, state
from dashboard.components import charts
from dashboard.i18n import t
from dashboard.state import View
from metrics import format as fmt
from metrics import geo
from metrics.compiler import NotApplicable, Scope

WIDTH, HEIGHT = 760, 540
HEX_ACROSS = 30  # event hexagons: about this many across the map's width
TILE_PX = 256
# the hexagons' layer: its marks let the pointer through (MAP_CSS), so a click or a tooltip
# always reaches the area under the pointer, not the area at the hexagon's centre
HEX_LAYER = "gz_hexes"
MAP_CSS = f".{HEX_LAYER}_marks path {{ pointer-events: none; }}"
# placeholders for the inline polygons
AREAS, OUTLINE, HEXES = "gz_map_areas", "gz_map_outline", "gz_map_hexes"
OUTLINE_SENT = "_map_outline_sent"  # session state: this session has drawn a map already


@dataclass
class MapPayload:
    """Everything a map draws, small: GeoJSON features with their figures, event hexagons."""

    kpi: str
    level: str
    features: list[dict[str, Any]]
    bins: pl.DataFrame
    bbox: tuple[float, float, float, float] | None
    notes: list[tuple[str, str]] = field(default_factory=list)
    #: the area itself (the district's outline, the street …), drawn under its parts, so
    #: places without a polygon of ``level`` still show as part of it
    outline: list[dict[str, Any]] = field(default_factory=list)
    #: the hexagons of ``bins`` as GeoJSON features with ``events`` (drawn over the areas,
    #: they take no clicks: a tap goes to the area beneath the finger)
    hexes: list[dict[str, Any]] = field(default_factory=list)

    def size_bytes(self) -> int:
        """What the features and hexagons weigh as JSON (what goes to the browser)."""
        return sum(len(json.dumps(x, ensure_ascii=False).encode())
                   for x in (self.features, self.hexes, self.outline))


def map_payload(key: data.Key, kpi: str, level: str, scope: Scope, period: str, lang: str,
                names: dict[str, str], *, width: int = WIDTH, events: bool = True
                ) -> MapPayload:
    """The polygons of ``level`` in ``scope`` with ``kpi`` for ``period``: each feature holds
    ``key``, ``area``, ``shown``, ``target_shown``, ``status_label``, ``rank_shown``."""
    meta = data.catalog().get(kpi)
    shapes = data.map_shapes(key, scope, level, width)
    if not shapes:  # no boundaries loaded: nothing to compute
        return MapPayload(kpi, level, [], pl.DataFrame(), None)
    try:
        areas = data.map_areas(key, kpi, scope, period, level)
    except NotApplicable:
        areas = pl.DataFrame(schema={"key": pl.String})
    by_key = {r["key"]: r for r in areas.iter_rows(named=True)}
    sn = charts.status_names()
    features = []
    for s in shapes:
        r = by_key.get(s["key"], {})
        value, target = r.get("value"), r.get("target")
        rank, ranked = r.get("rank"), r.get("ranked")
        features.append({
            "type": "Feature", "geometry": s["geometry"], "properties": {},
            "key": s["key"], "area": names.get(s["key"], s["key"]),
            "shown": fmt.value(value, meta.unit, lang),
            "target_shown": fmt.value(target, meta.unit, lang) if target is not None else "—",
            "status_label": sn[r.get("status")],
            "rank_shown": f"{rank} / {ranked}" if rank is not None else "—",
        })
    bbox = geo.bbox_of(shapes)
    bins = pl.DataFrame(schema={"lon": pl.Float64, "lat": pl.Float64, "events": pl.Int64})
    hexes: list[dict[str, Any]] = []
    if events and bbox is not None:
        grid = hex_grid(bbox)
        bins = data.hex_bins(key, scope, period, grid)
        hexes = hex_features(bins, grid)
    outline = [{"type": "Feature", "geometry": s["geometry"], "properties": {}}
               for s in data.map_shapes(key, scope, scope.level, width) if s["key"] == scope.code]
    return MapPayload(kpi, level, features, bins, bbox, data.map_notes(key, scope, level),
                      outline, hexes)


def hex_grid(bbox: tuple[float, float, float, float]) -> geo.HexGrid:
    """Hexagons about :data:`HEX_ACROSS` to the map's width, regular at its centre."""
    lat0 = round((bbox[1] + bbox[3]) / 2, 4)
    ground = max((bbox[2] - bbox[0]) * math.cos(math.radians(lat0)), bbox[3] - bbox[1])
    return geo.HexGrid(round(ground / HEX_ACROSS / math.sqrt(3), 6), lat0)


def hex_features(bins: pl.DataFrame, grid: geo.HexGrid) -> list[dict[str, Any]]:
    """Each counted hexagon as a GeoJSON feature with ``events``."""
    return [{"type": "Feature", "properties": {},
             "geometry": {"type": "Polygon", "coordinates": [grid.ring(r["lon"], r["lat"])]},
             "events": r["events"]} for r in bins.iter_rows(named=True)]


def projection(bbox: tuple[float, float, float, float], width: int, height: int
               ) -> tuple[float, float, float]:
    """Mercator scale (pixels per radian) and centre that fit ``bbox`` with a margin."""
    x0, y0, x1, y1 = bbox

    def merc(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    dx = max(math.radians(x1 - x0), 1e-9)
    dy = max(merc(y1) - merc(y0), 1e-9)
    scale = 0.94 * min(width / dx, height / dy)
    lat_c = math.degrees(2 * math.atan(math.exp((merc(y0) + merc(y1)) / 2)) - math.pi / 2)
    return scale, (x0 + x1) / 2, lat_c


def tiles(template: str, bbox: tuple[float, float, float, float], scale: float
          ) -> tuple[pl.DataFrame, float]:
    """The web-Mercator tiles covering ``bbox`` at the zoom nearest the map's scale: their
    URLs and north-west corners, and the pixel size each is drawn at."""
    z = max(0, min(18, math.floor(math.log2(scale * 2 * math.pi / TILE_PX))))
    n = 2 ** z
    size = scale * 2 * math.pi / n  # pixels per tile in the map's projection

    def tx(lon: float) -> int:
        return int((lon + 180) / 360 * n)

    def ty(lat: float) -> int:
        r = math.radians(lat)
        return int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)

    rows = []
    for x in range(tx(bbox[0]), tx(bbox[2]) + 1):
        for y in range(ty(bbox[3]), ty(bbox[1]) + 1):
            lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
            rows.append({"lon": x / n * 360 - 180, "lat": lat,
                         "url": template.replace("{z}", str(z)).replace("{x}", str(x))
                         .replace("{y}", str(y))})
    return pl.DataFrame(rows), size


def map_chart(payload: MapPayload, kpi_label: str, *, width: int = WIDTH,
              height: int = HEIGHT, basemap: str | None = None) -> dict[str, Any]:
    """The Vega-Lite spec (for ``st.vega_lite_chart``) of the choropleth (click: ``pick`` on
    ``key``), event bins and optional basemap tiles.

    The polygons go into the spec after Altair has built it: Altair validates every inline
    value against the Vega-Lite schema, which takes seconds for a thousand polygons. The
    spec without them (:func:`_skeleton`) depends on a few small values only and is kept,
    so a page run does not build and validate the same Altair chart again."""
    bbox = payload.bbox or (111.7, 32.0, 112.2, 32.3)
    spec: dict[str, Any] = json.loads(_skeleton(
        kpi_label, width, height, basemap, tuple(bbox), bool(payload.outline),
        bool(payload.hexes), i18n.lang()))
    values = {AREAS: payload.features, OUTLINE: payload.outline, HEXES: payload.hexes}
    # a lone polygon layer (no outline, no bins: the 首屏) has its data hoisted to the top
    for part in [spec, *spec["layer"]]:
        name = (part.get("data") or {}).get("name")
        if name in values:
            part["data"] = {"values": values[name]}
    return spec


@functools.lru_cache(maxsize=128)
def _skeleton(kpi_label: str, width: int, height: int, basemap: str | None,
              bbox: tuple[float, float, float, float], outline: bool, hexes: bool,
              lang: str) -> str:
    """The map's Vega-Lite spec as JSON with named placeholders for its polygons. ``lang``
    is the session's language, which the legend's and tooltips' words (``t``) are in; a
    string, so every caller gets its own copy to fill."""
    del lang  # part of the cache key only: t() reads the session's language itself
    scale, lon_c, lat_c = projection(bbox, width, height)
    # precision 0: no adaptive resampling of each edge on the sphere (d3-geo's default). The
    # polygons are already simplified to under a pixel and cover a few tens of kilometres,
    # where Mercator bends no straight edge by a visible amount; resampling a thousand
    # polygons was most of the browser's time to draw the map
    proj = alt.Projection(type="mercator", scale=scale, center=[lon_c, lat_c],
                          translate=[width / 2, height / 2], precision=0)
    pick = alt.selection_point(name=charts.PICK, fields=["key"], on="click", clear=False)
    polygons = alt.Chart(alt.NamedData(name=AREAS)).mark_geoshape(
        stroke="#ffffff", strokeWidth=0.7, cursor="pointer",
        fillOpacity=0.8 if basemap else 1.0,
    ).encode(
        # legends inside the plot: a fitted chart would shrink the plot, not the projection
        color=alt.Color("status_label:N", scale=charts.status_colour(), title=t("col.status"),
                        legend=alt.Legend(orient="top-right", fillColor="#ffffffcc",
                                          padding=6)),
        tooltip=[alt.Tooltip("area:N", title=t("col.area")),
                 alt.Tooltip("shown:N", title=kpi_label),
                 alt.Tooltip("target_shown:N", title=t("map.target")),
                 alt.Tooltip("status_label:N", title=t("col.status")),
                 alt.Tooltip("rank_shown:N", title=t("map.rank"))],
    ).add_params(pick)
    layers: list[Any] = []
    if basemap:
        frame, size = tiles(basemap, bbox, scale)
        layers.append(alt.Chart(frame).mark_image(width=size, height=size, align="left",
                                                  baseline="top").encode(
            longitude="lon:Q", latitude="lat:Q", url="url:N"))
    if outline:
        layers.append(alt.Chart(alt.NamedData(name=OUTLINE)).mark_geoshape(
            fill="#eef1f4", stroke="#8c959f", strokeWidth=1))
    layers.append(polygons)
    if hexes:
        # named, so MAP_CSS finds its marks: they take no pointer events (a click on a small
        # community under a hexagon drills into that community; Vega-Lite makes every
        # geoshape interactive, so the page's style says it)
        layers.append(alt.Chart(alt.NamedData(name=HEXES)).mark_geoshape(
            fill="#24292f", stroke="#ffffff", strokeWidth=0.4).encode(
            opacity=alt.Opacity("events:Q", title=t("map.events"),
                                # from zero and light: the areas' colours stay readable
                                # under the hexagons where few events are
                                scale=alt.Scale(zero=True, range=[0.0, 0.6]),
                                legend=alt.Legend(orient="bottom-left", fillColor="#ffffffcc",
                                                  padding=6, format=",d", tickMinStep=1)),
        ).properties(name=HEX_LAYER))
    spec = alt.layer(*layers).project(**proj.to_dict()).properties(
        width=width, height=height).to_dict()
    return json.dumps(spec, ensure_ascii=False)


def outline_chart(payload: MapPayload, width: int = WIDTH, height: int = HEIGHT
                  ) -> dict[str, Any]:
    """The area's outline alone, drawn where the map will be (same projection): what a
    session's first map shows while the full map is on its way."""
    scale, lon_c, lat_c = projection(payload.bbox or (111.7, 32.0, 112.2, 32.3), width,
                                     height)
    return {"$schema": "https://vega.github.io/schema/vega-lite/v6.json",
            "width": width, "height": height, "data": {"values": payload.outline},
            "projection": {"type": "mercator", "scale": scale, "center": [lon_c, lat_c],
                           "translate": [width / 2, height / 2], "precision": 0},
            "mark": {"type": "geoshape", "fill": "#eef1f4", "stroke": "#8c959f",
                     "strokeWidth": 1}}


def page_kpis(level: str) -> list[str]:
    """The KPIs the map page offers for ``level`` (the first is its default): periodic ones
    that apply at that level, in catalogue order."""
    return [k.id for k in data.catalog().kpis.values() if k.periodic and level in k.scopes]


def basemap_template() -> tuple[str | None, list[str]]:
    """The configured tile URL with its key filled in, and variables that are not set."""
    return data.settings().map.tile_template()


def draw(view: View, kpi: str, level: str, widget: str, *, events: bool = True,
         width: int = WIDTH, height: int = HEIGHT) -> MapPayload | None:
    """Draw the map of ``kpi`` by ``level`` for the view; a click drills into the area."""
    names = data.names(view.key)
    payload = map_payload(view.key, kpi, level, view.scope, view.period, view.lang, names,
                          width=width, events=events)
    if not payload.features:
        st.info(t("map.no_shapes", level=t(f"level.{level}")))
        return None
    k = data.catalog().get(kpi)
    template, missing = basemap_template()
    if missing:
        st.caption(t("map.basemap_missing", names=", ".join(missing)))
    if payload.hexes:
        st.html(f"<style>{MAP_CSS}</style>")
    with st.container(key=f"geomap_{widget}"):
        slot = st.empty()
        if payload.outline and not st.session_state.get(OUTLINE_SENT):
            # A session's first map: the browser loads Vega's code (~0.8 MB of JavaScript)
            # only once a chart arrives. The area's outline, a few kB, goes first, so that
            # load runs while the server builds and sends the full map (half a megabyte)
            # into the same place; later runs replace the map directly (no flicker).
            slot.vega_lite_chart(outline_chart(payload, width, height), width="content")
        st.session_state[OUTLINE_SENT] = True
        chart = map_chart(payload, i18n.pick(k.label.zh, k.label.en), width=width,
                          height=height, basemap=template)
        slot.vega_lite_chart(chart, key=widget, width="content",
                             on_select=functools.partial(state.on_chart_select, widget, level),
                             selection_mode=charts.PICK)
    for note, vintage in payload.notes:
        st.caption(t("map.note", note=note, vintage=vintage))
    if template and data.settings().map.basemap_attribution:
        st.caption(i18n.md(data.settings().map.basemap_attribution))
    return payload


def map_section(view: View, kpi: str, page: str) -> None:
    """A domain page's map: the chosen KPI by the areas one level down."""
    level = geo.default_level(view.scope.level)
    if level is None:
        return
    st.subheader(t("map.section", level=t(f"level.{level}")))
    draw(view, kpi, level, f"map_{page}_{view.scope.code}_{view.period}_{kpi}", events=False)
