"""Whether a run's chunks may share keys (then its scratch table is de-duplicated before the
merge, and no row goes straight to a new month: :mod:`warehouse.direct_months`).

Two tests, the cheap one first. A chunk whose smallest key is above every earlier chunk's
largest cannot repeat them (exports sorted by id, in whatever order the chunk's own rows
come). Otherwise its keys' 64-bit hashes are looked up among the earlier chunks' (kept
sorted, in a few arrays merged as they grow: O(n log n) over the run, not quadratic in
chunks): a database read in the order of its last-modified column brings each key once but
not in key order. A hash found is taken as a repeat (a collision only costs the slower,
exact path).

Memory stays bounded (8 bytes a key). While every chunk came above the ones before (a sorted
export: 100M service cases), only the last :data:`RECENT_CHUNKS` chunks' hashes are kept, and
the largest key of the older ones: a chunk out of order above that (ids whose digits grow from
9999999 to 10000000 mid-export) is still told exactly; from the first chunk out of order on,
every chunk's hashes are kept, up to ``max_hashes`` keys (``[ingest] key_memory_mb``:
:func:`hashes_for`). A chunk that cannot be told
(below keys whose hashes went) counts as a repeat, as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from core.run_settings import IngestSettings

KEY_BYTES = 8  # a key's 64-bit hash
RECENT_CHUNKS = 8


def hashes_for(memory_mb: int) -> int:
    """The keys whose hashes fit in ``memory_mb`` (MB of 10^6 bytes: 320 holds 40M, a city's
    grid events at 100M service cases being 20M)."""
    return memory_mb * 1_000_000 // KEY_BYTES


class ChunkKeys:
    """The keys of a run's chunks of one table, staged so far. ``max_hashes=0``: the range
    test only (no memory spent on hashes)."""

    def __init__(self, keys: list[str],
                 max_hashes: int = hashes_for(IngestSettings.key_memory_mb)):
        self.keys = keys
        self.max_hashes = max_hashes
        self.chunks = 0
        self.largest: Any = None  # the largest key so far; None once a chunk had no span
        self.hashed = 0
        self.ordered = True  # every chunk so far above the ones before
        self.recent: list[tuple[Any, np.ndarray]] = []  # while ordered: (largest, hashes)
        self.forgotten: Any = None  # the largest key whose hash went (while ordered)
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
            top, below = levels.pop(), levels.pop()
            merged = np.concatenate([below, top])
            del top, below  # sorted in place: at peak twice the hashes, not three times
            merged.sort(kind="stable")  # two sorted runs: timsort merges them in one pass
            levels.append(merged)

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
        if self._levels is None:
            return not above
        h = np.sort(frame.select(self.keys).hash_rows(seed=7).to_numpy())
        if self.ordered and above and span is not None:
            self.recent.append((span[1], h))  # a sorted export so far: recent hashes only
            if len(self.recent) > RECENT_CHUNKS:
                gone, _ = self.recent.pop(0)
                self.forgotten = gone if self.forgotten is None else max(self.forgotten, gone)
            return False
        if self.ordered:  # the first chunk out of order: the recent hashes are kept for good
            self.ordered = False
            for _, old in self.recent:
                self._keep(old)
            self.recent = []
            if self._levels is None:
                return not above
        if above:
            repeat = False
        elif self.forgotten is not None and (span is None or not span[0] > self.forgotten):
            repeat = True  # among keys whose hashes went: cannot be told
        else:
            repeat = self._seen(h)
        self._keep(h)
        return repeat
