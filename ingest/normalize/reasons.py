"""Quarantine reason codes: the one list of them.

Casting (:mod:`ingest.normalize.cast`) and the personal-data checks
(:mod:`ingest.normalize.personal`) take their codes from here; the reason filter on
数据与运行, its labels (``reason.<code>`` in dashboard/i18n.py) and the tests derive from
:data:`CODES`. A new reason is a constant here, and nowhere else: it then appears in the
filter by itself (a test fails for a code defined elsewhere or without a label).
Codes are stable: they are stored with every quarantined row and filtered on.
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
UNKNOWN = "unknown_{level}"  # a division code not in the list: unknown_street, …
AREA_LEVELS = ("street", "community", "grid")


def _codes() -> tuple[str, ...]:
    """Every code above, in order, with ``UNKNOWN`` spelled out per level."""
    plain = [v for k, v in globals().items()
             if k.isupper() and isinstance(v, str) and "{" not in v]
    return (*plain, *(UNKNOWN.format(level=lv) for lv in AREA_LEVELS))


CODES: tuple[str, ...] = _codes()
