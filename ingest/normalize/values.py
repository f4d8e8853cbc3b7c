"""Parsing raw source values into typed polars Series.

Every parser takes a String series (already trimmed, empty = null) and returns a typed series
of the same length with null where the value could not be read; the caller compares nulls
before and after to find bad values. The common case runs as one vectorised pass; only the
rows that fail it go through the slower fallbacks (Chinese dates, Excel serials, …).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import polars as pl

from core.timezone import LOCAL_TZ, NO_DST_SINCE, UTC_OFFSET
from ingest.normalize.utf8scan import maybe_fullwidth, maybe_padded
from ingest.normalize.vocab import BOOLEANS, RATINGS

_FULL = "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ" \
        "ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ．－：／＋，　（）"
_HALF = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-:/+, ()"
HALFWIDTH = dict(zip(_FULL, _HALF, strict=True))
_WS = " \t\r\n\u3000\ufeff\xa0"

EXCEL_EPOCH = dt.datetime(1899, 12, 30)
# Excel serial day numbers are read as dates only where a cell says so (XLSX) or a source
# declares it, and only inside this window: 1950-01-01 … 2099-12-31. Outside it a bare number
# is far likelier a year (2023 → 1905-07-14), a count or a typo than a date.
SERIAL_MIN, SERIAL_MAX = 18264, 73050
# the [sources.formats] word for "this column holds serials" (a setting, not a reason code)
EXCEL_SERIAL: Final = "excel_serial"


def clean_strings(s: pl.Series) -> pl.Series:
    """Trim (including full-width spaces and BOMs) and turn empty strings into nulls."""
    s = s.cast(pl.String)
    if maybe_padded(s):  # most columns have nothing to strip: a byte scan tells (utf8scan)
        s = s.str.strip_chars(_WS)
    return s.set(s == "", None) if s.null_count() < len(s) else s


def halfwidth(s: pl.Series) -> pl.Series:
    """Fold full-width digits, letters and separators to ASCII (``２０２３`` → ``2023``)."""
    if not maybe_fullwidth(s) or not s.str.contains(r"[\uff01-\uff5e\u3000]").any():
        return s  # the common case: nothing to fold, skip the replace pass
    return s.str.replace_many(list(HALFWIDTH), list(HALFWIDTH.values()))


def parse_bool(s: pl.Series) -> pl.Series:
    keys = list(BOOLEANS)
    return halfwidth(s).str.to_lowercase().replace_strict(
        keys, [BOOLEANS[k] for k in keys], default=None, return_dtype=pl.Boolean
    )


def parse_enum(s: pl.Series, codes: tuple[str, ...], synonyms: dict[str, str]) -> pl.Series:
    """Codes from the words sources use; folding runs on the few distinct values only."""
    mapping = {c: c for c in codes} | {k.lower(): v for k, v in synonyms.items() if v in codes}
    distinct = s.drop_nulls().unique()
    folded = halfwidth(distinct).str.to_lowercase().replace_strict(
        list(mapping), list(mapping.values()), default=None, return_dtype=pl.String)
    return s.replace_strict(distinct, folded, default=None, return_dtype=pl.String)


# A thousands separator only where it groups digits in threes: 1,234 / 12,345,678.5 (and with
# a declared decimal comma: 1.234,5 / 1 234,5). Anything else with a separator is not a number:
# "1,5" is 1.5 to a European export and 15 to a naive parser, so it is refused, not guessed.
_GROUPED_POINT = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"
_GROUPED_COMMA = r"^[+-]?\d{1,3}([. ]\d{3})+(,\d+)?$"


def parse_number(s: pl.Series, *, integer: bool, words: dict[str, int] | None = None,
                 decimal_comma: bool = False) -> pl.Series:
    """Numbers with full-width digits, thousands separators in valid groups and unit-less
    decimals.

    Integer columns accept ``3.0`` but not ``3.5``. ``words`` maps labels such as ``满意`` to
    numbers (ratings). With ``decimal_comma`` (a source setting) the comma is the decimal mark
    (``1,5`` = 1.5) and ``.`` or a space groups thousands; otherwise ``,`` only groups thousands
    (``1,234``) and a value with a misplaced comma (``1,5``) is not a number.
    """
    folded = halfwidth(s)
    if decimal_comma:
        sep = folded.str.contains(r"[. ]")
        grouped = folded.str.contains(_GROUPED_COMMA)
        plain = folded.str.replace_all(r"[. ]", "").str.replace(",", ".", literal=True)
        folded = plain.zip_with(~sep.fill_null(False) | grouped.fill_null(False),
                                pl.Series([None] * len(s), dtype=pl.String))
        folded = folded.zip_with(folded.str.count_matches(r"\.").fill_null(0) <= 1,
                                 pl.Series([None] * len(s), dtype=pl.String))
    elif folded.str.contains(",", literal=True).any():
        comma = folded.str.contains(",", literal=True).fill_null(False)
        grouped = folded.str.contains(_GROUPED_POINT).fill_null(False)
        folded = folded.str.replace_all(",", "", literal=True).zip_with(
            ~comma | grouped, pl.Series([None] * len(s), dtype=pl.String))
    num = folded.cast(pl.Float64, strict=False)
    if num.is_infinite().any() or num.is_nan().any():  # "inf", "nan": not a quantity
        num = num.set(num.is_infinite() | num.is_nan(), None)
    if words and (num.is_null() & s.is_not_null()).any():  # only a word can fill a value
        keys = list(words)
        num = num.fill_null(halfwidth(s).replace_strict(
            keys, [float(words[k]) for k in keys], default=None, return_dtype=pl.Float64))
    if not integer:
        return num
    whole = num.set(num != num.floor(), None) if num.null_count() < len(num) else num
    return whole.cast(pl.Int64, strict=False)


def parse_rating(s: pl.Series, *, decimal_comma: bool = False) -> pl.Series:
    return parse_number(s, integer=True, words=RATINGS, decimal_comma=decimal_comma)


# Timestamps rarely repeat in a column (seconds apart): polars' cache of parsed values only
# costs there (250k service cases' times: 31 ms a column with it, 19 ms without)
_CACHE = False
_FAST_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S%.f")
_NORMAL_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
)


def _normalise_date_text(s: pl.Series) -> pl.Series:
    """``2023年8月14日 9时5分`` / ``2023.8.14`` / ``2023/8/14T09:05`` → ``2023-8-14 9:5``."""
    s = halfwidth(s)
    s = s.str.replace_all(r"[年月]", "-").str.replace_all("日", " ")
    s = s.str.replace_all(r"[时点分]", ":").str.replace_all("秒", "")
    s = s.str.replace(r"^(\d{4})[./](\d{1,2})[./](\d{1,2})", "$1-$2-$3")
    s = s.str.replace(r"(\d)T(\d)", "$1 $2")
    s = s.str.replace_all(r"\s+", " ").str.replace_all(r"\s*:\s*", ":")
    return s.str.strip_chars(" -:")


def _fallback_datetimes(s: pl.Series, serials: bool = False, tz: str = LOCAL_TZ) -> pl.Series:
    """Parse the rows the fast path could not: every other accepted spelling, naive wall time
    of ``tz`` (the source's zone); Excel serial numbers only when ``serials``."""
    out = pl.Series(s.name, [None] * len(s), dtype=pl.Datetime("us"))
    if len(s) == 0:
        return out
    norm = _normalise_date_text(s)
    # Explicit offsets (ISO 8601 with Z or ±hh:mm): convert to the source zone's wall time.
    zoned = norm.str.contains(r"(Z|[+-]\d{2}:?\d{2})$")
    if zoned.any():
        z = norm.str.replace(r"Z$", "+00:00")
        for fmt in ("%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M%z"):
            parsed = z.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC")
            local = parsed.dt.convert_time_zone(tz).dt.replace_time_zone(None)
            out = out.zip_with(out.is_not_null() | ~zoned, local)
    for fmt in _NORMAL_FORMATS:
        todo = out.is_null() & norm.is_not_null() & ~zoned
        if not todo.any():
            break
        parsed = norm.str.to_datetime(fmt, strict=False, time_unit="us", cache=_CACHE)
        out = out.zip_with(~todo | parsed.is_null(), parsed)
    if serials:  # Excel serial day numbers (45152, 45152.5): dates that lost their format
        out = out.zip_with(out.is_not_null(), excel_serials(s))
    return out


def excel_serials(s: pl.Series) -> pl.Series:
    """Excel serial day numbers as naive datetimes; null outside the plausible window."""
    serial = halfwidth(s).cast(pl.Float64, strict=False)
    return pl.DataFrame({"d": serial}).select(
        pl.when((pl.col("d") >= SERIAL_MIN) & (pl.col("d") < SERIAL_MAX + 1))
        .then(pl.lit(EXCEL_EPOCH, dtype=pl.Datetime("us"))
              + pl.duration(microseconds=(pl.col("d") * 86_400_000_000).round(0)))
        .alias("x")
    )["x"]


def parse_datetime(s: pl.Series, *, source_tz: str = LOCAL_TZ, serials: bool = False,
                   fmt: str | None = None) -> pl.Series:
    """Parse timestamps to naive UTC. Values without a zone are ``source_tz`` wall time.

    ``serials``: numbers are Excel serial day numbers (XLSX cells, or declared by the source).
    ``fmt``: the source's declared format for this column (strptime syntax): only it is tried.
    """
    if fmt is not None and fmt != EXCEL_SERIAL:
        out = halfwidth(s).str.to_datetime(fmt, strict=False, time_unit="us", cache=_CACHE)
        if getattr(out.dtype, "time_zone", None) is not None:  # the format has %z: exact
            return out.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        if serials:  # XLSX: a true date cell reads as ISO text, whatever the declared format
            out = out.fill_null(s.str.to_datetime(_FAST_FORMATS[0], strict=False,
                                                  time_unit="us"))
    else:
        serials = serials or fmt == EXCEL_SERIAL
        out = s.str.to_datetime(_FAST_FORMATS[0], strict=False, time_unit="us", cache=_CACHE)
        todo = out.is_null() & s.is_not_null()
        if todo.any():
            idx = todo.arg_true()
            out = out.scatter(idx, _fallback_datetimes(s.gather(idx), serials, source_tz))
    if source_tz == "UTC":
        return out
    earliest: Any = out.drop_nulls().min()
    if source_tz == LOCAL_TZ and (earliest is None or earliest >= NO_DST_SINCE):
        # China has kept UTC+8 all year since September 1991: a fixed shift is exact
        return out - UTC_OFFSET
    return (
        out.dt.replace_time_zone(source_tz, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )


def parse_date(s: pl.Series, *, serials: bool = False, fmt: str | None = None) -> pl.Series:
    """Parse calendar dates (no time zone shift: a date is the same day everywhere)."""
    if fmt is not None and fmt != EXCEL_SERIAL:
        return halfwidth(s).str.to_datetime(fmt, strict=False, time_unit="us").dt.date()
    serials = serials or fmt == EXCEL_SERIAL
    out = s.str.to_date("%Y-%m-%d", strict=False)
    todo = out.is_null() & s.is_not_null()
    if todo.any():
        idx = todo.arg_true()
        out = out.scatter(idx, _fallback_datetimes(s.gather(idx), serials).dt.date())
    return out
