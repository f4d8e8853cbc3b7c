"""Text values at ingestion: what a warehouse column can hold, and redaction of free text.

Every text column declares its maximum once, where the table declares it (``String(n)`` in
:mod:`warehouse.schema`); a longer value is quarantined (``too_long``) instead of being cut or
failing the whole load on PostgreSQL. NUL and other control characters (except tab, line feed
and carriage return) are quarantined too (``bad_text``): PostgreSQL refuses NUL, SQLite would
keep it, and exports and pages cannot show them.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl
from sqlalchemy import String

from core import privacy
from ingest.normalize.utf8scan import maybe_control

CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
SHOWN_CHARS = 60  # how much of a bad value a quarantine message repeats


def max_length(col: Any) -> int | None:
    """The declared maximum of a text column (characters), None for other columns."""
    t = col.type
    return getattr(t, "length", None) if isinstance(t, String) else None


def codes_fit(col: Any) -> bool:
    """Whether a column of codes (``info["enum"]``) declares none that holds a control
    character or exceeds its length: its cast values are among those codes
    (:func:`ingest.normalize.values.parse_enum`), so none needs :func:`bad_text` or
    :func:`too_long` (a byte scan of each chunk's column, for nothing)."""
    codes = col.info.get("enum")
    if not codes:
        return False
    limit = max_length(col)
    return all(re.search(CONTROL, c) is None and (limit is None or len(c) <= limit)
               for c in codes)


def bad_text(value: pl.Series) -> pl.Series:
    """Rows whose text holds NUL or another control character."""
    if not maybe_control(value):  # a byte scan of the column tells most have none
        return pl.repeat(False, len(value), dtype=pl.Boolean, eager=True).alias(value.name)
    return value.str.contains(CONTROL).fill_null(False)


def too_long(value: pl.Series, limit: int) -> pl.Series:
    """Rows whose text is longer than ``limit`` characters."""
    return (value.str.len_chars() > limit).fill_null(False)


def shown(expr: pl.Expr) -> pl.Expr:
    """A value as a quarantine message repeats it: control characters visible as U+FFFD and
    cut after :data:`SHOWN_CHARS` characters (the raw row keeps the whole value)."""
    clean = expr.cast(pl.String).str.replace_all(CONTROL, "\ufffd")
    return pl.when(clean.str.len_chars() > SHOWN_CHARS).then(
        clean.str.slice(0, SHOWN_CHARS) + pl.lit("…")).otherwise(clean)


def redact_series(s: pl.Series) -> pl.Series:
    """:func:`core.privacy.redact` over a column: values that cannot hold anything to mask
    are skipped in one vectorised pass; each distinct other value is redacted once (a few
    microseconds each)."""
    if s.dtype != pl.String or s.is_empty():
        return s
    cand = s.str.contains(privacy.candidate_pattern()).fill_null(False)
    if not cand.any():
        return s
    distinct = s.filter(cand).unique()
    red = distinct.map_elements(privacy.redact, return_dtype=pl.String)
    changed = distinct != red
    if not changed.any():
        return s
    return s.replace(distinct.filter(changed), red.filter(changed))
