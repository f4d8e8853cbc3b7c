"""Quarantine reason codes: the one list of them.

Casting (:mod:`ingest.normalize.cast`) and the personal-data checks
(:mod:`ingest.normalize.personal`) take their codes from here; the reason filter on
数据与运行, its labels (``reason.<code>`` in dashboard/i18n/runs.py) and the tests derive from
:data:`CODES`. A new reason is a constant here, and nowhere else: it then appears in the
filter by itself (a test fails for a code defined elsewhere or without a label).
Codes are stable: they are stored with every quarantined row and filtered on.
"""

from __future__ import annotations

from core.divisions import LEVELS
from core.errors import SourceError

MISSING = "missing_value"
BAD_DATE = "bad_date"
# a wall time the source's zone skips (a daylight-saving change: 02:30 on a spring-forward day)
NO_LOCAL_TIME = "no_local_time"
BAD_NUMBER = "bad_number"
BAD_BOOL = "bad_boolean"
BAD_CODE = "bad_code"
BAD_FORMAT = "bad_format"
OUT_OF_RANGE = "out_of_range"
INVALID_ID = "invalid_id_number"
INVALID_PHONE = "invalid_phone"
BAD_ENCODING = "bad_encoding"  # the row's bytes are not text in the file's encoding
BAD_TEXT = "bad_text"  # NUL or other control characters no warehouse column may hold
TOO_LONG = "too_long"  # longer than the column's declared maximum
BAD_GEOMETRY = "bad_geometry"  # a polygon that is invalid, does not close, or has no area
# a code that does not lie in the area the row names beside it (a building outside its grid)
OUTSIDE_AREA = "outside_area"
UNKNOWN = "unknown_{level}"  # a division code not in the list: unknown_street, …
# (every level has one: a boundary file names the district too, see warehouse geometries)


def _codes() -> tuple[str, ...]:
    """Every code above, in order, with ``UNKNOWN`` spelled out per level."""
    plain = [v for k, v in globals().items()
             if k.isupper() and isinstance(v, str) and "{" not in v]
    return (*plain, *(UNKNOWN.format(level=lv) for lv in LEVELS))


CODES: tuple[str, ...] = _codes()

# A missing reference may arrive later (the division list failed to load, a community was added
# after its cases came in): such rows can pass as they are, so ``gongzhi reprocess`` retries
# them by default. Every other reason is a bad value that only a corrected source fixes;
# ``--reason`` retries one anyway (after ``[sources.columns]`` or ``[sources.defaults]`` changed).
RETRYABLE: frozenset[str] = frozenset(UNKNOWN.format(level=lv) for lv in LEVELS)

# Never reprocessed, even when asked: the stored row is a reading of undecodable bytes, and
# loading a guess is what the quarantine is there to prevent.
NOT_REPROCESSABLE: frozenset[str] = frozenset({BAD_ENCODING, BAD_GEOMETRY})

# Reasons a plugin finds itself (``ingest.contract.BAD_REASON``), with its own message. A bad
# geometry is only seen by the plugin that reads the shape, so reprocessing cannot check it.
PLUGIN_REASONS: frozenset[str] = frozenset({BAD_GEOMETRY})


def is_known(code: str) -> bool:
    """Whether ``code`` is one of the reason codes ingestion sets."""
    return code in CODES


def check_reprocessable(reason: str | None) -> None:
    """Refuse a reason whose rows can never be reprocessed (:data:`NOT_REPROCESSABLE`)."""
    if reason == BAD_GEOMETRY:
        raise SourceError("rows quarantined for bad_geometry cannot be reprocessed: only the "
                          "geo plugin checks a shape; correct the boundary file and run the "
                          "source again")
    if reason in NOT_REPROCESSABLE:
        raise SourceError(f"rows quarantined for {reason} cannot be reprocessed: their stored "
                          "text is a reading of bytes that were not text in the file's "
                          "encoding; save the file in one encoding and drop it again")
