"""Personal fields at ingestion: ID numbers checked (GB 11643 checksum and birth date), then
pseudonymised (HMAC) and masked; phones normalised and masked; names masked.

A source maps its headers to the inputs ``name``, ``id_number`` and ``phone``; what reaches the
warehouse is ``name_masked``, ``id_hash``, ``id_masked`` and ``phone_masked``. The inputs never
leave this module in clear: bad values are reported masked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from core import privacy
from core.reasons import INVALID_ID, INVALID_PHONE
from ingest.normalize.values import halfwidth

INPUTS = ("name", "id_number", "phone")
OUTPUTS = {"name_masked": "name", "id_hash": "id_number", "id_masked": "id_number",
           "phone_masked": "phone"}
__all__ = ["INPUTS", "INVALID_ID", "INVALID_PHONE", "OUTPUTS", "PersonalResult", "process"]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


@dataclass
class PersonalResult:
    """Stored columns computed from the personal inputs, and the rows whose input is bad."""

    columns: dict[str, pl.Series] = field(default_factory=dict)
    problems: list[tuple[str, str, pl.Series, pl.Series]] = field(default_factory=list)
    masked_inputs: dict[str, pl.Series] = field(default_factory=dict)


def valid_id_numbers(ids: pl.Series, today: dt.date | None = None) -> pl.Series:
    """GB 11643 check of 18-character IDs: digits, a real birth date, the check character."""
    today = today or dt.date.today()
    shape = ids.str.contains(r"^\d{17}[\dX]$").fill_null(False)
    frame = pl.DataFrame({"s": ids.fill_null("")})
    total = pl.lit(0, dtype=pl.Int64)
    for i, w in enumerate(_WEIGHTS):
        total = total + pl.col("s").str.slice(i, 1).cast(pl.Int64, strict=False).fill_null(0) * w
    checks = frame.select(
        (total % 11).alias("mod"),
        pl.col("s").str.slice(17, 1).alias("check"),
        pl.col("s").str.slice(6, 8).str.to_date("%Y%m%d", strict=False).alias("birth"),
    )
    expected = checks["mod"].replace_strict(list(range(11)), list(_CHECK), return_dtype=pl.String)
    birth_ok = (checks["birth"] >= dt.date(1900, 1, 1)) & (checks["birth"] <= today)
    return (shape & (expected == checks["check"]) & birth_ok.fill_null(False)).fill_null(False)


def normalise_phones(s: pl.Series) -> pl.Series:
    """Digits only, without +86/0086: ``+86 138-1234-8000`` → ``13812348000``."""
    digits = halfwidth(s).str.replace_all(r"[^\d]", "")
    return digits.str.replace(r"^(0086|86)(1[3-9]\d{9})$", "$2")


def process(inputs: dict[str, pl.Series],
            key_getter: Callable[[], bytes] = privacy.pseudonym_key) -> PersonalResult:
    """Turn the present personal inputs into stored columns and problems (masked)."""
    out = PersonalResult()
    if "id_number" in inputs:
        raw = halfwidth(inputs["id_number"]).str.strip_chars().str.to_uppercase()
        ok = valid_id_numbers(raw)
        masked = raw.map_elements(privacy.mask_id, return_dtype=pl.String)
        key = key_getter()
        out.columns["id_hash"] = raw.zip_with(ok, pl.Series([None] * len(raw), dtype=pl.String)
                                              ).map_elements(lambda v: privacy.pseudonym(v, key),
                                                             return_dtype=pl.String)
        out.columns["id_masked"] = masked.zip_with(ok, pl.Series([None] * len(raw),
                                                                 dtype=pl.String))
        bad = raw.is_not_null() & ~ok
        if bad.any():
            out.problems.append(("id_number", INVALID_ID, bad, masked))
        out.masked_inputs["id_number"] = masked
    if "phone" in inputs:
        digits = normalise_phones(inputs["phone"])
        ok = digits.str.contains(r"^(1[3-9]\d{9}|0\d{9,11}|\d{7,8})$").fill_null(False)
        masked = digits.map_elements(privacy.mask_phone, return_dtype=pl.String)
        out.columns["phone_masked"] = masked.zip_with(ok, pl.Series([None] * len(digits),
                                                                    dtype=pl.String))
        bad = digits.is_not_null() & ~ok
        if bad.any():
            out.problems.append(("phone", INVALID_PHONE, bad, masked))
        out.masked_inputs["phone"] = masked
    if "name" in inputs:
        masked = inputs["name"].map_elements(privacy.mask_name, return_dtype=pl.String)
        out.columns["name_masked"] = masked
        out.masked_inputs["name"] = masked
    return out
