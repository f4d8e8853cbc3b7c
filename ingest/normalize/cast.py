"""Cast a source frame to a table's contract and split off the rows that break it.

Nothing is dropped silently: every row either comes out typed in ``good`` or goes to
``bad`` (the quarantine) with a reason code, the column, a readable message, its place in the
source and the raw row as the source had it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Table

from core import privacy
from core.divisions import CODE_LENGTH, LEVELS, PREFIX_LENGTH
from core.errors import DataError, MissingColumnsError
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
    TOO_LONG,
    UNKNOWN,
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
from ingest.normalize import personal, qrows, values
from ingest.normalize import text as textrules
from ingest.normalize.qrows import INTERNAL
from warehouse.schema import content_columns

__all__ = ["BAD_BOOL", "BAD_CODE", "BAD_DATE", "BAD_FORMAT", "BAD_NUMBER", "MISSING",
           "OUT_OF_RANGE", "UNKNOWN", "CastOptions", "Prepared", "cast_batch"]

PARALLEL_ROWS = 100_000  # below this, threads cost more than they save


@dataclass(frozen=True)
class CastOptions:
    """How a source spells its values, beyond what the framework recognises by itself.

    ``formats``: canonical column → strptime format, or ``excel_serial`` for a column of Excel
    serial day numbers (``[sources.formats]``). ``timezone``: the source's zone (``timezone``).
    ``decimal_comma``: ``1,5`` means 1.5 (a source setting). ``serial_dates``: numbers in date
    columns are Excel serials (set for XLSX cells).
    """

    formats: Mapping[str, str] = field(default_factory=dict)
    decimal_comma: bool = False
    serial_dates: bool = False
    timezone: str = values.LOCAL_TZ  # the zone of timestamps without an offset


@dataclass
class Prepared:
    """The outcome of casting one batch: typed rows, quarantined rows, rows read.

    ``bad_index`` holds, for each quarantined row, its position in the batch."""

    good: pl.DataFrame
    bad: pl.DataFrame
    read: int
    unmapped: list[str]
    bad_index: pl.Series = field(default_factory=lambda: pl.Series([], dtype=pl.UInt32))


def clean_header(h: str) -> str:
    """Header text without BOMs, surrounding or full-width spaces, and trailing colons."""
    return re.sub(r"[\s\u3000\ufeff]+", "", str(h)).rstrip(":：").strip()


def map_headers(frame: pl.DataFrame, table: Table, columns: Mapping[str, str],
                location: str = "") -> tuple[pl.DataFrame, list[str], dict[str, str]]:
    """Rename source headers to canonical names: ``[sources.columns]`` first, then exact names.

    Returns the renamed frame, the headers that map to nothing (kept out of the warehouse,
    but still in the raw row of any quarantined record) and the mapping used. Two headers that
    map to one column are an error naming both: keeping either would drop the other's values
    without a word.
    """
    canonical = {c.name for c in content_columns(table) if c.name not in personal.OUTPUTS}
    if table.info.get("personal"):
        canonical |= set(personal.INPUTS)
    lower = {c.lower(): c for c in canonical}
    user = {clean_header(k): v for k, v in columns.items()}
    rename: dict[str, str] = {}
    unmapped: list[str] = []
    taken: set[str] = set()
    for h in frame.columns:
        if h in INTERNAL:
            continue
        ch = clean_header(h)
        target = user.get(ch) or user.get(h) or lower.get(ch.lower())
        if target and target in taken:
            first = next(k for k, v in rename.items() if v == target)
            what = (f"the header '{h}' appears twice" if clean_header(first) == ch
                    else f"the headers '{first}' and '{h}' both map to the column '{target}'")
            raise DataError(f"{what}; rename or remove one of them", location=location or None)
        if target:
            rename[h] = target
            taken.add(target)
        else:
            unmapped.append(h)
    out = frame.rename(rename).drop(unmapped)
    return out, unmapped, rename


def required_columns(table: Table, defaults: Mapping[str, Any]) -> list[str]:
    """Columns a source must provide: not nullable and without a default of any kind."""
    return [
        c.name for c in content_columns(table)
        if (not c.nullable or c.primary_key) and "default" not in c.info and c.name not in defaults
    ]


def check_required(columns: list[str], table: Table, defaults: Mapping[str, Any],
                   location: str) -> None:
    missing = [c for c in required_columns(table, defaults) if c not in columns]
    if missing:
        raise MissingColumnsError(missing, location=location)


Problem = tuple[str, str, pl.Series, pl.Series]  # column, reason, rows, text shown


def cast_batch(
    frame: pl.DataFrame,
    table: Table,
    *,
    columns: Mapping[str, str],
    defaults: Mapping[str, Any],
    known_codes: Mapping[str, pl.Series],
    mapped: bool = False,
    location: str = "",
    key_getter: Callable[[], bytes] = privacy.pseudonym_key,
    options: CastOptions | None = None,
    personal_given: pl.DataFrame | None = None,
) -> Prepared:
    """Map, cast and validate one batch of a source against ``table``'s contract.

    ``personal_given`` (reprocessing) holds the stored personal columns (``id_hash`` …) that
    the first pass computed: the raw rows keep only masked inputs, which cannot be hashed again.
    """
    opts = options or CastOptions()
    n = frame.height
    frame = frame.with_row_index("_idx")
    if ROW not in frame.columns:
        frame = frame.with_columns(pl.col("_idx").cast(pl.Int64).add(1).alias(ROW))
    original = frame
    if mapped:
        unmapped = [c for c in frame.columns
                    if c not in INTERNAL and c not in {x.name for x in table.columns}]
        renamed = frame.drop(unmapped)
        rename: dict[str, str] = {}
        shown_as: dict[str, str] = {}
    else:
        renamed, unmapped, rename = map_headers(frame, table, columns, location)
        shown_as = {v: f"{k} ({v})" for k, v in rename.items() if k != v}
    check_required(renamed.columns, table, defaults, location)

    # Personal inputs become masked / pseudonymised columns here and go no further in clear.
    inputs = {c: values.clean_strings(renamed[c]) for c in personal.INPUTS
              if c in renamed.columns and table.info.get("personal")}
    if personal_given is not None:
        pres = personal.PersonalResult(columns={c: personal_given[c]
                                                for c in personal_given.columns})
    else:
        pres = personal.process(inputs, key_getter) if inputs else personal.PersonalResult()
    renamed = renamed.drop(list(inputs))
    problems: list[Problem] = list(pres.problems)
    if BAD_ENCODING_NOTE in frame.columns:  # rows the plugin could not decode
        undecoded = frame[BAD_ENCODING_NOTE].is_not_null()
        if undecoded.any():
            problems.append(("", BAD_ENCODING, undecoded, frame[BAD_ENCODING_NOTE]))
    if BAD_REASON in frame.columns:  # rows the plugin found bad (e.g. a broken polygon)
        for reason in frame[BAD_REASON].drop_nulls().unique().sort().to_list():
            rows = (frame[BAD_REASON] == reason).fill_null(False)
            problems.append(("", reason, rows, frame[BAD_MESSAGE]))

    def one(col: Any) -> tuple[pl.Series, list[Problem]]:
        name = col.name
        if name in personal.OUTPUTS:
            return pres.columns.get(name, pl.Series(name, [None] * n, dtype=pl.String)
                                    ).alias(name), []
        default = defaults.get(name, col.info.get("default"))
        if name in renamed.columns:
            raw_series = renamed[name]
        else:
            raw_series = pl.Series(name, [None if default is None else str(default)] * n,
                                   dtype=pl.String)
        if name in renamed.columns and not col.nullable and default is not None:
            # a blank cell in a required column with a default means "the default"
            blank = raw_series.is_null() | (raw_series.cast(pl.String).str.strip_chars() == "")
            if blank.any():
                raw_series = raw_series.cast(pl.String).set(blank, str(default))
        value, raw_text, reason = _cast_column(raw_series, col, opts)
        found: list[Problem] = []
        bad = raw_text.is_not_null() & value.is_null()
        if reason and bad.any():
            skipped = _skipped_times(raw_series, raw_text, col, opts, bad)
            if skipped is not None:  # read fine, but the zone's clock skipped that time
                found.append((name, NO_LOCAL_TIME, skipped, raw_text))
                bad = bad & ~skipped
            if bad.any():
                found.append((name, reason, bad, raw_text))
            value = value.set(bad, None) if value.dtype != pl.Null else value
        ref = col.info.get("ref", "")
        levels = None
        if ref.startswith("@"):  # the level a code must exist at is the row's own (geometries)
            levels = (renamed[ref[1:]].cast(pl.String).str.strip_chars()
                      if ref[1:] in renamed.columns else pl.Series([None] * n, dtype=pl.String))
        value, more = _validate(value, raw_text, col, known_codes, levels)
        value, checked = _check_text(value, col)
        return value.alias(name), found + more + checked

    # Columns are independent and polars releases the GIL while it parses, so large batches
    # cast their columns side by side; results are gathered in the table's column order, so
    # the quarantine's "first failing column" does not depend on timing.
    cols = content_columns(table)
    if n >= PARALLEL_ROWS and len(cols) > 1:
        with ThreadPoolExecutor(max_workers=min(len(cols), os.cpu_count() or 1)) as pool:
            results = list(pool.map(one, cols))
    else:
        results = [one(col) for col in cols]
    for _value, found in results:
        problems.extend(found)
    filled = _filled(table, {v.name: v for v, _found in results})
    results = [(filled[v.name], found) for v, found in results]
    problems.extend(_outside(table, filled))

    good_frame = pl.DataFrame([value for value, _found in results])
    if not problems:
        return Prepared(good_frame, qrows.empty(), n, unmapped)

    masks = pl.DataFrame([p[2].alias(f"m{i}") for i, p in enumerate(problems)])
    any_bad = masks.select(pl.any_horizontal(pl.all())).to_series()
    bad_column = (frame[BAD_COLUMN] if BAD_COLUMN in frame.columns
                  else pl.Series([None] * n, dtype=pl.String))
    first_col = masks.with_columns(bad_column.alias("_bc")).select(pl.coalesce([
        pl.when(pl.col(f"m{i}")).then(pl.col("_bc") if not p[0] else pl.lit(p[0]))
        for i, p in enumerate(problems)
    ])).to_series()
    first_reason = masks.select(pl.coalesce([
        pl.when(pl.col(f"m{i}")).then(pl.lit(p[1])) for i, p in enumerate(problems)
    ])).to_series()
    texts = pl.DataFrame(
        [_shown(p, table).alias(f"r{i}") for i, p in enumerate(problems)]
        + list(masks.iter_columns())
    )
    message = texts.select(pl.concat_str([
        pl.when(pl.col(f"m{i}")).then(qrows.message_expr(
            shown_as.get(p[0], p[0]), p[1], f"r{i}", table, fmt=opts.formats.get(p[0]),
            timezone=opts.timezone))
        for i, p in enumerate(problems)
    ], separator="; ", ignore_nulls=True)).to_series()
    original = qrows.quarantine_view(original, table, rename, mapped, pres)

    good = good_frame.filter(~any_bad)
    info = original.select(
        pl.col(ORIGIN).cast(pl.String) if ORIGIN in original.columns
        else pl.lit(location).alias(ORIGIN),
        pl.col(SHEET).cast(pl.String) if SHEET in original.columns
        else pl.lit(None, dtype=pl.String).alias(SHEET),
        pl.col(ROW).cast(pl.Int64),
        pl.struct(pl.all().exclude(*INTERNAL).cast(pl.String)).struct.json_encode().alias("raw"),
    )
    bad_rows = pl.DataFrame({
        "origin": textrules.redact_series(info[ORIGIN]), "sheet": info[SHEET],
        "row_number": info[ROW],
        "column_name": first_col, "reason": first_reason, "message": message, "raw": info["raw"],
        "derived": qrows.derived(pres, n),
    }).filter(any_bad)
    return Prepared(good, bad_rows, n, unmapped,
                    bad_index=original["_idx"].filter(any_bad))


def _shown(problem: Problem, table: Table) -> pl.Series:
    """A problem's values as its message repeats them, on the rows it concerns: redacted like
    the column's values are (a code, e.g. a 15-digit grid code, is shown as it is, or the
    message could not say which code is unknown)."""
    name, _reason, rows, values_ = problem
    text = values_.cast(pl.String).zip_with(rows, pl.Series([None] * len(rows), dtype=pl.String))
    col = table.c.get(name, None)
    if col is not None and (qrows.is_code(col) or "enum" in col.info):
        return text
    return textrules.redact_series(text)


def _filled(table: Table, cast: Mapping[str, pl.Series]) -> dict[str, pl.Series]:
    """Codes another column of the row implies (``info {"fills": column}``): a 12345 request
    that names only its grid is filed in the grid's community. Only empty cells are filled;
    a code the row names itself is then checked against the other (``under``)."""
    out = dict(cast)
    for col in content_columns(table):
        target = col.info.get("fills")
        if not target or col.name not in cast or target not in cast:
            continue
        implied = _code_at(cast[col.name].cast(pl.String), table.c[target].info["ref"])
        have = out[target].cast(pl.String)
        out[target] = have.zip_with(have.is_not_null(), implied).alias(target)
    return out


def _code_at(codes: pl.Series, level: str) -> pl.Series:
    """:func:`core.divisions.code_at` over a column of codes (nulls stay null)."""
    head = codes.str.slice(0, PREFIX_LENGTH[level])
    return head if PREFIX_LENGTH[level] > CODE_LENGTH else head.str.pad_end(CODE_LENGTH, "0")


def _outside(table: Table, cast: Mapping[str, pl.Series]) -> list[Problem]:
    """Codes that must lie in the area another column of the same row names (``info
    {"under": column}``): a building's code starts with its grid's. Rows whose values are
    already bad (null) are left to that column's own reason."""
    out: list[Problem] = []
    for col in content_columns(table):
        outer = col.info.get("under")
        if not outer or col.name not in cast or outer not in cast:
            continue
        pair = pl.DataFrame({"c": cast[col.name], "o": cast[outer]})
        bad = pair.select(pl.col("c").is_not_null() & pl.col("o").is_not_null()
                          & ~pl.col("c").str.starts_with(pl.col("o"))).to_series()
        if bad.any():
            out.append((col.name, OUTSIDE_AREA, bad, cast[col.name]))
    return out


def _check_text(value: pl.Series, col: Any) -> tuple[pl.Series, list[Problem]]:
    """Redact free text, then refuse what a text column cannot hold: control characters
    (``bad_text``) and values over the column's declared maximum (``too_long``)."""
    if value.dtype != pl.String or col.name in personal.OUTPUTS or textrules.codes_fit(col):
        return value, []
    if qrows.is_free_text(col):
        value = textrules.redact_series(value)
    out: list[Problem] = []
    control = textrules.bad_text(value)
    if control.any():
        out.append((col.name, BAD_TEXT, control, value))
    limit = textrules.max_length(col)
    if limit is not None:
        long = textrules.too_long(value, limit) & ~control
        if long.any():
            out.append((col.name, TOO_LONG, long, value))
    for p in out:
        value = value.set(p[2], None)
    return value, out


def _cast_column(raw: pl.Series, col: Any, opts: CastOptions
                 ) -> tuple[pl.Series, pl.Series, str | None]:
    """Return (typed value, the raw text used for messages, reason code on failure)."""
    t = col.type
    if raw.dtype.is_temporal() and isinstance(t, DateTime | Date):
        return _temporal(raw, t, opts.timezone), raw.cast(pl.String), BAD_DATE
    text = values.clean_strings(raw) if raw.dtype != pl.Null else raw.cast(pl.String)
    comma = opts.decimal_comma
    if "enum" in col.info:
        # the column's own words: its table declares them with the column (one home)
        return (values.parse_enum(text, col.info["enum"], col.info.get("synonyms", {})), text,
                BAD_CODE)
    if isinstance(t, Boolean):
        if raw.dtype == pl.Boolean:
            return raw, text, BAD_BOOL
        if "words" in col.info:  # the column's own words (已解决 / 未解决) before the shared ones
            own = values.halfwidth(text).str.to_lowercase().replace_strict(
                list(col.info["words"]), list(col.info["words"].values()), default=None,
                return_dtype=pl.Boolean)
            return own.fill_null(values.parse_bool(text)), text, BAD_BOOL
        return values.parse_bool(text), text, BAD_BOOL
    if isinstance(t, Integer):
        if "words" in col.info:  # a scale of its own (e.g. 12345: 满意 3 / 基本满意 2 / 不满意 1)
            return (values.parse_number(text, integer=True, words=col.info["words"],
                                        decimal_comma=comma), text, BAD_NUMBER)
        if col.name in ("rating", "satisfaction"):
            return values.parse_rating(text, decimal_comma=comma), text, BAD_NUMBER
        return values.parse_number(text, integer=True, decimal_comma=comma), text, BAD_NUMBER
    if isinstance(t, Float):
        return values.parse_number(text, integer=False, decimal_comma=comma), text, BAD_NUMBER
    fmt = opts.formats.get(col.name)
    if isinstance(t, DateTime):
        return (values.parse_datetime(text, source_tz=opts.timezone, serials=opts.serial_dates,
                                      fmt=fmt), text, BAD_DATE)
    if isinstance(t, Date):
        return values.parse_date(text, serials=opts.serial_dates, fmt=fmt), text, BAD_DATE
    if qrows.is_code(col):
        text = values.halfwidth(text)
    return text, text, None


def _skipped_times(raw: pl.Series, text: pl.Series, col: Any, opts: CastOptions,
                   bad: pl.Series) -> pl.Series | None:
    """Among the ``bad`` rows of a timestamp column, those whose text reads as a wall time
    that the source's zone does not have (a spring-forward gap); None when there are none."""
    if not isinstance(col.type, DateTime) or raw.dtype.is_temporal():
        return None
    idx = bad.arg_true()  # only the bad rows are read again, as plain wall times
    wall = values.parse_datetime(text.gather(idx), source_tz="UTC", serials=opts.serial_dates,
                                 fmt=opts.formats.get(col.name))
    if not wall.is_not_null().any():
        return None
    return pl.Series([False] * len(bad), dtype=pl.Boolean).scatter(
        idx.filter(wall.is_not_null()), True)


def _temporal(raw: pl.Series, t: Any, tz: str = values.LOCAL_TZ) -> pl.Series:
    """Typed timestamps from databases or spreadsheets: naive ones are the source's zone's
    wall time (Asia/Shanghai unless the source says otherwise)."""
    if isinstance(t, Date):
        return raw.cast(pl.Date) if raw.dtype != pl.Date else raw
    s = raw.cast(pl.Datetime("us", getattr(raw.dtype, "time_zone", None)))
    if getattr(s.dtype, "time_zone", None) is None:
        s = s.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    return s.dt.convert_time_zone("UTC").dt.replace_time_zone(None)


def _validate(value: pl.Series, raw: pl.Series, col: Any, known: Mapping[str, pl.Series],
              levels: pl.Series | None = None) -> tuple[
        pl.Series, list[tuple[str, str, pl.Series, pl.Series]]]:
    name = col.name
    out: list[tuple[str, str, pl.Series, pl.Series]] = []
    shown = raw if raw.dtype == pl.String else value.cast(pl.String)
    if (not col.nullable or col.primary_key):
        missing = value.is_null() & raw.is_null()
        if missing.any():
            out.append((name, MISSING, missing, shown))
    if "range" in col.info:
        lo, hi = col.info["range"]
        bad = value.is_not_null() & ((value < lo) | (value > hi))
        if bad.any():
            out.append((name, OUT_OF_RANGE, bad, shown))
            value = value.set(bad, None)
    if "pattern" in col.info:
        bad = value.is_not_null() & ~value.str.contains(col.info["pattern"])
        if bad.any():
            out.append((name, BAD_FORMAT, bad, shown))
    if levels is not None:  # per row: each code at the level its row names
        for level in levels.drop_nulls().unique().sort().to_list():
            if level not in LEVELS:
                continue  # an unknown level is the level column's own problem (bad_code)
            allowed = known.get(level, pl.Series([], dtype=pl.String))
            bad = value.is_not_null() & (levels == level).fill_null(False) \
                & ~value.is_in(allowed.implode())
            if bad.any():
                out.append((name, UNKNOWN.format(level=level), bad, shown))
    elif "ref" in col.info:
        level = col.info["ref"]
        codes = known.get(level)
        allowed = codes if codes is not None else pl.Series([], dtype=pl.String)
        bad = value.is_not_null() & ~value.is_in(allowed.implode())
        if bad.any():
            out.append((name, UNKNOWN.format(level=level), bad, shown))
    return value, out
