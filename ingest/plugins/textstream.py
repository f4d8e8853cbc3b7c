"""A large CSV file in an encoding other than UTF-8 (GB18030 …) read in pieces of about
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

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from core.errors import DataError
from ingest.contract import BAD_ENCODING_NOTE, ROW
from ingest.plugins.textfile import (
    ASCII_COMPATIBLE,
    HEAD_BYTES,
    HEADER_SCAN_ROWS,
    decode,
    find_header,
    read_csv,
    record_pieces,
    sniff_delimiter,
)

STREAM_MIN_BYTES = 32 * 2**20  # smaller files are read whole, the file deciding as one
MIN_BLOCK = 64 * 1024


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
        head = f.read(HEAD_BYTES)
        per_line = max(len(head) / max(head.count(b"\n"), 1), 16)
        block = max(int(per_line * chunk_rows), MIN_BLOCK)
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
                head_lines = dec.head(HEADER_SCAN_ROWS)
                sep = sep or sniff_delimiter([ln for ln in head_lines if ln.strip()] or [""])
                rows = list(csv.reader(io.StringIO("\n".join(head_lines)), delimiter=sep))
                idx = find_header(rows, known_headers)
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
    try:
        df, _ = read_csv(header + b"\n" + piece, location=location,
                         known_headers=known_headers, encoding=encoding, delimiter=sep)
    except DataError as e:  # the line it names is the file's, not the piece's
        message = str(e).removeprefix(f"{location}: ")
        fixed = re.sub(r"(?<!header on )\bline (\d+)",
                       lambda m: f"line {int(m[1]) + lines_before}", message, count=1)
        if fixed == message or type(e).__init__ is not DataError.__init__:
            raise
        raise type(e)(fixed, location=location) from None
    # the header line put in front is not the file's: lines counted from the piece
    return _renumbered(df, lines_before)


def _renumbered(df: pl.DataFrame, by: int) -> pl.DataFrame:
    """A later piece's row numbers, and the line its quarantine notes name, as the file's."""
    df = df.with_columns(pl.col(ROW) + by)
    if BAD_ENCODING_NOTE not in df.columns:
        return df
    note = pl.col(BAD_ENCODING_NOTE)
    line = note.str.extract(r"^line (\d+)", 1).cast(pl.Int64) + by
    return df.with_columns(pl.when(line.is_not_null()).then(
        pl.lit("line ") + line.cast(pl.String) + note.str.replace(r"^line \d+", ""))
        .otherwise(note).alias(BAD_ENCODING_NOTE))
