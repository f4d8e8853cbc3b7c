"""Repository-wide hardening rules, checked on the source text."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dashboard", "metrics", "ingest", "warehouse", "gongzhi")


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]


def test_no_unsafe_html_anywhere() -> None:
    """Data must never reach HTML unescaped: no unsafe_allow_html=True (or unsafe html
    components) in product code."""
    bad = []
    for p in _sources():
        text = p.read_text(encoding="utf-8")
        for i, line in enumerate(text.splitlines(), 1):
            if re.search(r"unsafe_allow_html\s*=\s*True|st\.html\(|components\.html\(", line):
                bad.append(f"{p.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not bad, "unsafe HTML in product code:\n" + "\n".join(bad)


def test_no_sql_built_from_strings_in_product_code() -> None:
    """SQL goes through SQLAlchemy Core with bound parameters; f-strings into execute() are
    refused (the few DDL statements with fixed identifiers are listed here by file)."""
    allowed = {"warehouse/audit.py", "warehouse/locks.py", "warehouse/bulk.py"}
    bad = []
    for p in _sources():
        rel = p.relative_to(ROOT).as_posix()
        if rel in allowed:
            continue
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"execute\((text\()?f[\"']|\.format\(.*\)\s*\)\s*$", line) and \
                    "execute" in line:
                bad.append(f"{rel}:{i}: {line.strip()}")
    assert not bad, "SQL built from strings:\n" + "\n".join(bad)


def test_xml_is_parsed_with_defusedxml_only() -> None:
    bad = [str(p.relative_to(ROOT)) for p in _sources()
           if re.search(r"^\s*(import|from)\s+(xml\.|lxml)", p.read_text(encoding="utf-8"),
                        re.M)]
    assert not bad, f"XML parsed without defusedxml in {bad}"
