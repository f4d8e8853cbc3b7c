"""The byte scans that let casts skip a pass: never "no" where a value needs the pass, and the
casts built on them give what the exact per-value passes give."""

from __future__ import annotations

import random
import re

import polars as pl
import pytest

from ingest.normalize import text as textrules
from ingest.normalize import utf8scan
from ingest.normalize import values as v

# characters the scans look for, and ones that share bytes with them (CJK text, full-width
# forms, Latin-1 letters) but are none of them
ALPHABET = (["a", "Z", "0", "-", " ", "\t", "\n", "\r", "\x00", "\x01", "\x1f", "\x7f",
             "\u3000", "\ufeff", "\xa0", "\xe9", "\u00c2", "中", "文", "。", "、", "，",
             "（", "２", "Ａ", "ｚ", "\uff5f", "\uffe5", "\u3001", "\U0001f600"])


def _values(rng: random.Random, n: int) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        if rng.random() < 0.1:
            out.append(None)
        else:
            out.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 4))))
    return out


def _padded(x: str) -> bool:
    return x != x.strip(v._WS)


@pytest.mark.parametrize("seed", range(200))
def test_scans_never_miss_what_the_exact_test_finds(seed: int) -> None:
    rng = random.Random(seed)
    values = _values(rng, rng.randint(0, 6))
    s = pl.Series("c", values, dtype=pl.String)
    present = [x for x in values if x is not None]
    # an exact answer, character by character (the scans may only err towards "maybe")
    if any(_padded(x) for x in present):
        assert utf8scan.maybe_padded(s)
    if any(re.search(r"[\uff01-\uff5e\u3000]", x) for x in present):
        assert utf8scan.maybe_fullwidth(s)
    if any(re.search(textrules.CONTROL, x) for x in present):
        assert utf8scan.maybe_control(s)
    # a slice shares its parent's buffers: the scan reads only its own values' bytes or errs
    # towards "maybe"
    part = s.slice(1, 2)
    kept = [x for x in values[1:3] if x is not None]
    if any(_padded(x) for x in kept):
        assert utf8scan.maybe_padded(part)


@pytest.mark.parametrize("seed", range(100))
def test_casts_match_the_per_value_definitions(seed: int) -> None:
    rng = random.Random(1000 + seed)
    values = _values(rng, 50)
    s = pl.Series("c", values, dtype=pl.String)
    cleaned = v.clean_strings(s)
    expected = [None if x is None or x.strip(v._WS) == "" else x.strip(v._WS) for x in values]
    assert cleaned.to_list() == expected
    table = str.maketrans(v.HALFWIDTH)
    assert v.halfwidth(cleaned).to_list() == [
        None if x is None else x.translate(table) for x in expected]
    assert textrules.bad_text(cleaned).to_list() == [
        x is not None and re.search(textrules.CONTROL, x) is not None for x in expected]


def test_clean_columns_are_seen_as_clean() -> None:
    """What the shortcut is for: plain codes and times need no strip, fold or regex."""
    s = pl.Series(["FC2022010100000000", "420606-29-0010", "2022-01-01 00:01:00", None])
    assert not utf8scan.maybe_padded(s)
    assert not utf8scan.maybe_fullwidth(s)
    assert not utf8scan.maybe_control(s)
    assert not utf8scan.maybe_padded(pl.Series([None, None], dtype=pl.String))
    assert utf8scan.maybe_padded(pl.Series([1, 2]))  # not text: the exact pass decides
    # text above ASCII (its bytes ≥ 0x80) with no byte below space: no control character, and
    # DEL alone among such bytes is still seen
    assert not utf8scan.maybe_control(pl.Series(["中文", "办结 完成", "é"]))
    assert utf8scan.maybe_control(pl.Series(["中文", "a\x7fb"]))
    assert utf8scan.maybe_control(pl.Series(["ok", "a\x01"]))
    assert not utf8scan.maybe_control(pl.Series(["a\tb", "c\r\nd"]))
    # trailing empty values: their start is past the last byte (clamped, not an error)
    assert not utf8scan.maybe_padded(pl.Series(["ab", "", ""]))
    assert utf8scan.maybe_padded(pl.Series(["", "ab "]))


def test_number_words_fill_only_what_reads_as_no_number() -> None:
    words = {"满意": 3, "不满意": 1}
    got = v.parse_number(v.clean_strings(pl.Series(["2", " 满意", None, "不满意", "x", "3.0"])),
                         integer=True, words=words)
    assert got.to_list() == [2, 3, None, 1, None, 3]
    assert v.parse_number(pl.Series(["1", None]), integer=True, words=words).to_list() == [1, None]


def test_code_columns_whose_codes_fit_skip_the_text_checks() -> None:
    """An enum column's cast values are its declared codes: when none holds a control
    character or exceeds the column's length, no chunk needs the byte scan."""
    from sqlalchemy import Column, String

    from warehouse.schema import service_cases

    assert textrules.codes_fit(service_cases.c.channel)
    assert textrules.codes_fit(service_cases.c.status)
    assert not textrules.codes_fit(service_cases.c.case_id)  # not codes: every value checked
    ok = Column("k", String(4), info={"enum": ("ab", "cd")})
    assert textrules.codes_fit(ok)
    assert not textrules.codes_fit(Column("k", String(1), info={"enum": ("ab",)}))  # too long
    assert not textrules.codes_fit(Column("k", String(4), info={"enum": ("a\x01",)}))
    assert textrules.codes_fit(Column("k", String, info={"enum": ("any length",)}))
