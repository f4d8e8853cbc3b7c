"""Whole-column byte scans that let the casts skip a per-value pass (issue 15: Python CPU).

A cast cleans, folds and checks every text column with per-value string functions (a strip,
a regex), about 5-15 ms per 250k values each. Most columns need none of it: their values
hold no surrounding space, no full-width character, no control character. Those facts can be
read off the column's UTF-8 bytes in one numpy pass (well under 1 ms), since each such
character has a byte no other character has where it is looked for: ASCII bytes are never part
of a multi-byte character, and a character's first byte tells it starts one.

Every test here may say "maybe" when the answer is no (a NULL slot's bytes, a buffer shared
with values outside the column), never "no" when it is yes: the caller then runs the exact
pass as before, so a result never depends on the shortcut.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

# first bytes of the characters clean_strings strips: space, tab, CR, LF; U+3000 (E3 80 80),
# U+FEFF (EF BB BF), U+00A0 (C2 A0); and their last bytes
_WS_FIRST = np.zeros(256, dtype=bool)
_WS_FIRST[[0x20, 0x09, 0x0A, 0x0D, 0xE3, 0xEF, 0xC2]] = True
_WS_LAST = np.zeros(256, dtype=bool)
_WS_LAST[[0x20, 0x09, 0x0A, 0x0D, 0x80, 0xBF, 0xA0]] = True


def utf8_buffers(s: pl.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """The column's UTF-8 bytes and its values' offsets into them (n + 1), or None when the
    column is not text."""
    if s.dtype != pl.String:
        return None
    arr = s.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    _, offsets, data = arr.buffers()
    start = arr.offset
    off = (np.frombuffer(offsets, dtype=np.int64)[start:start + len(arr) + 1]
           if offsets is not None else np.zeros(len(arr) + 1, dtype=np.int64))
    raw = (np.frombuffer(data, dtype=np.uint8) if data is not None
           else np.zeros(0, dtype=np.uint8))
    return raw, off


def maybe_padded(s: pl.Series) -> bool:
    """Whether a value may start or end with a character that
    :func:`ingest.normalize.values.clean_strings` strips."""
    bufs = utf8_buffers(s)
    if bufs is None:
        return True
    raw, off = bufs
    if raw.size == 0:
        return False
    # an empty value reads a neighbour's byte: at worst a "maybe". Starts past the end are
    # clamped (trailing empty values); an end before the start (-1) is numpy's last byte.
    # Plain ``take`` after one clamp: a third of ``take(mode="clip")``'s time.
    first = raw.take(np.minimum(off[:-1], raw.size - 1))
    last = raw.take(off[1:] - 1)
    return bool(_WS_FIRST[first].any() or _WS_LAST[last].any())


def maybe_fullwidth(s: pl.Series) -> bool:
    """Whether a value may hold a full-width form (U+FF01-U+FF5E: EF BC/BD ..) or the
    ideographic space (U+3000: E3 80 80), what :func:`values.halfwidth` folds."""
    bufs = utf8_buffers(s)
    if bufs is None:
        return True
    raw = bufs[0]
    if raw.size == 0 or raw.max() < 0xE3:
        return False
    return bool((raw == 0xEF).any() or (raw == 0xE3).any())


def maybe_control(s: pl.Series) -> bool:
    """Whether a value may hold NUL or another control character but tab, LF and CR
    (:data:`ingest.normalize.text.CONTROL`: all ASCII bytes)."""
    bufs = utf8_buffers(s)
    if bufs is None:
        return True
    raw = bufs[0]
    if raw.size == 0:
        return False
    if raw.min() >= 0x20:  # the common case, in two cheap reductions: no byte below space
        return bool(raw.max() >= 0x7F and (raw == 0x7F).any())
    if (raw == 0x7F).any():
        return True
    low = raw[raw < 0x20]
    return bool(((low != 0x09) & (low != 0x0A) & (low != 0x0D)).any())
