"""Quarantine reason codes, in one place: what ingestion sets, what the CLI and the dashboard
filter on and label, and which ones ``gongzhi reprocess`` retries by default.

Codes are stable: they are stored in the quarantine and shown to people.
"""

from __future__ import annotations

MISSING = "missing_value"
BAD_DATE = "bad_date"
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
UNKNOWN = "unknown_{level}"  # a code that the division list does not (yet) hold

REFERENCE_LEVELS = ("street", "community", "grid")

# Every code, in the order filters list them.
ALL: tuple[str, ...] = (
    MISSING, BAD_DATE, BAD_NUMBER, BAD_BOOL, BAD_CODE, BAD_FORMAT, OUT_OF_RANGE,
    *(UNKNOWN.format(level=lv) for lv in REFERENCE_LEVELS),
    INVALID_ID, INVALID_PHONE, BAD_ENCODING, BAD_TEXT, TOO_LONG,
)
CODES = ALL  # the name the dashboard's filter and its tests use
AREA_LEVELS = REFERENCE_LEVELS

# A missing reference may arrive later (the division list failed to load, a new community was
# added after the facts came in): these rows can pass as they are, so reprocess retries them by
# default. Every other reason is a bad value that only a corrected source fixes; ``--reason``
# retries one anyway (e.g. after ``[sources.columns]`` or a vocabulary changed).
RETRYABLE: frozenset[str] = frozenset(UNKNOWN.format(level=lv) for lv in REFERENCE_LEVELS)

# Never reprocessed, even when asked: the stored row is a guess at undecodable bytes, and
# loading a guess is exactly what the quarantine is there to prevent.
NOT_REPROCESSABLE: frozenset[str] = frozenset({BAD_ENCODING})


def is_known(code: str) -> bool:
    """Whether ``code`` is one of the reason codes ingestion sets."""
    return code in ALL
