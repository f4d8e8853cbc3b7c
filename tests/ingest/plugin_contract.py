"""The shipped contract kit (:mod:`ingest.testing.contract`) as the built-in plugins run it:
on both engines, with the seed district's division list loaded first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingest.testing.contract import PluginContract as _ShippedContract
from tests.conftest import divisions_source


class PluginContract(_ShippedContract):
    @pytest.fixture
    def contract_warehouse_url(self, warehouse_url: str) -> str:
        return warehouse_url  # tests/conftest.py: SQLite and PostgreSQL

    def prerequisites(self, tmp_path: Path) -> list[dict[str, Any]]:
        return [divisions_source()]
