"""Each enum column's words live with the column (one home): every shipped enum column's
synonyms name its own codes (a word for a code the column lacks would be dropped silently), and
a column reads only its own words, not those of another column with the same name."""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import Column

import warehouse.tables  # noqa: F401 - registers the tables declared there
from ingest.normalize import values, vocab
from warehouse.schema import app_metadata, metadata


def enum_columns() -> list[tuple[str, Column[Any]]]:
    return [(f"{t.name}.{c.name}", c) for md in (metadata, app_metadata)
            for t in md.tables.values() for c in t.columns if "enum" in c.info]


def test_every_synonym_names_a_code_of_its_own_column() -> None:
    cols = enum_columns()
    assert len(cols) >= 10  # the shipped layer has its enum columns (guards a broken lookup)
    wrong = [f"{name}: {word!r} → {code!r}" for name, c in cols
             for word, code in c.info.get("synonyms", {}).items()
             if code not in c.info["enum"]]
    assert wrong == []


def test_a_column_reads_its_own_words_only() -> None:
    by_name = dict(enum_columns())
    cases, hotline = by_name["service_cases.channel"], by_name["hotline_requests.channel"]
    words = pl.Series(["网上办理", "微信", "一网通办", "电话"])

    def read(col: Column[Any]) -> list[str | None]:
        info = col.info
        return values.parse_enum(words, info["enum"], info.get("synonyms", {})).to_list()

    # each column's expectation comes from its own declaration, looked up word by word
    for col in (cases, hotline):
        syn = col.info["synonyms"]
        assert read(col) == [syn.get(w) for w in words]
    assert read(cases)[0] == "online" and read(hotline)[0] is None  # 网上办理 is a case word
    assert not hasattr(vocab, "ENUMS")  # no shared per-name vocabulary to fall back on
