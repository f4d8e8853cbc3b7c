"""The standard test class every source plugin gets for free (Meltano SDK style).

A plugin's test module subclasses :class:`PluginContract`, names the plugin and implements
``source_config`` (a ``[[sources]]`` entry whose data it prepares, e.g. files in ``tmp_path``
or a server on loopback). The inherited tests then check the contract end to end on both
engines; ``tests/ingest/test_meta.py`` fails when a built-in plugin has no such subclass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from core.settings import settings_from_dict
from ingest.contract import ORIGIN, ROW, Batch, Source
from ingest.registry import build_source, registry, validate_source
from tests.conftest import divisions_source
from warehouse import runlog


class PluginContract:
    plugin: ClassVar[str] = ""
    #: the number of rows the prepared data yields in total (across tables)
    expected_rows: ClassVar[int] = 0

    def source_config(self, tmp_path: Path) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def prerequisites(self, tmp_path: Path) -> list[dict[str, Any]]:
        """Sources to load first (the division list, so community codes are known)."""
        return [divisions_source()]

    def _spec(self, tmp_path: Path):
        cfg = self.source_config(tmp_path)
        settings = settings_from_dict({"sources": [cfg]}, path=tmp_path / "gongzhi.toml")
        return settings.sources[0]

    def test_registered_through_entry_point(self) -> None:
        cls = registry().plugins.get(self.plugin)
        assert cls is not None, f"plugin {self.plugin} is not in the gongzhi.sources group"
        assert issubclass(cls, Source) and cls.name == self.plugin

    def test_config_rejects_unknown_setting(self, tmp_path: Path) -> None:
        spec = self._spec(tmp_path)
        spec.options = {**spec.options, "no_such_setting": 1}
        problems = validate_source(spec)
        assert any("no_such_setting" in p.place for p in problems), problems

    def test_config_is_valid(self, tmp_path: Path) -> None:
        assert validate_source(self._spec(tmp_path)) == []

    def test_batches_carry_place_and_json_cursor(self, tmp_path: Path) -> None:
        src = build_source(self._spec(tmp_path))
        batches: list[Batch] = list(src.extract(None))
        assert batches, "the prepared data yields no batch"
        assert sum(b.frame.height for b in batches) == self.expected_rows
        for b in batches:
            assert ROW in b.frame.columns and ORIGIN in b.frame.columns
            assert b.table in src.target_tables() or b.table
            json.dumps(b.cursor, default=str)  # the cursor must be storable as JSON

    def test_end_to_end_and_rerun_changes_nothing(self, tmp_path: Path, warehouse_url: str,
                                                  run_sources) -> None:
        cfg = self.source_config(tmp_path)
        first = self.prerequisites(tmp_path)
        results = run_sources(warehouse_url, [*first, cfg])
        mine = next(r for r in results if r.source == cfg["id"])
        assert mine.ok, mine.error
        assert mine.read == self.expected_rows
        assert mine.read == mine.loaded + mine.quarantined + mine.duplicates
        again = run_sources(warehouse_url, [*first, cfg], ids=[cfg["id"]])[0]
        assert again.ok, again.error
        assert again.inserted == 0 and again.updated == 0
        self.check_loaded(tmp_path, warehouse_url)

    def check_loaded(self, tmp_path: Path, warehouse_url: str) -> None:
        """Plugin-specific checks of what landed; override to assert on table contents."""


__all__ = ["PluginContract", "pytest", "runlog"]
