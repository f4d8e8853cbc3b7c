"""The fast way through ``decode`` for a known encoding other than UTF-8
(ingest/plugins/textfast.py): its answer is the careful per-line check's, on text that is all
GB18030, text with a UTF-8 row or undecodable bytes late in it, and the other encodings."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from core.errors import EncodingError
from ingest.contract import BAD_ENCODING_NOTE, ROW
from ingest.plugins import textfast, textstream
from ingest.plugins.textfile import _checked, _cjk, decode, read_csv

HEAD = "工单编号,所属社区编码,诉求类别,诉求内容\n"


def _gb(n: int = 300) -> bytes:
    rows = [f"GD{i:06d},420606001001,物业管理,市民反映：电梯故障，希望尽快处理。\n"
            for i in range(n)]
    return (HEAD + "".join(rows)).encode("gb18030")


def _same(data: bytes, encoding: str) -> None:
    """decode() with the fast way gives what the careful check alone gives."""
    want = _checked(data, encoding, "x")
    got = decode(data, "x", encoding)
    assert (got.encoding, got.bad, got.text()) == (want.encoding, want.bad, want.text())


# a UTF-8 row that GB18030 decodes without an error (as mojibake), and one it cannot decode
UTF8_ROW = "GD900001,420606001002,物业管理,电梯故障\n".encode()
UTF8_ROW_2 = "GD900004,420606001002,噪音扰民,楼下广场舞噪音很大\n".encode()
BAD_ROW = b"GD900002,420606001002,\xff\xfe\x80,x\n"


@pytest.mark.parametrize("late", [b"", UTF8_ROW, UTF8_ROW_2, BAD_ROW, UTF8_ROW + BAD_ROW,
                                  "GD900003,x,\ufffd中文\n".encode(),  # U+FFFD: not a UTF-8 row
                                  UTF8_ROW.rstrip(b"\n")])  # the last line, no newline
def test_the_fast_way_answers_as_the_careful_check(late: bytes) -> None:
    _same(_gb() + late + _gb(5)[len(HEAD.encode("gb18030")):], "gb18030")


def test_a_utf8_row_late_in_gb18030_text_is_found_and_marked() -> None:
    data = _gb() + UTF8_ROW
    data.decode("gb18030")  # no error: only the per-line check tells it is UTF-8
    assert textfast.utf8_cjk_line(data, _cjk)
    assert textfast.fast_decode(data, "gb18030", True, _cjk) is None  # the careful way
    assert not textfast.utf8_cjk_line(_gb(), _cjk)
    dec = decode(data, "x", "gb18030")
    assert list(dec.bad) == [302] and "UTF-8 inside a GB18030 file" in dec.bad[302]


def test_a_bad_byte_late_is_marked_with_its_line() -> None:
    dec = decode(_gb() + BAD_ROW, "x", "gb18030")
    assert list(dec.bad) == [302] and "byte 23" in dec.bad[302]


def test_other_encodings_and_a_bad_header() -> None:
    latin = "id,name\n1,Müller\n2,Zoë\n".encode("latin-1")
    _same(latin, "latin-1")
    big5 = "編號,名稱\n1,台北\n".encode("big5")
    _same(big5, "big5")
    with pytest.raises(EncodingError):
        decode(b"\xff\xfe\x80id,x\n" + _gb()[len(HEAD.encode("gb18030")):], "x", "gb18030")


def test_only_lines_with_a_utf8_cjk_sequence_are_candidates() -> None:
    # valid UTF-8 without CJK (accents) is no UTF-8 row: GB18030 reads it as mojibake, but
    # the careful check does not mark it either
    data = _gb() + "GD1,x,café\n".encode()
    assert not textfast.utf8_cjk_line(data, _cjk)
    _same(data, "gb18030")


@pytest.mark.parametrize("line", ["中文", "a中", "中a", "x，中文。", "ä中文", "中𠀀"])
def test_utf8_rows_anywhere_are_found_whatever_stands_around_their_chinese(line: str) -> None:
    for data in (line.encode(), _gb(3) + line.encode() + b"\n" + _gb(2)):
        assert textfast.utf8_cjk_line(data, _cjk)


def test_a_large_file_marks_a_late_utf8_row_gb18030_decodes(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """Read in pieces, the pieces after the first take the fast way; the one holding a UTF-8
    row that GB18030 decodes (as mojibake) is checked line by line: the row is marked with
    its line in the file, as the whole-file read marks it."""
    monkeypatch.setattr(textstream, "MIN_BLOCK", 1024)
    data = "12345工单明细\n".encode("gb18030") + _gb(400) + UTF8_ROW + _gb(30)[len(
        HEAD.encode("gb18030")):]
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    known = {"工单编号", "所属社区编码", "诉求类别", "诉求内容"}
    whole, enc = read_csv(data, location="x", known_headers=known, encoding=None)
    pieces = [f for f, _ in textstream.stream_encoded(path, location="x", known_headers=known,
                                                      encoding=None, chunk_rows=40)]
    assert len(pieces) > 5 and enc == "gb18030"
    got = pl.concat(pieces, how="diagonal_relaxed").select(whole.columns)
    assert got.equals(whole)
    marked = got.filter(pl.col(BAD_ENCODING_NOTE).is_not_null())
    assert marked[ROW].to_list() == [403]
