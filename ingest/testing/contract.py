"""The standard pytest class every source plugin gets for free (Meltano SDK style).

A plugin's test module subclasses :class:`PluginContract`, names the plugin and the rows its
prepared data yields, and implements ``source_config`` (a ``[[sources]]`` entry whose data it
prepares, e.g. files in ``tmp_path`` or a server on loopback). The inherited tests run the
checks of :mod:`ingest.testing` end to end. The warehouse is a fresh SQLite file; override the
``contract_warehouse_url`` fixture to run them on another engine (the project's own tests run
every plugin on SQLite and PostgreSQL). ``tests/ingest/test_testing.py`` fails when a plugin
registered in ``gongzhi.sources`` has no such subclass among the tests.

This module imports pytest (a test-time dependency); :mod:`ingest.testing` does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from ingest.testing import (
    check_batches,
    check_config,
    check_end_to_end,
    check_registered,
    check_unknown_setting_refused,
)


class PluginContract:
    """Subclass as ``Test<Name>Contract`` with ``plugin``, ``expected_rows`` and
    ``source_config``; override ``prerequisites`` and ``check_loaded`` as needed."""

    plugin: ClassVar[str] = ""
    #: the number of rows the prepared data yields in total (across tables)
    expected_rows: ClassVar[int] = 0
    #: run end to end with the installed run observers (the KPI rollups) attached
    with_observers: ClassVar[bool] = False

    def source_config(self, tmp_path: Path) -> dict[str, Any]:  # pragma: no cover - abstract
        """The ``[[sources]]`` entry (as a dict) of the data this test prepares."""
        raise NotImplementedError

    def prerequisites(self, tmp_path: Path) -> list[dict[str, Any]]:
        """Sources to load first, e.g. a ``divisions`` source so community codes are known."""
        return []

    def check_loaded(self, tmp_path: Path, warehouse_url: str) -> None:
        """Plugin-specific checks of what landed; override to assert on table contents."""

    @pytest.fixture
    def contract_warehouse_url(self, tmp_path: Path) -> str:
        """The empty warehouse the end-to-end test loads into."""
        return f"sqlite:///{tmp_path / 'contract-warehouse.db'}"

    def test_registered_through_entry_point(self) -> None:
        check_registered(self.plugin)

    def test_config_rejects_unknown_setting(self, tmp_path: Path) -> None:
        check_unknown_setting_refused(self.source_config(tmp_path), tmp_path)

    def test_config_is_valid(self, tmp_path: Path) -> None:
        check_config(self.source_config(tmp_path), tmp_path)

    def test_batches_carry_place_and_json_cursor(self, tmp_path: Path) -> None:
        check_batches(self.source_config(tmp_path), tmp_path, self.expected_rows)

    def test_end_to_end_and_rerun_changes_nothing(self, tmp_path: Path,
                                                  contract_warehouse_url: str) -> None:
        check_end_to_end(self.source_config(tmp_path), tmp_path, contract_warehouse_url,
                         self.expected_rows, self.prerequisites(tmp_path),
                         observers=self.with_observers)
        self.check_loaded(tmp_path, contract_warehouse_url)
