"""YAML documents of the configuration (KPI definitions, the semantic layer, scoring
schemes) read with libyaml's C parser where PyYAML has it: the pure-Python parser took ~4 s
of every process's start-up (each file is read twice: its nodes for line numbers, its data).
"""

from __future__ import annotations

from typing import Any

import yaml

# the C classes exist only where PyYAML was built with libyaml; the same documents either way
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose_and_load(text: str) -> tuple[Any, Any]:
    """The document's node tree (its marks give line numbers) and its data, as
    ``yaml.compose`` and ``yaml.safe_load`` give them; raises ``yaml.YAMLError``."""
    return yaml.compose(text, Loader=_LOADER), yaml.load(text, Loader=_LOADER)
