"""The fast way through :func:`ingest.plugins.textfile.decode` for text in a known encoding
other than UTF-8 (a configured GB18030, or the later pieces of a large GB18030 export, whose
first piece decided the encoding): the careful per-line check's answer without its work.

The careful check decodes the text as UTF-8 with replacement (slow on GB18030 bytes: nearly
every character is an error to replace), splits it into lines and looks at each. When the text
decodes in its encoding in one go and no line of it is UTF-8 holding Chinese (which GB18030
would decode without an error, as mojibake), the check finds nothing to mark and its answer is
the text decoded in one go; :func:`fast_decode` gives that answer, and ``None`` (take the
careful path) in every other case. The messages naming a line's bad bytes live here too.
"""

from __future__ import annotations

from collections.abc import Callable

# A UTF-8 character in U+3400..U+9FFF (the CJK the per-line check looks for) is three bytes:
# a lead byte E3..E9 and two continuation bytes 80..BF. Mapped to 1 and 2 (ASCII to 0, any
# other byte from C0 up to 3), the candidates are the places of b"\x01\x02\x02".
_CLASS = bytes(0 if b < 0x80 else 1 if 0xE3 <= b <= 0xE9 else 2 if b <= 0xBF else 3
               for b in range(256))
_CANDIDATE = b"\x01\x02\x02"


def utf8_cjk_line(data: bytes, cjk: Callable[[str], bool]) -> bool:
    """Whether a line of ``data`` (split at b"\\n") is valid UTF-8, holds no U+FFFD and holds
    a character ``cjk`` accepts: exactly the lines the per-line check calls UTF-8 rows. Only
    lines with a candidate three-byte sequence are decoded (a line without one holds no UTF-8
    CJK character); a line is passed over at once where the bytes around the candidate are not
    UTF-8 (a continuation byte after it, a lead byte or one from C0 up before it)."""
    classes = data.translate(_CLASS)
    size = len(data)
    pos = 0
    while (at := classes.find(_CANDIDATE, pos)) >= 0:
        end = data.find(b"\n", at)
        end = size if end < 0 else end
        pos = end + 1
        if (at + 3 < size and classes[at + 3] == 2) or (at and classes[at - 1] in (1, 3)):
            continue  # not UTF-8 right here: the line is not
        try:
            line = data[data.rfind(b"\n", 0, at) + 1:end].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if "\ufffd" not in line and cjk(line):
            return True
    return False


def fast_decode(data: bytes, file_enc: str, gb_family: bool,
                cjk: Callable[[str], bool]) -> str | None:
    """``data`` decoded in ``file_enc`` (an ASCII-compatible encoding other than UTF-8) when
    the per-line check would find no line to mark, else ``None``."""
    try:
        text = data.decode(file_enc)
    except UnicodeDecodeError:  # some lines are not in it: the careful path says which
        return None
    if gb_family and utf8_cjk_line(data, cjk):  # a mixed file: the careful path marks them
        return None
    return text


def bad_line(line: bytes, number: int, what: str) -> str:
    for enc in ("utf-8", "gb18030"):
        try:
            line.decode(enc)
        except UnicodeDecodeError as e:
            start = e.start
            break
    else:  # pragma: no cover - only called for lines that fail
        start = 0
    snippet = line[start:start + 4].hex(" ")
    return (f"line {number}, byte {start + 1}: the bytes ({snippet}) are not valid {what}; "
            "save the file as UTF-8 or GB18030")


def bad_bytes(data: bytes, e: UnicodeDecodeError, what: str) -> str:
    line = data.count(b"\n", 0, e.start) + 1
    col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
    snippet = data[e.start:e.start + 4].hex(" ")
    return (f"line {line}, byte {col}: the bytes ({snippet}) are not valid {what}; "
            "save the file as UTF-8 or GB18030")
