"""Large files in GB18030 read in pieces (ingest/plugins/textstream.py): the rows, their line
numbers and the lines marked for the quarantine are the ones the whole-file read gives; the
files plugin takes that path for a large file and never reads it whole."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ingest.contract import ROW, SourceContext
from ingest.plugins import files as files_plugin
from ingest.plugins import textstream
from ingest.plugins.textfile import read_csv
from ingest.registry import build_source, load_validated
from tests.conftest import write_config
from tests.ingest.plugins.test_files import COLUMNS_ZH, HEADER_ZH, cases_source

KNOWN = set(COLUMNS_ZH) | set(COLUMNS_ZH.values())


def _gb_file(path: Path, n: int = 400) -> bytes:
    """A title line, the header, ``n`` rows in GB18030; one row written in UTF-8 (a mixed
    file) and one with bytes neither encoding reads, both far from the start."""
    lines = ["樊城区政务服务办件明细表", HEADER_ZH]
    lines += [f"BJ{i:05d},I01,420606001001,网上办,2023-08-14 09:30,,已受理,{i % 3},满意,"
              for i in range(n)]
    data = "\n".join(lines).encode("gb18030") + b"\n"
    data += "BJ90001,I02,420606001002,窗口,2023-08-15 10:00,,已受理,0,满意,\n".encode()
    data += b"BJ90002,I02,420606001002,\xff\xfe\x80,2023-08-15 10:00,,x,0,,\n"
    data += "BJ90003,I02,420606001002,窗口,2023-08-16 10:00,,已受理,1,满意,\n".encode(
        "gb18030")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def test_pieces_read_as_the_whole_file(tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textstream, "MIN_BLOCK", 1024)
    path = tmp_path / "inbox" / "big.csv"
    data = _gb_file(path)
    whole, enc = read_csv(data, location="x", known_headers=KNOWN, encoding=None)
    pairs = list(textstream.stream_encoded(path, location="x", known_headers=KNOWN,
                                           encoding=None, chunk_rows=50))
    assert len(pairs) > 5 and {e for _, e in pairs} == {enc} == {"gb18030"}
    pieces = pl.concat([f for f, _ in pairs], how="diagonal_relaxed")
    assert pieces.select(whole.columns).equals(whole)
    marked = pieces.filter(pl.col("_bad_encoding").is_not_null())
    assert marked[ROW].to_list() == [403, 404]  # the file's lines, past the first piece


def test_the_files_plugin_streams_a_large_file(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "inbox" / "big.csv"
    _gb_file(path, n=2000)
    monkeypatch.setattr(textstream, "STREAM_MIN_BYTES", 1024)
    monkeypatch.setattr(textstream, "MIN_BLOCK", 1024)
    monkeypatch.setattr(files_plugin, "read_csv", None)  # never the whole-file read
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", [cases_source(tmp_path)])
    spec = load_validated(cfg).sources[0]
    ctx = SourceContext(progress=lambda w, n: None, warn=print, warehouse_url=None,
                        no_input=print, chunk_rows=300)
    batches = list(build_source(spec, ctx).extract(None))
    assert len(batches) > 5 and sum(b.frame.height for b in batches) == 2003
    assert batches[-1].cursor is not None and batches[0].cursor is None


def test_an_error_in_a_later_piece_names_the_file_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A line with more fields than the header, far into the file: the line the error names
    is the file's (not the piece's, whose first line is the header put in front of it)."""
    from core.errors import DataError

    monkeypatch.setattr(textstream, "MIN_BLOCK", 1024)
    path = tmp_path / "big.csv"
    data = _gb_file(path, n=1500)
    lines = data.split(b"\n")
    bad_at = 1201  # the file's line (1-based), many pieces in
    lines[bad_at - 1] += b",extra,fields,here"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError) as e:
        list(textstream.stream_encoded(path, location="x", known_headers=KNOWN, encoding=None,
                                       chunk_rows=50))
    assert e.value.location == "x"
    assert str(e.value) == f"x: cannot read as CSV: line {bad_at} has 13 fields, the header 10"


def test_a_whole_file_with_a_ragged_line_names_it(tmp_path: Path) -> None:
    """polars refuses a line with more fields than the header without saying which: the
    error names it, as the careful path does."""
    from core.errors import DataError

    lines = _gb_file(tmp_path / "f.csv", n=30).split(b"\n")
    lines[19] += b",1,2"
    with pytest.raises(DataError, match=r"^x: cannot read as CSV: line 20 has 12 fields, "
                                        r"the header 10$"):
        read_csv(b"\n".join(lines), location="x", known_headers=KNOWN, encoding=None)


def test_a_ragged_line_in_a_later_piece_of_a_utf8_file_names_the_file_line(
        tmp_path: Path) -> None:
    """The UTF-8 path reads pieces without their header: a line with more fields than the
    header, many pieces in, is named by the file's line, counted from the file itself."""
    from core.errors import DataError

    lines = _gb_file(tmp_path / "f.csv", n=5000).decode("gb18030", errors="ignore").split("\n")
    lines = [ln for ln in lines if "BJ9000" not in ln]  # UTF-8 throughout, every line readable
    bad_at = 4001
    lines[bad_at - 1] += ",a,b"
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert textstream.scan(path)[1]
    frames = textstream.stream_csv(path, location="x", known_headers=KNOWN, chunk_rows=50)
    with pytest.raises(DataError) as e:
        list(frames)
    assert str(e.value) == f"x: cannot read as CSV: line {bad_at} has 12 fields, the header 10"
    # pieces are at least 64 KB: the line is pieces in, where a piece's own count would be less
    assert len("\n".join(lines[:bad_at]).encode()) > 3 * 64 * 1024
