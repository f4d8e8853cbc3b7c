"""The demo the ``gongzhi demo`` tests share: written and loaded once per test module
(``demo``, module-scoped), with the seed, scale and end it was drawn with and the rows it
plants for the quarantine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.settings import Settings
from gongzhi.demo import common, write_demo
from ingest.registry import load_validated
from ingest.runner import Runner, RunResult
from warehouse.engine import open_warehouse

END = dt.date(2025, 6, 30)
SCALE = 0.02
SEED = 7
SHANGHAI = dt.timedelta(hours=8)  # no daylight saving: UTC+8 all year

# (source, reason) of every row the demo plants for the quarantine
PLANTED = {
    ("gov_cases", "unknown_community"), ("gov_cases", "bad_code"), ("gov_cases", "bad_date"),
    ("gov_cases", "out_of_range"), ("gov_cases", "missing_value"),
    ("grid_events", "unknown_grid"), ("grid_events", "out_of_range"),
    ("grid_events", "missing_value"),
    ("buildings", "unknown_grid"), ("buildings", "outside_area"),
    ("volunteer_services", "missing_value"), ("volunteer_services", "out_of_range"),
    ("volunteer_services", "bad_date"),
    ("property_fees", "bad_format"),
    ("volunteers", "invalid_id_number"),
    ("help_team_services", "unknown_community"), ("enforcement_cases", "unknown_street"),
}


@dataclass
class Demo:
    root: Path
    config: Path
    settings: Settings
    engine: Engine
    results: list[RunResult]
    log: list[str]

    def rows(self, sql: str) -> list[tuple]:
        with self.engine.connect() as c:
            return [tuple(r) for r in c.exec_driver_sql(sql)]

    def one(self, sql: str):
        return self.rows(sql)[0][0]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("demo")
    log: list[str] = []
    config = write_demo(root, scale=SCALE, seed=SEED, end=END, log=log.append)
    settings = load_validated(config)
    engine = open_warehouse(settings.warehouse_url)
    results = Runner(settings, engine).run(trigger="demo")
    yield Demo(root, config, settings, engine, results, log)
    engine.dispose()


def decode(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith(common.UTF8_BOM):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")
