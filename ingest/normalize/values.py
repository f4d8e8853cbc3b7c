"""Parsing raw source values into typed polars Series.

Every parser takes a String series (already trimmed, empty = null) and returns a typed series
of the same length with null where the value could not be read; the caller compares nulls
before and after to find bad values. The common case runs as one vectorised pass; only the
rows that fail it go through the slower fallbacks (Chinese dates, Excel serials, …).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from ingest.normalize.vocab import BOOLEANS, RATINGS

LOCAL_TZ = "Asia/Shanghai"

_FULL = "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ" \
        "ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ．－：／＋，　（）"
_HALF = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-:/+, ()"
HALFWIDTH = dict(zip(_FULL, _HALF, strict=True))
_WS = " \t\r\n\u3000\ufeff\xa0"

EXCEL_EPOCH = dt.datetime(1899, 12, 30)
SHANGHAI_NO_DST = dt.datetime(1991, 9, 16)


def clean_strings(s: pl.Series) -> pl.Series:
    """Trim (including full-width spaces and BOMs) and turn empty strings into nulls."""
    s = s.cast(pl.String).str.strip_chars(_WS)
    return s.set(s == "", None) if s.null_count() < len(s) else s


def halfwidth(s: pl.Series) -> pl.Series:
    """Fold full-width digits, letters and separators to ASCII (``２０２３`` → ``2023``)."""
    if not s.str.contains(r"[\uff01-\uff5e\u3000]").any():
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


def parse_number(s: pl.Series, *, integer: bool, words: dict[str, int] | None = None) -> pl.Series:
    """Numbers with full-width digits, thousands separators and unit-less decimals.

    Integer columns accept ``3.0`` but not ``3.5``. ``words`` maps labels such as ``满意`` to
    numbers (ratings).
    """
    folded = halfwidth(s)
    if folded.str.contains(",").any():
        folded = folded.str.replace_all(",", "", literal=True)
    num = folded.cast(pl.Float64, strict=False)
    if words:
        keys = list(words)
        num = num.fill_null(folded.replace_strict(keys, [float(words[k]) for k in keys],
                                                  default=None, return_dtype=pl.Float64))
    if not integer:
        return num
    whole = num.set(num != num.floor(), None) if num.null_count() < len(num) else num
    return whole.cast(pl.Int64, strict=False)


def parse_rating(s: pl.Series) -> pl.Series:
    return parse_number(s, integer=True, words=RATINGS)


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


def _fallback_datetimes(s: pl.Series) -> pl.Series:
    """Parse the rows the fast path could not: every other accepted spelling, naive local."""
    out = pl.Series(s.name, [None] * len(s), dtype=pl.Datetime("us"))
    if len(s) == 0:
        return out
    norm = _normalise_date_text(s)
    # Explicit offsets (ISO 8601 with Z or ±hh:mm): convert to Asia/Shanghai wall time.
    zoned = norm.str.contains(r"(Z|[+-]\d{2}:?\d{2})$")
    if zoned.any():
        z = norm.str.replace(r"Z$", "+00:00")
        for fmt in ("%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M%z"):
            parsed = z.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC")
            local = parsed.dt.convert_time_zone(LOCAL_TZ).dt.replace_time_zone(None)
            out = out.zip_with(out.is_not_null() | ~zoned, local)
    for fmt in _NORMAL_FORMATS:
        todo = out.is_null() & norm.is_not_null() & ~zoned
        if not todo.any():
            break
        parsed = norm.str.to_datetime(fmt, strict=False, time_unit="us")
        out = out.zip_with(~todo | parsed.is_null(), parsed)
    # Excel serial day numbers (45152, 45152.5), for dates that lost their cell format.
    todo = out.is_null() & s.is_not_null()
    if todo.any():
        serial = halfwidth(s).cast(pl.Float64, strict=False)
        frame = pl.DataFrame({"d": serial}).select(
            pl.when((pl.col("d") >= 1) & (pl.col("d") < 2958466))
            .then(pl.lit(EXCEL_EPOCH, dtype=pl.Datetime("us"))
                  + pl.duration(microseconds=(pl.col("d") * 86_400_000_000).round(0)))
            .alias("x")
        )
        out = out.zip_with(out.is_not_null(), frame["x"])
    return out


def parse_datetime(s: pl.Series, *, source_tz: str = LOCAL_TZ) -> pl.Series:
    """Parse timestamps to naive UTC. Values without a zone are ``source_tz`` wall time."""
    out = s.str.to_datetime(_FAST_FORMATS[0], strict=False, time_unit="us")
    todo = out.is_null() & s.is_not_null()
    if todo.any():
        idx = todo.arg_true()
        out = out.scatter(idx, _fallback_datetimes(s.gather(idx)))
    if source_tz == "UTC":
        return out
    earliest: Any = out.drop_nulls().min()
    if source_tz == LOCAL_TZ and (earliest is None or earliest >= SHANGHAI_NO_DST):
        # China has kept UTC+8 all year since September 1991: a fixed shift is exact
        return out - dt.timedelta(hours=8)
    return (
        out.dt.replace_time_zone(source_tz, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )


def parse_date(s: pl.Series) -> pl.Series:
    """Parse calendar dates (no time zone shift: a date is the same day everywhere)."""
    out = s.str.to_date("%Y-%m-%d", strict=False)
    todo = out.is_null() & s.is_not_null()
    if todo.any():
        idx = todo.arg_true()
        out = out.scatter(idx, _fallback_datetimes(s.gather(idx)).dt.date())
    return out
