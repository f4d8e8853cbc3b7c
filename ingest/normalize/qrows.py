"""The quarantine's view of a batch's bad rows: the message per problem, the raw row as kept
(personal inputs masked, other values redacted, codes intact) and the personal columns a
reprocess needs back. Split from :mod:`ingest.normalize.cast`, which decides what is bad."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from sqlalchemy import String, Table

from core import privacy
from core.reasons import (  # the reason codes, defined once there
    BAD_BOOL,
    BAD_CODE,
    BAD_DATE,
    BAD_ENCODING,
    BAD_FORMAT,
    BAD_NUMBER,
    BAD_TEXT,
    MISSING,
    NO_LOCAL_TIME,
    OUT_OF_RANGE,
    OUTSIDE_AREA,
    PLUGIN_REASONS,
    TOO_LONG,
)
from ingest.contract import (
    BAD_COLUMN,
    BAD_ENCODING_NOTE,
    BAD_MESSAGE,
    BAD_REASON,
    ORIGIN,
    ROW,
    SHEET,
)
from ingest.normalize import personal
from ingest.normalize import text as textrules
from ingest.normalize.values import EXCEL_SERIAL
from warehouse.schema import content_columns

INTERNAL = (ROW, ORIGIN, SHEET, "_idx", BAD_COLUMN, BAD_ENCODING_NOTE, BAD_REASON, BAD_MESSAGE)
TYPE_WORDS = {BAD_DATE: "a date or time", BAD_NUMBER: "a number", BAD_BOOL: "yes/no"}
QUARANTINE_SCHEMA = {
    "origin": pl.String, "sheet": pl.String, "row_number": pl.Int64, "column_name": pl.String,
    "reason": pl.String, "message": pl.String, "raw": pl.String, "derived": pl.String,
}


def is_code(col: Any) -> bool:
    """Keys and codes: stored as the source gives them (folded to half-width), never redacted."""
    return bool(col.primary_key or "ref" in col.info or col.info.get("code")
                or col.name.endswith(("_id", "_code")))


def is_free_text(col: Any) -> bool:
    """Text a person wrote (names, categories, descriptions), as opposed to codes and keys."""
    return (isinstance(col.type, String) and not is_code(col) and "enum" not in col.info
            and "pattern" not in col.info and col.name not in personal.OUTPUTS)


def derived(pres: personal.PersonalResult, n: int) -> pl.Series:
    """Per row, the personal columns computed from its clear inputs (JSON), so that a
    reprocessed row still gets its pseudonym: its raw row keeps only masked values. Rows whose
    personal inputs were invalid get none: they must fail again."""
    cols = {k: v for k, v in pres.columns.items() if k in personal.OUTPUTS}
    if not cols:
        return pl.Series("derived", [None] * n, dtype=pl.String)
    frame = pl.DataFrame([v.alias(k) for k, v in cols.items()])
    anything = frame.select(pl.any_horizontal(pl.all().is_not_null())).to_series()
    for _col, _reason, rows, _shown in pres.problems:
        anything = anything & ~rows
    encoded = frame.select(pl.struct(pl.all()).struct.json_encode()).to_series()
    return encoded.zip_with(anything, pl.Series([None] * n, dtype=pl.String)).alias("derived")


def quarantine_view(original: pl.DataFrame, table: Table, rename: Mapping[str, str],
                     mapped: bool, pres: personal.PersonalResult) -> pl.DataFrame:
    """The source row as the quarantine keeps it: personal inputs masked, every other value
    redacted, except values of key and code columns, which the warehouse stores as they are
    (reprocessing needs them intact; an 18-digit case number is not an ID number)."""
    codes = {c.name for c in content_columns(table) if is_code(c) or "enum" in c.info}
    out = _mask_personal(original, {} if mapped else rename, pres)
    redact = [h for h in out.columns if h not in INTERNAL
              and (h if mapped else rename.get(h)) not in codes]
    return out.with_columns([textrules.redact_series(out[h].cast(pl.String)).alias(h)
                             for h in redact])


def _mask_personal(original: pl.DataFrame, rename: Mapping[str, str],
                   pres: personal.PersonalResult) -> pl.DataFrame:
    """The source row as kept in the quarantine: personal values masked, never in clear."""
    out = original
    for header in original.columns:
        if header in INTERNAL:
            continue
        target = rename.get(header)
        if target in pres.masked_inputs:
            out = out.with_columns(pres.masked_inputs[target].alias(header))
        elif privacy.personal_header(str(header)):
            is_name = any(w in str(header).lower() for w in ("姓名", "名字", "联系人", "name"))
            fn = privacy.mask_name if is_name else _mask_any
            out = out.with_columns(pl.col(header).cast(pl.String).map_elements(
                fn, return_dtype=pl.String))
    return out


def _mask_any(value: str) -> str:
    """An unmapped personal value (an ID or phone column nobody mapped): masked anyway."""
    red = privacy.redact(value)
    return red if red != value else privacy.mask_phone(value)


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def message_expr(column: str, reason: str, raw_col: str, table: Table, *,
                 fmt: str | None = None, timezone: str | None = None) -> pl.Expr:
    """The quarantine message of one problem; a date names the declared format (``fmt``) it
    does not match, a skipped wall time the source's ``timezone``."""
    value = textrules.shown(pl.col(raw_col))
    if reason == BAD_DATE and fmt and fmt != EXCEL_SERIAL:
        safe = fmt.replace("{", "{{").replace("}", "}}")
        return pl.format(f"{column}: '{{}}' does not match the format '{safe}' "
                         "([sources.formats])", value)
    if reason == NO_LOCAL_TIME:
        return pl.format(f"{column}: '{{}}' is not a time in {timezone}: the clock skipped it "
                         "(daylight saving time starts)", value)
    if reason == MISSING:
        return pl.lit(f"{column}: a value is required")
    if reason in (BAD_ENCODING, *PLUGIN_REASONS):  # the plugin wrote the message
        return pl.col(raw_col)
    if reason == BAD_TEXT:
        return pl.lit(f"{column}: holds a NUL or another control character, which no text "
                      "column may hold")
    if reason == TOO_LONG:
        name = column.rsplit(" (", 1)[-1].rstrip(")")
        limit = textrules.max_length(table.c[name]) if name in table.c else None
        return pl.format(f"{column}: {{}} characters, longer than the maximum of {limit}",
                         pl.col(raw_col).str.len_chars())
    if reason.startswith("unknown_"):
        level = reason.removeprefix("unknown_")
        return pl.format(f"{column}: '{{}}' is not a known {level} code", value)
    if reason == OUT_OF_RANGE:
        return pl.format(f"{column}: '{{}}' is out of the allowed range", value)
    if reason == OUTSIDE_AREA:
        name = column.rsplit(" (", 1)[-1].rstrip(")")
        outer = table.c[name].info.get("under", "") if name in table.c else ""
        return pl.format(f"{column}: '{{}}' does not lie in the area the row names in "
                         f"{outer}", value)
    if reason == BAD_CODE:
        return pl.format(f"{column}: '{{}}' is not an allowed value", value)
    if reason == personal.INVALID_ID:
        return pl.format(f"{column}: '{{}}' is not a valid ID number (GB 11643 check digit or "
                         "birth date)", value)
    if reason == personal.INVALID_PHONE:
        return pl.format(f"{column}: '{{}}' is not a phone number", value)
    if reason == BAD_FORMAT:
        return pl.format(f"{column}: '{{}}' has the wrong format", value)
    word = TYPE_WORDS.get(reason, "valid")
    return pl.format(f"{column}: '{{}}' is not {word}", value)
