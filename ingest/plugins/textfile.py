"""Reading delimited text and spreadsheets the way district offices actually produce them.

Encodings: a UTF-8 BOM is honoured; otherwise strict UTF-8 is tried first and GB18030 second
(the reverse order silently turns UTF-8 into mojibake). Title rows above the header (a report
name, a date line) are skipped by finding the row that looks most like a header.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from gongzhi.errors import DataError, EncodingError
from ingest.contract import ORIGIN, ROW, SHEET
from ingest.normalize.cast import clean_header

UTF8_BOM = b"\xef\xbb\xbf"
HEADER_SCAN_ROWS = 30


def decode(data: bytes, location: str, encoding: str | None = None) -> tuple[bytes, str]:
    """Return UTF-8 bytes and the encoding that was detected (or forced)."""
    if encoding:
        try:
            text = data.decode(encoding)
        except LookupError:
            raise DataError(f"unknown encoding '{encoding}'", location=location) from None
        except UnicodeDecodeError as e:
            raise EncodingError(_bad_bytes(data, e, encoding), location=location) from None
        return text.lstrip("\ufeff").encode("utf-8"), encoding
    if data.startswith(UTF8_BOM):
        body = data[len(UTF8_BOM):]
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise EncodingError(_bad_bytes(body, e, "UTF-8 (it starts with a UTF-8 BOM)"),
                                location=location) from None
        return body, "utf-8-sig"
    try:
        data.decode("utf-8")
        return data, "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("gb18030").encode("utf-8"), "gb18030"
        except UnicodeDecodeError:
            raise EncodingError(
                _bad_bytes(data, utf8_error, "UTF-8 or GB18030"), location=location
            ) from None


def _bad_bytes(data: bytes, e: UnicodeDecodeError, what: str) -> str:
    line = data.count(b"\n", 0, e.start) + 1
    col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
    snippet = data[e.start:e.start + 4].hex(" ")
    return (f"line {line}, byte {col}: the bytes ({snippet}) are not valid {what}; "
            "save the file as UTF-8 or GB18030")


def sniff_delimiter(first_lines: list[str]) -> str:
    line = first_lines[0] if first_lines else ""
    counts = {d: line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def find_header(rows: Iterable[list[str]], known: set[str]) -> int:
    """Index of the row most like a header: the one with the most known column names.

    Known names are compared after cleaning (spaces, BOMs, trailing colons removed). With no
    match at all the first row is the header, and missing columns are then reported.
    """
    best, best_hits = 0, 0
    for i, row in enumerate(rows):
        hits = sum(1 for cell in row if cell is not None and clean_header(cell) in known)
        if hits > best_hits:
            best, best_hits = i, hits
    return best


def read_csv(data: bytes, *, location: str, known_headers: set[str], encoding: str | None,
             delimiter: str | None = None) -> tuple[pl.DataFrame, str]:
    """Read a CSV file's bytes into a frame of strings with ``_row`` and ``_origin``."""
    utf8, enc = decode(data, location, encoding)
    head_text = utf8[: 256 * 1024].decode("utf-8", errors="ignore")
    head_lines = head_text.splitlines()[:HEADER_SCAN_ROWS]
    sep = delimiter or sniff_delimiter([ln for ln in head_lines if ln.strip()] or [""])
    rows = list(csv.reader(io.StringIO("\n".join(head_lines)), delimiter=sep))
    header_idx = find_header(rows, known_headers)
    if not utf8.strip():
        return pl.DataFrame({ROW: pl.Series([], dtype=pl.Int64)}), enc
    try:
        df = pl.read_csv(
            utf8, has_header=True, skip_rows=header_idx, infer_schema=False, separator=sep,
            truncate_ragged_lines=False, raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as e:
        raise DataError(f"cannot read as CSV (header on line {header_idx + 1}): "
                        f"{str(e).splitlines()[0]}", location=location) from None
    # Row numbers as a person sees them in the file: header line + 1 onwards.
    df = df.with_row_index(ROW, offset=header_idx + 2).with_columns(
        pl.col(ROW).cast(pl.Int64), pl.lit(location).alias(ORIGIN))
    data_cols = [c for c in df.columns if c not in (ROW, ORIGIN)]
    if data_cols and df.height:  # rows empty in every cell are layout (a blank line), not data
        df = df.filter(~pl.all_horizontal(pl.col(data_cols).is_null()))
    return df, enc


def read_xlsx(path: Path, *, location: str, known_headers: set[str],
              sheet: str | int | None) -> pl.DataFrame:
    """Read one sheet of an XLSX workbook as strings, skipping title rows."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(str(path))
        names = reader.sheet_names
        if sheet is None:
            target: str | int = 0
        elif isinstance(sheet, int):
            target = sheet
        else:
            if sheet not in names:
                raise DataError(f"no sheet named '{sheet}' (sheets: {', '.join(names)})",
                                location=location)
            target = sheet
        raw = reader.load_sheet(target, header_row=None, dtypes="string").to_polars()
        sheet_name = names[target] if isinstance(target, int) else target
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"cannot read as XLSX: {e}", location=location) from None
    if raw.is_empty():
        return pl.DataFrame({ROW: pl.Series([], dtype=pl.Int64)})
    scan = raw.head(HEADER_SCAN_ROWS).rows()
    header_idx = find_header([list(r) for r in scan], known_headers)
    header = [str(h) if h is not None else f"column_{i + 1}"
              for i, h in enumerate(raw.row(header_idx))]
    seen: dict[str, int] = {}
    unique = []
    for h in header:  # repeated headers (merged cells) must not clash
        seen[h] = seen.get(h, 0) + 1
        unique.append(h if seen[h] == 1 else f"{h}_{seen[h]}")
    body = raw.slice(header_idx + 1)
    body.columns = unique
    body = body.with_row_index(ROW, offset=header_idx + 2).with_columns(
        pl.col(ROW).cast(pl.Int64), pl.lit(location).alias(ORIGIN),
        pl.lit(sheet_name).alias(SHEET))
    # Rows that are empty in every cell are layout, not data.
    data_cols = [c for c in body.columns if c not in (ROW, ORIGIN, SHEET)]
    return body.filter(~pl.all_horizontal(pl.col(data_cols).is_null()))
