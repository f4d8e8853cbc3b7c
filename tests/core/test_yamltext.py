"""core/yamltext: the shipped YAML documents read by libyaml's parser give what PyYAML's
pure-Python parser gives (data, and the line of every node the line numbers come from)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from core import yamltext

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "config").rglob("*.yaml"))


def _lines(node: Any) -> list[tuple[str, int]]:
    out = [(type(node).__name__, node.start_mark.line)]
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            out += _lines(k) + _lines(v)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            out += _lines(v)
    return out


def test_the_c_parser_is_used_where_pyyaml_has_it() -> None:
    assert yaml.__with_libyaml__  # the project's PyYAML wheels carry libyaml
    assert yamltext._LOADER is yaml.CSafeLoader


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_documents_read_alike(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    node, data = yamltext.compose_and_load(text)
    assert data == yaml.safe_load(text)
    assert _lines(node) == _lines(yaml.compose(text))


def test_bad_yaml_is_an_error_with_its_line() -> None:
    with pytest.raises(yaml.YAMLError) as e:
        yamltext.compose_and_load("kpis:\n  - id: a\n    label: [unclosed\n")
    mark = getattr(e.value, "problem_mark", None)
    assert mark is not None and mark.line >= 2
