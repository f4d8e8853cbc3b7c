"""Reading delimited text and spreadsheets the way district offices actually produce them.

Encodings: a BOM (UTF-8, UTF-16) is honoured; otherwise strict UTF-8 is tried first and
GB18030 second (the reverse order silently turns UTF-8 into mojibake), and a file that mixes
the two is decoded in the encoding most of its lines use, each other line set aside for the
quarantine (``bad_encoding``), never stored garbled. Title rows above the header (a report
name, a date line) are skipped by finding the row that looks most like a header.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from core.errors import DataError, EncodingError
from ingest.contract import BAD_COLUMN, BAD_ENCODING_NOTE, ORIGIN, ROW, SHEET
from ingest.normalize.cast import clean_header
from ingest.plugins.textfast import bad_bytes, bad_line, fast_decode

UTF8_BOM = b"\xef\xbb\xbf"
HEADER_SCAN_ROWS = 30

GB_FAMILY = {"gb18030", "gbk", "gb2312", "cp936", "936", "euc-cn", "hz"}


@dataclass
class Decoded:
    """A text file's lines decoded in the file's encoding.

    ``bad`` maps a 1-based line number to why that line is not text in the file's encoding;
    such a line holds, in ``lines``, its reading in the other encoding (or the bytes escaped),
    for people to see in the quarantine, never for loading.
    """

    lines: list[str] | None  # None when ``utf8`` holds the whole file unchanged
    encoding: str
    bad: dict[int, str] = field(default_factory=dict)
    utf8: bytes | None = None

    def text(self) -> str:
        if self.lines is None:
            assert self.utf8 is not None
            return self.utf8.decode("utf-8")
        return "\n".join(self.lines)

    def utf8_bytes(self) -> bytes:
        """The whole file as UTF-8 (no copy when it was UTF-8 already)."""
        return self.utf8 if self.utf8 is not None else self.text().encode("utf-8")

    def head(self, n: int) -> list[str]:
        """The first ``n`` lines."""
        if self.lines is not None:
            return "\n".join(self.lines[:n]).splitlines()[:n]
        return self.utf8_bytes()[: 256 * 1024].decode("utf-8", errors="ignore").splitlines()[:n]


_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")
ASCII_COMPATIBLE = GB_FAMILY | {"utf-8", "utf-8-sig", "utf8", "latin-1", "iso-8859-1", "cp1252",
                                "big5", "big5hkscs", "cp950"}


def _cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def _try(line: bytes, encoding: str) -> str | None:
    try:
        return line.decode(encoding)
    except UnicodeDecodeError:
        return None


def decode(data: bytes, location: str, encoding: str | None = None,
           line_offset: int = 0) -> Decoded:
    """Decode a text file, deciding its encoding per file and checking it per line.

    A BOM decides (UTF-8, UTF-16); a configured ``encoding`` decides; otherwise strict UTF-8
    for the whole file, and when that fails, the encoding most non-ASCII lines are valid in:
    UTF-8 or GB18030 (the reverse order silently turns UTF-8 into mojibake). Lines that are not
    text in the file's encoding, or that are UTF-8 inside a GB18030 file (which GB18030 would
    decode without error, as mojibake), are listed in ``bad``. An undecodable header line, or a
    file most of whose lines are undecodable, is an :class:`EncodingError` for the whole file.
    ``line_offset`` is added to the line numbers the messages name (``bad`` keeps the data's
    own): the data is a piece of a larger file.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" export
        try:
            return Decoded(None, "utf-16", utf8=data.decode("utf-16").encode("utf-8"))
        except UnicodeDecodeError as e:
            raise EncodingError(bad_bytes(data, e, "UTF-16 (it starts with a UTF-16 BOM)"),
                                location=location) from None
    if encoding:
        try:
            "".encode(encoding)
        except LookupError:
            raise DataError(f"unknown encoding '{encoding}'", location=location) from None
        file_enc = encoding.lower().replace("_", "-")
        if data.startswith(UTF8_BOM) and file_enc.startswith("utf"):
            data = data[len(UTF8_BOM):]
    elif data.startswith(UTF8_BOM):
        data, file_enc = data[len(UTF8_BOM):], "utf-8-sig"
    else:
        file_enc = ""
    if file_enc in ("", "utf-8", "utf-8-sig", "utf8"):
        try:
            data.decode("utf-8")  # the common case: valid UTF-8 throughout, kept as it is
            return Decoded(None, file_enc or "utf-8", utf8=data)
        except UnicodeDecodeError:
            pass
    elif file_enc.lower() in ASCII_COMPATIBLE:  # known, not UTF-8: one go when nothing to mark
        text = fast_decode(data, file_enc, file_enc.lower() in GB_FAMILY, _cjk)
        if text is not None:
            return Decoded(None, file_enc, utf8=text.encode("utf-8"))
    return _checked(data, file_enc, location, line_offset)


def _checked(data: bytes, file_enc: str, location: str, line_offset: int = 0) -> Decoded:
    """The per-line check, at C speed for the common lines: the whole file is decoded once as
    UTF-8 with replacement (a line without U+FFFD is valid UTF-8) and once in the file's
    encoding; only lines that disagree are looked at one by one."""
    u_lines = data.decode("utf-8", errors="replace").split("\n")
    utf8_cjk: list[int] = []  # valid UTF-8 holding Chinese: UTF-8 rows
    not_utf8: list[int] = []
    non_ascii = 0
    for i, line in enumerate(u_lines):
        if line.isascii():
            continue
        non_ascii += 1
        if "\ufffd" in line:
            not_utf8.append(i)
        elif _cjk(line):
            utf8_cjk.append(i)
    if not file_enc:  # the encoding most non-ASCII lines are written in
        file_enc = "gb18030" if _gb_lines(data, not_utf8) > len(utf8_cjk) else "utf-8"
    name = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf8": "UTF-8"}.get(
        file_enc, file_enc.upper())
    if file_enc.lower() not in ASCII_COMPATIBLE:  # UTF-16 and the like: no byte lines
        try:
            return Decoded(None, file_enc, utf8=data.decode(file_enc).encode("utf-8"))
        except UnicodeDecodeError as e:
            raise EncodingError(bad_bytes(data, e, name), location=location) from None
    if name == "UTF-8":
        lines, suspects, mixed = u_lines, not_utf8, []
    else:
        # UTF-8 rows decode as GB18030 without an error, as mojibake: set them aside
        mixed = utf8_cjk if file_enc.lower() in GB_FAMILY else []
        try:
            whole = data.decode(file_enc)
            if not mixed:  # the common case: one encoding throughout
                return Decoded(None, file_enc, utf8=whole.encode("utf-8"))
            lines, suspects = whole.split("\n"), []
        except UnicodeDecodeError:  # some lines are not in it: decode those line by line
            lines = [ln if ln.isascii() else "" for ln in u_lines]
            suspects = [i for i, ln in enumerate(u_lines) if not ln.isascii()]
    raw = data.split(b"\n") if suspects else []
    other = "gb18030" if name == "UTF-8" else "utf-8"
    bad: dict[int, str] = {}
    undecodable = 0
    for i in mixed:
        lines[i] = u_lines[i]
        bad[i + 1] = (f"line {i + 1 + line_offset} is UTF-8 inside a {name} file (the file mixes "
                      "encodings); save the file in one encoding")
    for i in suspects:
        if (i + 1) in bad:
            continue
        text = _try(raw[i], file_enc)
        if text is not None:
            lines[i] = text
            continue
        alt = _try(raw[i], other)
        if alt is not None and (_cjk(alt) or other == "utf-8"):
            lines[i] = alt
            bad[i + 1] = (f"line {i + 1 + line_offset} is not valid {name}, the file's "
                          f"encoding (it reads as {other.upper()}: the file mixes encodings); "
                          "save the file in one encoding")
        else:
            undecodable += 1
            lines[i] = raw[i].decode(file_enc, errors="backslashreplace")
            bad[i + 1] = bad_line(raw[i], i + 1 + line_offset, f"{name} or {other.upper()}")
    first = next((i for i, ln in enumerate(lines, start=1) if ln.strip()), 1)
    if first in bad:
        raise EncodingError(f"the header: {bad[first]}", location=location)
    if non_ascii and undecodable * 2 > non_ascii:
        raise EncodingError(bad[min(bad)] + f"; {undecodable:,} of {non_ascii:,} lines with "
                            "non-ASCII text are undecodable: is the file in another "
                            "encoding? (set `encoding` for the source)", location=location)
    return Decoded(lines, file_enc, bad)


def _gb_lines(data: bytes, candidates: list[int], sample: int = 1000) -> float:
    """How many of the lines that are not UTF-8 are GB18030 (estimated from a spread sample
    of at most ``sample`` lines: a GB18030 file has a non-UTF-8 line on nearly every row)."""
    if not candidates:
        return 0.0
    step = max(len(candidates) // sample, 1)
    picked = set(candidates[::step])
    raw = data.split(b"\n") if len(picked) > 50 else None
    ok = 0
    for i in picked:
        line = raw[i] if raw is not None else data.split(b"\n", i + 1)[i]
        ok += _try(line, "gb18030") is not None
    return len(candidates) * ok / len(picked)


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


def locate_header(head_lines: list[str], delimiter: str | None, known: set[str]
                  ) -> tuple[str, list[list[str]], int]:
    """The delimiter (``delimiter``, else sniffed), the head's rows and the header's index
    among them, from a file's first lines."""
    sep = delimiter or sniff_delimiter([ln for ln in head_lines if ln.strip()] or [""])
    rows = list(csv.reader(io.StringIO("\n".join(head_lines)), delimiter=sep))
    return sep, rows, find_header(rows, known)


def check_headers(header: Sequence[str | None], known: set[str], location: str) -> None:
    """A header that appears twice would silently lose one of its columns: an error naming it.
    Repeats of headers that map to nothing (two 备注 columns) are harmless and allowed."""
    seen: dict[str, int] = {}
    for i, h in enumerate(header, start=1):
        if h is None or not str(h).strip():
            continue
        ch = clean_header(str(h))
        if ch in seen and ch in known:
            raise DataError(f"the header '{h}' appears twice (columns {seen[ch]} and {i}); "
                            "rename or remove one of them", location=location)
        seen.setdefault(ch, i)


def read_csv(data: bytes, *, location: str, known_headers: set[str], encoding: str | None,
             delimiter: str | None = None, line_offset: int = 0) -> tuple[pl.DataFrame, str]:
    """Read a CSV file's bytes into a frame of strings with ``_row`` and ``_origin``; rows
    whose bytes are not text in the file's encoding carry ``_bad_encoding``.

    ``line_offset`` is added to every line number the rows and messages give: the data is a
    piece of a larger file whose header line the caller put in front of it."""
    dec = decode(data, location, encoding, line_offset)
    sep, rows, header_idx = locate_header(dec.head(HEADER_SCAN_ROWS), delimiter, known_headers)
    utf8 = dec.utf8_bytes()
    if not utf8.strip():
        return pl.DataFrame({ROW: pl.Series([], dtype=pl.Int64)}), dec.encoding
    if header_idx < len(rows):
        check_headers(rows[header_idx], known_headers, location)
    if dec.bad:
        df = _read_marked(dec, sep, header_idx, location, line_offset)
    else:
        try:
            df = pl.read_csv(
                utf8, has_header=True, skip_rows=header_idx,
                infer_schema=False, separator=sep, truncate_ragged_lines=False,
                raise_if_empty=False,
            )
        except pl.exceptions.PolarsError as e:
            raise csv_error(e, dec.text(), sep, header_idx, location, line_offset) from None
        # Row numbers as a person sees them in the file: header line + 1 onwards.
        df = df.with_row_index(ROW, offset=header_idx + 2 + line_offset).with_columns(
            pl.col(ROW).cast(pl.Int64))
    df = df.with_columns(pl.lit(location).alias(ORIGIN))
    data_cols = [c for c in df.columns if c not in (ROW, ORIGIN, BAD_ENCODING_NOTE, BAD_COLUMN)]
    if data_cols and df.height:  # rows empty in every cell are layout (a blank line), not data
        df = df.filter(~pl.all_horizontal(pl.col(data_cols).is_null()))
    return df, dec.encoding


def csv_error(e: Exception, text: str, sep: str, header_idx: int, location: str,
              line_offset: int = 0, width: int | None = None) -> DataError:
    """The error for CSV text polars refused: the first line with more fields than the header
    when there is one (polars does not say where), else polars' own words. ``width``: the
    header's fields when ``text`` has no header line (a later piece of a streamed file)."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    last = 0
    for record in reader:
        first, last = last + 1, reader.line_num
        if width is None and first <= header_idx:
            continue
        if width is None:
            width = len(record)
        elif len(record) > width:
            return DataError("cannot read as CSV: " + _too_many_fields(
                first + line_offset, len(record), width), location=location)
    return DataError(f"cannot read as CSV (header on line {header_idx + 1}): "
                     f"{str(e).splitlines()[0]}", location=location)


def _too_many_fields(line: int, fields: int, header: int) -> str:
    """How both readers name a line with more fields than the header."""
    return f"line {line} has {fields} fields, the header {header}"


def _read_marked(dec: Decoded, sep: str, header_idx: int, location: str,
                 line_offset: int = 0) -> pl.DataFrame:
    """The slow, careful path for a file with undecodable lines: rows parsed with their
    physical line numbers, so the rows those lines belong to are the ones marked."""
    reader = csv.reader(io.StringIO(dec.text()), delimiter=sep)
    header: list[str] = []
    cells: list[list[str | None]] = []
    numbers: list[int] = []
    notes: list[str | None] = []
    where: list[str | None] = []
    last = 0
    for record in reader:
        first, last = last + 1, reader.line_num
        if first <= header_idx:
            continue
        if not header:
            header = record
            continue
        if len(record) > len(header):
            raise DataError("cannot read as CSV: "
                            + _too_many_fields(first + line_offset, len(record),
                                               len(header)),
                            location=location)
        bad = [dec.bad[n] for n in range(first, last + 1) if n in dec.bad]
        values: list[str | None] = [v if v != "" else None for v in record]
        values += [None] * (len(header) - len(values))
        cells.append(values)
        numbers.append(first + line_offset)
        notes.append(bad[0] if bad else None)
        where.append(next((header[i] for i, v in enumerate(values) if v and not v.isascii()),
                          header[0] if header else None) if bad else None)
    names = _unique(header)
    frame = pl.DataFrame([pl.Series(n, [r[i] for r in cells], dtype=pl.String)
                          for i, n in enumerate(names)])
    return frame.with_columns(pl.Series(ROW, numbers, dtype=pl.Int64),
                              pl.Series(BAD_ENCODING_NOTE, notes, dtype=pl.String),
                              pl.Series(BAD_COLUMN, where, dtype=pl.String))


def _unique(header: list[str]) -> list[str]:
    """Column names for a header whose harmless repeats get a suffix (polars does the same)."""
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(header):
        h = h or f"column_{i + 1}"
        seen[h] = seen.get(h, 0) + 1
        out.append(h if seen[h] == 1 else f"{h}_duplicated_{seen[h] - 2}")
    return out


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
    check_headers(header, known_headers, location)
    seen: dict[str, int] = {}
    unique = []
    for h in header:  # harmless repeats (two 备注 columns) must not clash
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
