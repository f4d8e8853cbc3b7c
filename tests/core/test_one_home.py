"""Each domain fact has one home in core/: the time zone offset, the division hierarchy and
the role → level map are not written again elsewhere in the product code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("core", "warehouse", "ingest", "metrics", "bulletin", "dashboard", "gongzhi")

# fact → (its home, patterns that restate it)
RULES: dict[str, tuple[str, list[str]]] = {
    "the UTC+8 offset / the local zone": ("core/timezone.py", [
        r"hours\s*=\s*8\b", r"'\+?8 hours'", r"ZoneInfo\(\s*[\"']Asia/Shanghai[\"']\s*\)",
        r"^\s*LOCAL_TZ\s*=\s*[\"']Asia/Shanghai"]),
    "the division levels and code lengths": ("core/divisions.py", [
        r"\b_DEPTH\s*=", r"\"district\":\s*6\b", r"^\s*LEVELS\s*=\s*\(\s*\"district\"",
        r"\.area\[:\d+\]", r"code\[:(6|9|12)\]"]),
    "the role → level map": ("core/roles.py", [r"\"leader\":\s*\"district\""]),
}


def test_domain_facts_are_written_in_their_home_only() -> None:
    bad = []
    for pkg in PRODUCT:
        for p in (ROOT / pkg).rglob("*.py"):
            rel = p.relative_to(ROOT).as_posix()
            if rel.startswith("gongzhi/demo/"):  # the demo writes data, it defines no rules
                continue
            lines = p.read_text(encoding="utf-8").splitlines()
            for fact, (home, patterns) in RULES.items():
                if rel == home:
                    continue
                for i, line in enumerate(lines, 1):
                    if any(re.search(pat, line) for pat in patterns):
                        bad.append(f"{rel}:{i}: {fact} belongs in {home}: {line.strip()}")
    assert not bad, "\n".join(bad)


def test_the_rules_catch_a_restatement() -> None:
    """The patterns above match the shapes they were written against."""
    samples = ['_DEPTH = {"district": 6, "street": 9}', "t + pl.duration(hours=8)",
               'LOCAL = ZoneInfo("Asia/Shanghai")', 'ROLE_LEVEL = {"leader": "district"}',
               'street = viewer.area[:9] + "000"']
    for s in samples:
        assert any(re.search(p, s) for _, pats in RULES.values() for p in pats), s
