"""``[map]``: the map's optional basemap. Self-contained, so it can move with the settings.

By default the map draws no tiles at all: government intranets (政务外网) reach no tile server,
and the polygons need none. A deployment that has one (天地图 on the intranet, say) names its
tile URL with ``{z}``, ``{x}`` and ``{y}``; ``${VAR}`` parts are read from the environment when
the map is drawn, so a key (天地图's ``tk``) stays out of the config file::

    [map]
    basemap_url = "https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=${TIANDITU_KEY}"
    basemap_attribution = "© 天地图"
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from core.errors import Problem

ENV_PART = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class MapSettings:
    basemap_url: str | None = None  # a tile URL template; None: no basemap (offline)
    basemap_attribution: str = ""

    def tile_template(self) -> tuple[str | None, list[str]]:
        """The URL with ``${VAR}`` filled in from the environment, and the variables that are
        not set (then no basemap is drawn: a tile request without its key only fails)."""
        if not self.basemap_url:
            return None, []
        missing = [v for v in ENV_PART.findall(self.basemap_url) if not os.environ.get(v)]
        if missing:
            return None, missing
        return ENV_PART.sub(lambda m: os.environ[m.group(1)], self.basemap_url), []


def parse_map(cfg: Any, place: str) -> tuple[MapSettings, list[Problem]]:
    """``[map]`` into :class:`MapSettings`, with every problem found."""
    if cfg is None:
        return MapSettings(), []
    if not isinstance(cfg, dict):
        return MapSettings(), [Problem(place, "'map' must be a table ([map])")]
    problems = [Problem(place, f"unknown map key '{k}'")
                for k in sorted(set(cfg) - {"basemap_url", "basemap_attribution"})]
    url = cfg.get("basemap_url")
    if url is not None:
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            problems.append(Problem(place, "'basemap_url' must be an http(s) tile URL"))
            url = None
        elif not all(p in url for p in ("{z}", "{x}", "{y}")):
            problems.append(Problem(place, "'basemap_url' must hold {z}, {x} and {y} (the "
                                           "tile's zoom, column and row)"))
            url = None
    attribution = cfg.get("basemap_attribution", "")
    if not isinstance(attribution, str):
        problems.append(Problem(place, "'basemap_attribution' must be text"))
        attribution = ""
    return MapSettings(url or None, attribution), problems
