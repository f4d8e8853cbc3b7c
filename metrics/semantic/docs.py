"""The generated tables of docs/architecture.md (``python -m metrics.semantic`` writes them;
tests/metrics/test_semantic.py fails when they are stale)."""

from __future__ import annotations

from pathlib import Path

from metrics.semantic.model import Derived, Layer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
DOCS_BEGIN = "<!-- semantic-tables:begin (python -m metrics.semantic writes this) -->"
DOCS_END = "<!-- semantic-tables:end -->"


def markdown(layer: Layer) -> str:
    """The layer as the docs show it: pages, then one row per table (generated, never typed)."""
    lines = ["| page | title | domains |", "|---|---|---|"]
    lines += [f"| `{p.name}` | {p.zh} / {p.en} | {', '.join(p.domains) or '—'} |"
              for p in layer.ordered_pages()]
    lines += ["", "| table | domain | area (level) | time columns | derived | detail columns "
              "| breakdowns |", "|---|---|---|---|---|---|---|"]
    for name in sorted(layer.tables):
        t = layer.tables[name]
        area = f"`{t.area.column}` ({t.area.level})" if t.area else "—"
        times = ", ".join([f"`{c}`" for c in t.times] + [f"`{c}` (YYYY-MM)" for c in t.months])
        derived = ", ".join(f"`{d.name}` = {_expr(d)}" for d in t.derived.values())
        detail = (", ".join(f"{c.zh}" + (f" ({c.mask})" if c.mask != "none" else "")
                            for c in t.detail.columns) if t.detail else "—")
        breakdowns = ", ".join(f"{b.by}: `{b.via + '.' if b.via else ''}{b.column}`"
                               for b in t.breakdowns)
        lines.append(f"| `{name}` | {t.domain or '—'} | {area} | {times or '—'} | "
                     f"{derived or '—'} | {detail} | {breakdowns or '—'} |")
    return "\n".join(lines) + "\n"


def _expr(d: Derived) -> str:
    return d.builtin or f"{d.op}({', '.join(d.args)})"


def docs_section(text: str, layer: Layer) -> str:
    """``text`` (docs/architecture.md) with its generated tables replaced by the layer's."""
    head, _, rest = text.partition(DOCS_BEGIN)
    _, _, tail = rest.partition(DOCS_END)
    return f"{head}{DOCS_BEGIN}\n{markdown(layer)}{DOCS_END}{tail}"
