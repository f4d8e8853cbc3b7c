"""Warming the map in the server process, so that a leader's first look is a cache hit.

The first visit after a server start (or after a nightly run: a new data version misses every
cached loader) had to compute the map's figures, polygons and event hexagons while the leader
waited. A thread started with the server (:func:`lifespan`, passed to ``st.App`` in
``server.py``) computes, for the district leader's view (``st.cache_data`` is shared by every
session but keyed by viewer area: staff views are not warmed), what the map page draws first:
for each level it offers (street, community, grid), the page's default KPI by that level for
the month a session opens on, the simplified polygons, the district outline, the event
hexagons and the geometry notes. It does so at start-up, whenever the data version changes
(checked as often as the live cards check it) and again before the warmed entries age out of
the cache.

``GONGZHI_WARM_MAP=0`` in the server's environment leaves the warm-up out (the test suite
sets it: its many short-lived servers would each compute a map nobody looks at, on the same
cores as the tests; the tests of the warm-up itself turn it back on).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from dashboard import data, state
from dashboard.components import cards, geomap
from metrics import geo
from metrics.access import leader

log = logging.getLogger("gongzhi.dashboard.warm")
WARMED_LINE = "map warmed for the leader"  # benchmarks/bench_map.py waits for it in the log
ENV = "GONGZHI_WARM_MAP"  # "0": the server does not warm the map

# cached loaders keep entries 6 hours (data.base.cached): warm again well before they go
REWARM_SECONDS = 3600.0


@dataclass(frozen=True)
class Warmed:
    """What one warm-up computed: the data version, the month and (level, KPI) pairs."""

    version: int
    period: str
    views: tuple[tuple[str, str], ...]
    seconds: float


def map_defaults(k: data.Key) -> tuple[Any, str, list[tuple[str, str]]]:
    """The leader's map page as it first opens: (district scope, month, [(level, default
    KPI)] for each level the page offers)."""
    scope = data.allowed_scope(k)
    period = state.opening_period(k)
    views = [(lv, kpis[0]) for lv in geo.map_levels(scope.level)
             if (kpis := geomap.page_kpis(lv))]
    return scope, period, views


def warm_once() -> Warmed:
    """Fill the cached loaders the leader's map page reads first (geomap.map_payload)."""
    t = time.perf_counter()
    k = data.key(leader(data.district_code(), username="warm-up"))
    data.names(k)
    data.units(k)
    scope, period, views = map_defaults(k)
    for level, kpi in views:
        shapes = data.map_shapes(k, scope, level, geomap.WIDTH)
        if not shapes:
            continue  # no boundaries of this level: the page draws no map
        data.map_areas(k, kpi, scope, period, level)
        data.map_notes(k, scope, level)
        box = geo.bbox_of(shapes)
        if box is not None:
            data.hex_bins(k, scope, period, geomap.hex_grid(box))
    data.map_shapes(k, scope, scope.level, geomap.WIDTH)  # the outline under the parts
    return Warmed(k.version, period, tuple(views), time.perf_counter() - t)


class Warmer:
    """The background thread: warm at start, on a new data version, and before expiry."""

    def __init__(self, poll_seconds: float = cards.REFRESH_SECONDS,
                 rewarm_seconds: float = REWARM_SECONDS):
        self.poll_seconds = poll_seconds
        self.rewarm_seconds = rewarm_seconds
        self.last: Warmed | None = None
        self.warmed = threading.Event()  # set after every warm-up (tests wait on it)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gongzhi-warm", daemon=True)
        self._at = 0.0
        self.failed = ""  # the last warm-up's error, if it failed

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def due(self) -> bool:
        """Whether a warm-up is needed: none yet, a new data version, or entries ageing."""
        if self.last is None or time.monotonic() - self._at >= self.rewarm_seconds:
            return True
        return data.version() != self.last.version

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.due():
                    self.last = warm_once()
                    self._at = time.monotonic()
                    log.info(WARMED_LINE + ": %s, %s in %.1f s",
                             self.last.period, ", ".join(f"{lv} {kpi}" for lv, kpi
                                                         in self.last.views),
                             self.last.seconds)
                    self.failed = ""
                    self.warmed.set()
            except Exception as e:  # no division list yet, warehouse unreachable: later
                if str(e) != self.failed:  # once per cause, not every poll
                    log.warning("map warm-up failed (retrying): %s", e)
                self.failed = str(e)
            self._stop.wait(self.poll_seconds)


def enabled() -> bool:
    """Whether the server warms the map: yes unless :data:`ENV` is ``"0"``."""
    return os.environ.get(ENV, "1").strip() != "0"


@contextlib.asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
    """``st.App``'s lifespan hook: runs after Streamlit's runtime started (so the cache it
    fills is the sessions' own); the warmer is ``app.state["map_warmer"]`` (None when
    :func:`enabled` says no) and stops with the server."""
    if not log.handlers and not logging.getLogger().handlers:
        # Streamlit configures its own loggers only: say in the server's log when the map
        # is warm (and why not), as the scheduler logs its runs
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: "
                                               "%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    if not enabled():
        log.info("map warm-up off (%s=0)", ENV)
        yield {"map_warmer": None}
        return
    warmer = Warmer()
    warmer.start()
    try:
        yield {"map_warmer": warmer}
    finally:
        warmer.stop()
