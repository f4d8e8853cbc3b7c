"""Targets per area: a leader's target for a street or community and year wins over the
district default (also for counts, which have none below the district), recolours the KPI
and the ranking, is versioned and audited; staff cannot change targets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from core.errors import ConfigError
from gongzhi.cli import cli
from metrics.access import AccessDenied, Viewer

GAOZHUANG, LIUGENG = "420606001001", "420606001002"  # communities of 汉江街道
PERIOD = "2025-05"


@pytest.fixture(scope="module")
def config(office_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo warehouse: targets written here stay out of the other modules'
    tests (each test here sets targets of its own KPI)."""
    folder = tmp_path_factory.mktemp("targets")
    for f in office_demo.parent.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    return folder / office_demo.name


def gz(config: Path, *args: str, ok: bool = True) -> Any:
    res = CliRunner().invoke(cli, ["--config", str(config), *args])
    if ok:
        assert res.exit_code == 0, res.output
    return res


def kpi_rows(config: Path, *args: str) -> dict[Any, dict[str, Any]]:
    rows = json.loads(gz(config, "kpi", "--period", PERIOD, "--format", "json", *args).output)
    return {r.get("key") or r["scope"]: r for r in rows}


def colour(value: float, target: float, warning: float | None, higher: bool) -> str:
    """The seed's three colours, written out here for the check."""
    if (value >= target) if higher else (value <= target):
        return "blue"
    if warning is not None and ((value >= warning) if higher else (value <= warning)):
        return "yellow"
    return "red"


def test_a_count_gets_a_target_and_a_colour_for_that_area_and_year_only(config: Path) -> None:
    before = kpi_rows(config, "--kpi", "vol.service_hours", "--by", "community")
    assert before[GAOZHUANG]["target"] is None and before[GAOZHUANG]["status"] is None
    hours = before[GAOZHUANG]["value"]
    gz(config, "targets", "set", "--kpi", "vol.service_hours", "--community", "高庄社区",
       "--year", "2025", "--target", str(hours + 10), "--warning", str(hours - 5))
    after = kpi_rows(config, "--kpi", "vol.service_hours", "--by", "community")
    assert after[GAOZHUANG]["target"] == hours + 10
    assert after[GAOZHUANG]["status"] == colour(hours, hours + 10, hours - 5, True) == "yellow"
    assert after[LIUGENG]["target"] is None and after[LIUGENG]["status"] is None
    # the community's own view and the district are as before elsewhere
    own = kpi_rows(config, "--kpi", "vol.service_hours", "--community", GAOZHUANG)
    assert next(iter(own.values()))["status"] == "yellow"
    district = kpi_rows(config, "--kpi", "vol.service_hours")
    assert next(iter(district.values()))["target"] is None  # no district target for hours
    other_year = json.loads(gz(config, "kpi", "--period", "2024-05", "--format", "json",
                               "--kpi", "vol.service_hours", "--community", GAOZHUANG).output)
    assert other_year[0]["target"] is None


def test_a_ratio_target_overrides_the_district_default_and_moves_the_ranking(
        config: Path) -> None:
    by_street = kpi_rows(config, "--kpi", "vol.registered_per_1000", "--by", "street")
    street, row = next((k, r) for k, r in by_street.items() if r["value"])
    assert row["target"] == 30  # the YAML default
    rank_before = {r["code"]: r for r in json.loads(gz(
        config, "rank", "--period", PERIOD, "--format", "json").output)}
    gz(config, "targets", "set", "--kpi", "vol.registered_per_1000", "--street", street,
       "--year", "2025", "--target", str(row["value"] * 2), "--warning",
       str(row["value"] * 1.5))
    after = kpi_rows(config, "--kpi", "vol.registered_per_1000", "--by", "street")[street]
    assert after["target"] == pytest.approx(row["value"] * 2) and after["status"] == "red"
    rank_after = {r["code"]: r for r in json.loads(gz(
        config, "rank", "--period", PERIOD, "--format", "json").output)}
    part = next(p for p in rank_after[street]["parts"] if p["kpi"] == "vol.registered_per_1000")
    assert part["target"] == pytest.approx(row["value"] * 2)
    assert part["points"] == pytest.approx(50.0)  # half the target attained
    assert rank_after[street]["score"] < rank_before[street]["score"]


def test_versions_clear_and_audit(config: Path) -> None:
    args = ["--kpi", "gov.online_case_rate", "--community", "高庄社区", "--year", "2025"]
    assert "version 1" in gz(config, "targets", "set", *args, "--target", "80%").output
    assert "version 2" in gz(config, "targets", "set", *args, "--target", "0.85",
                             "--warning", "0.7").output
    assert "version 3" in gz(config, "targets", "clear", *args).output
    history = [h for h in json.loads(gz(config, "targets", "list", "--history", "--format",
                                        "json").output) if h["kpi"] == "gov.online_case_rate"]
    assert [(h["version"], h["target"], h["warning"], h["cleared"]) for h in history] == [
        (1, 0.8, None, False), (2, 0.85, 0.7, False), (3, None, None, True)]
    assert not [r for r in json.loads(gz(config, "targets", "list", "--format", "json").output)
                if r["kpi"] == "gov.online_case_rate"]
    row = kpi_rows(config, "--kpi", "gov.online_case_rate", "--community", GAOZHUANG)
    assert next(iter(row.values()))["target"] == 0.6  # back to the district default
    from ingest.registry import load_validated
    from warehouse import audit
    from warehouse.engine import open_for_reading

    engine = open_for_reading(load_validated(config).warehouse_url)
    actions = [e["action"] for e in audit.entries(engine) if e["action"].startswith("target")
               and "gov.online_case_rate" in e["target"]]
    assert actions == ["target_clear", "target_set", "target_set"]
    engine.dispose()


def test_staff_cannot_change_targets_and_bad_values_are_listed_at_once(config: Path) -> None:
    from ingest.registry import load_validated
    from metrics import targets
    from metrics.service import Metrics
    from warehouse import audit
    from warehouse.engine import open_for_reading

    m = Metrics(open_for_reading(load_validated(config).warehouse_url))
    staff = Viewer("zhang", "street_staff", "420606001000")
    change = targets.TargetChange("gov.good_rating_rate", "community", GAOZHUANG, 2025, 0.9)
    with pytest.raises(AccessDenied):
        targets.apply(m, staff, change)
    assert audit.entries(m.engine)[0]["action"] == audit.DENIED
    boss = Viewer("li", "leader", "420606000000")
    bad = targets.TargetChange("gov.good_rating_rate", "community", "420606999999", 1900, 1.5,
                               warning=1.8)
    with pytest.raises(ConfigError) as e:
        targets.apply(m, boss, bad)
    text = str(e.value)
    for words in ("no community with code 420606999999", "not a plausible year: 1900",
                  "must lie in 0-1", "must not exceed the target"):
        assert words in text
    assert not [r for r in targets.listing(m, None) if r["kpi"] == "gov.good_rating_rate"]
    m.engine.dispose()
