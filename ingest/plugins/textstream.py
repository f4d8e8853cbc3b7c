"""Large CSV files read in pieces, so memory follows the piece, not the file.

A UTF-8 file (:func:`scan` checks it while hashing it) is read by :func:`stream_csv`. A large
file in another encoding (GB18030 …) is read by :func:`stream_encoded` in pieces of about
``chunk_rows`` rows, each checked line by line as :func:`ingest.plugins.textfile.read_csv`
checks a whole file (lines not in the file's encoding, UTF-8 lines inside a GB18030 file:
marked for the quarantine). A 12345 export of a city's year is ~1.7 GB: read whole, its bytes,
its lines and its text decoded twice would take ~14 GB of memory.

Pieces end at a record's end: in GB18030 (and the other ASCII-compatible encodings) a newline
or a quote byte never occurs inside a character, so cutting the bytes there is safe. The first
piece decides the file's encoding (unless configured) and where its header is; later pieces
are read with the header line put in front of them and the same encoding. Row numbers are the
file's lines.
"""

from __future__ import annotations

import codecs
import hashlib
import io
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import BinaryIO

import polars as pl

from ingest.contract import ORIGIN, ROW
from ingest.plugins.textfile import (
    ASCII_COMPATIBLE,
    HEADER_SCAN_ROWS,
    UTF8_BOM,
    check_headers,
    csv_error,
    decode,
    locate_header,
    read_csv,
)

STREAM_MIN_BYTES = 32 * 2**20  # smaller files are read whole, the file deciding as one
MIN_BLOCK = 64 * 1024


# -- streaming: a large UTF-8 file in pieces of about ``chunk_rows`` rows ----------------------

HEAD_BYTES = 256 * 1024


def scan(path: Path, block: int = 8 * 2**20) -> tuple[str, bool]:
    """Stream a file once: its SHA-256 and whether it is UTF-8 throughout (after a UTF-8 BOM),
    without holding it whole."""
    digest = hashlib.sha256()
    check = codecs.getincrementaldecoder("utf-8")("strict")
    utf8 = True
    first = True
    with open(path, "rb") as f:
        while data := f.read(block):
            digest.update(data)
            if first and data.startswith((b"\xff\xfe", b"\xfe\xff")):
                utf8 = False  # UTF-16: decoded whole, the careful way
            if utf8:
                try:
                    check.decode(data[len(UTF8_BOM):] if first and data.startswith(UTF8_BOM)
                                 else data)
                except UnicodeDecodeError:
                    utf8 = False
            first = False
    if utf8:
        try:
            check.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return digest.hexdigest(), utf8


def _record_end(buf: bytes) -> int | None:
    """Where the last complete CSV record in ``buf`` ends: after a newline with an even
    number of quote characters before it (a newline inside quotes belongs to a field)."""
    if b'"' not in buf:  # no quotes (a memchr, not a count of the piece): any newline ends one
        nl = buf.rfind(b"\n")
        return nl + 1 if nl >= 0 else None
    pos = len(buf)
    for _ in range(1000):
        nl = buf.rfind(b"\n", 0, pos)
        if nl < 0:
            return None
        if buf.count(b'"', 0, nl) % 2 == 0:
            return nl + 1
        pos = nl
    return None


def stream_csv(path: Path, *, location: str, known_headers: set[str],
               delimiter: str | None = None, chunk_rows: int = 250_000
               ) -> Generator[pl.DataFrame, None, None]:
    """Read a UTF-8 CSV file (checked by :func:`scan`) in frames of about ``chunk_rows`` rows,
    each like :func:`read_csv`'s: strings, ``_row`` as a person counts rows in the file,
    ``_origin``, blank rows dropped. Memory follows the chunk, not the file."""
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
        bom = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
        head = head[bom:]
        if not head.strip():
            yield pl.DataFrame({ROW: pl.Series([], dtype=pl.Int64)})
            return
        head_lines = head.decode("utf-8", errors="ignore").splitlines()[:HEADER_SCAN_ROWS]
        sep, rows, header_idx = locate_header(head_lines, delimiter, known_headers)
        if header_idx < len(rows):
            check_headers(rows[header_idx], known_headers, location)
        block = _block(head, chunk_rows)
        f.seek(bom)
        columns: list[str] | None = None
        row_no = header_idx + 2
        start = bom  # where the piece starts in the file
        for piece in record_pieces(f, block):
            # not piece.strip(): that copies the piece (~25 MB) to learn it is not blank
            if (piece and not piece.isspace()) or columns is None:
                try:
                    df = _parse_piece(piece, columns, header_idx, sep)
                except pl.exceptions.PolarsError as e:
                    raise csv_error(e, piece.decode("utf-8"), sep, header_idx, location,
                                    _lines_before(path, start),
                                    len(columns) if columns else None) from None
                if columns is None:
                    columns = df.columns
                df = df.with_row_index(ROW, offset=row_no).with_columns(
                    pl.col(ROW).cast(pl.Int64), pl.lit(location).alias(ORIGIN))
                row_no += df.height
                data_cols = [c for c in df.columns if c not in (ROW, ORIGIN)]
                if data_cols and df.height:  # blank lines are layout, not data
                    df = df.filter(~pl.all_horizontal(pl.col(data_cols).is_null()))
                yield df
            start += len(piece)


def _block(head: bytes, chunk_rows: int) -> int:
    """Bytes per piece for about ``chunk_rows`` rows, from the line lengths of a file's head."""
    per_line = max(len(head) / max(head.count(b"\n"), 1), 16)
    return max(int(per_line * chunk_rows), MIN_BLOCK)


def _lines_before(path: Path, end: int, block: int = 8 * 2**20) -> int:
    """The lines of ``path`` before byte ``end``: counted only when an error names a line
    (counting every piece's newlines as it streams by costs seconds on a city's file)."""
    lines = 0
    with open(path, "rb") as f:
        while end > 0 and (data := f.read(min(block, end))):
            lines += data.count(b"\n")
            end -= len(data)
    return lines


def record_pieces(f: BinaryIO, block: int) -> Iterator[bytes]:
    """The rest of ``f`` in pieces of about ``block`` bytes, each ending at a record's end
    (a record longer than the block is read on); the last is what remains, maybe empty.
    The unfinished record after a piece's end is read again with the next block (a seek
    back), not carried over: joining it to the next block copied every piece once more."""
    carry = b""  # a record longer than the block, read so far
    while True:
        data = f.read(block)
        if not data:
            yield carry
            return
        buf = carry + data if carry else data
        cut = _record_end(buf)
        if cut is None:
            carry = buf
            continue  # a record longer than the block: read on
        carry = b""
        if cut < len(buf):
            f.seek(cut - len(buf), io.SEEK_CUR)
            buf = buf[:cut]
        yield buf


def _parse_piece(piece: bytes, columns: list[str] | None, header_idx: int,
                 sep: str) -> pl.DataFrame:
    """A piece's strings: the first with its header, the rest under the first's columns."""
    if columns is None:
        return pl.read_csv(piece, has_header=True, skip_rows=header_idx,
                           infer_schema=False, separator=sep,
                           truncate_ragged_lines=False, raise_if_empty=False)
    return pl.read_csv(piece, has_header=False, new_columns=columns,
                       schema_overrides=dict.fromkeys(columns, pl.String),
                       infer_schema=False, separator=sep, truncate_ragged_lines=False,
                       raise_if_empty=False)


# -- a large file in another encoding (GB18030 …) ------------------------------------------


def streamable(path: Path, encoding: str | None = None) -> bool:
    """Whether a file not in UTF-8 is read in pieces: large, and no UTF-16 (BOM or
    configured: UTF-16 has no byte lines)."""
    if path.stat().st_size < STREAM_MIN_BYTES or (
            encoding and encoding.lower().replace("_", "-") not in ASCII_COMPATIBLE):
        return False
    with open(path, "rb") as f:
        return f.read(2) not in (b"\xff\xfe", b"\xfe\xff")


def stream_encoded(path: Path, *, location: str, known_headers: set[str],
                   encoding: str | None, delimiter: str | None = None,
                   chunk_rows: int = 250_000) -> Iterator[tuple[pl.DataFrame, str]]:
    """(frame, encoding) of each piece, frames like :func:`read_csv`'s."""
    with open(path, "rb") as f:
        block = _block(f.read(HEAD_BYTES), chunk_rows)
        f.seek(0)
        header: bytes | None = None
        enc: str | None = encoding
        sep = delimiter
        read_as = ""  # the file's encoding, as the first piece decided it
        lines_before = 0  # the file's lines before the piece
        for piece in record_pieces(f, block):
            if header is None:
                # where the header is, from the head (read_csv decides the encoding)
                top = piece[:HEAD_BYTES]
                dec = decode(top[:top.rfind(b"\n") + 1] or top, location, enc)
                sep, _, idx = locate_header(dec.head(HEADER_SCAN_ROWS), sep, known_headers)
                lines = piece.split(b"\n", idx + 1)
                header = lines[idx] if idx < len(lines) else b""
                df, read_as = read_csv(piece, location=location,
                                       known_headers=known_headers, encoding=encoding,
                                       delimiter=sep)
                if read_as.lower() not in ASCII_COMPATIBLE:  # streamable() keeps these out
                    raise ValueError(f"{read_as}: not read in pieces")
                enc = read_as
                yield df, read_as
            elif piece.strip():
                yield later_piece(header, piece, location, known_headers, enc, sep,
                                  lines_before - 1), read_as
            lines_before += piece.count(b"\n")


def later_piece(header: bytes, piece: bytes, location: str, known_headers: set[str],
                encoding: str | None, sep: str | None, lines_before: int) -> pl.DataFrame:
    """A piece after the first, read with the file's header line put in front of it and the
    encoding the first piece decided; rows, and the line an error names, numbered as the
    file's lines."""
    # line n of what is read is the file's line n + lines_before (line 1: the header in front)
    df, _ = read_csv(header + b"\n" + piece, location=location, known_headers=known_headers,
                     encoding=encoding, delimiter=sep, line_offset=lines_before)
    return df
