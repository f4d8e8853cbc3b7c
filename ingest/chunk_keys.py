"""Whether a run's chunks may share keys (then its scratch table is de-duplicated before the
merge, and no row goes straight to a new month: :mod:`warehouse.direct_months`).

Two tests, the cheap one first. A chunk whose smallest key is above every earlier chunk's
largest cannot repeat them (exports sorted by id, in whatever order the chunk's own rows
come). Otherwise its keys' 64-bit hashes are looked up among the earlier chunks' (kept
sorted, in a few arrays merged as they grow: O(n log n) over the run, not quadratic in
chunks): a database read in the order of its last-modified column brings each key once but
not in key order. A hash found is taken as a repeat (a collision only costs the slower,
exact path). Past :data:`MAX_HASHES` keys the hashes go and any chunk out of order counts as
a repeat, as before (memory stays bounded: 8 bytes a key, 320 MB at the limit). A source
whose first :data:`ORDERED_CHUNKS` chunks each came above the ones before is a sorted export:
its hashes go then (100M service cases keep none).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

MAX_HASHES = 40_000_000  # a city's grid events at 100M service cases: 20M
ORDERED_CHUNKS = 8


class ChunkKeys:
    """The keys of a run's chunks of one table, staged so far. ``max_hashes=0``: the range
    test only (no memory spent on hashes)."""

    def __init__(self, keys: list[str], max_hashes: int = MAX_HASHES):
        self.keys = keys
        self.max_hashes = max_hashes
        self.chunks = 0
        self.largest: Any = None  # the largest key so far; None once a chunk had no span
        self.hashed = 0
        self.ordered = True  # every chunk so far above the ones before
        self._levels: list[np.ndarray] | None = [] if max_hashes > 0 else None

    def _span(self, frame: pl.DataFrame) -> tuple[Any, Any] | None:
        if len(self.keys) != 1 or frame.is_empty():
            return None
        k = frame[self.keys[0]]
        if k.null_count():
            return None
        return k.min(), k.max()

    def _seen(self, h: np.ndarray) -> bool:
        assert self._levels is not None
        for level in self._levels:
            i = np.searchsorted(level, h)
            i[i == len(level)] = 0
            if (level[i] == h).any():
                return True
        return False

    def _keep(self, h: np.ndarray) -> None:
        assert self._levels is not None
        self.hashed += len(h)
        if self.hashed > self.max_hashes:
            self._levels = None  # too many: from now on a chunk out of order is a repeat
            return
        levels = self._levels
        levels.append(h)
        while len(levels) > 1 and len(levels[-2]) <= 2 * len(levels[-1]):
            top = levels.pop()
            levels[-1] = np.sort(np.concatenate([levels[-1], top]))

    def add(self, frame: pl.DataFrame) -> bool:
        """Record a chunk (one row per key already); True when it may repeat a key of an
        earlier chunk."""
        span = self._span(frame)
        first = self.chunks == 0
        above = first or (span is not None and self.largest is not None
                          and span[0] > self.largest)
        self.largest = (None if span is None or (self.largest is None and not first)
                        else span[1] if first else max(self.largest, span[1]))
        self.chunks += 1
        self.ordered = self.ordered and above
        if self._levels is not None and self.ordered and self.chunks >= ORDERED_CHUNKS:
            self._levels = None  # a sorted export: the range test is enough
        if self._levels is None:
            return not above
        h = np.sort(frame.select(self.keys).hash_rows(seed=7).to_numpy())
        repeat = not above and self._seen(h)
        self._keep(h)
        return repeat
