"""``python -m metrics.semantic``: refresh the generated tables of docs/architecture.md."""

from metrics.semantic.docs import DOCS, docs_section
from metrics.semantic.load import load

DOCS.write_text(docs_section(DOCS.read_text(encoding="utf-8"), load()), encoding="utf-8")
