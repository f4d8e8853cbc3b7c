"""``gongzhi kpi``: the JSON shape of DESIGN §7, a readable table, CSV, scopes by name."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gongzhi.cli import cli
from tests.metrics.harness import CASES, load_case, materialize

KEYS = {"kpi", "label", "value", "numerator", "denominator", "unit", "target", "status",
        "period", "scope", "sample"}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kpi_cli")
    m = materialize(load_case(CASES / "gov.yaml"), folder, f"sqlite:///{folder / 'w.db'}")
    m.engine.dispose()
    return folder / "gongzhi.toml"


def run(config: Path, *args: str) -> str:
    res = CliRunner().invoke(cli, ["--config", str(config), "kpi", *args])
    assert res.exit_code == 0, res.output
    return res.output


def test_json_for_the_district_has_every_kpi_with_the_design_keys(config: Path) -> None:
    rows = json.loads(run(config, "--period", "2024-05", "--format", "json"))
    from metrics.catalog import load_catalog

    assert [r["kpi"] for r in rows] == list(load_catalog().kpis)
    assert all(set(r) >= KEYS for r in rows)
    online = next(r for r in rows if r["kpi"] == "gov.online_case_rate")
    assert (online["value"], online["numerator"], online["denominator"]) == (0.4, 2.0, 5.0)
    assert online["scope"] == "district:420606000000" and online["period"] == "2024-05"
    assert online["delta_prev"] == pytest.approx(0.4)


def test_street_and_community_by_name_and_by_code(config: Path) -> None:
    by_name = json.loads(run(config, "--street", "汉江街道", "--period", "2024-05",
                             "--kpi", "gov.case_count", "--format", "json"))
    by_code = json.loads(run(config, "--street", "420606001000", "--period", "2024-05",
                             "--kpi", "gov.case_count", "--format", "json"))
    assert by_name == by_code and by_name[0]["value"] == 4.0
    comm = json.loads(run(config, "--community", "高庄社区", "--period", "2024-Q2",
                          "--kpi", "gov.online_case_rate", "--format", "json"))
    assert comm[0]["scope"] == "community:420606001001" and comm[0]["period"] == "2024-Q2"


def test_table_is_readable_with_chinese_labels_and_csv_opens(config: Path) -> None:
    table = run(config, "--period", "2024-05", "--kpi", "gov.online_case_rate",
                "--kpi", "gov.online_capable_rate")
    assert "樊城区 · 2024-05" in table and "网办率" in table and "40.0%" in table
    assert "■ 红" in table  # 可网办率 75 % against a 90 % target
    rows = list(csv.DictReader(io.StringIO(run(config, "--period", "2024-05", "--format",
                                               "csv", "--kpi", "gov.case_count"))))
    assert rows[0]["kpi"] == "gov.case_count" and float(rows[0]["value"]) == 5.0


def test_bad_period_and_unknown_area_are_clear_errors(config: Path) -> None:
    res = CliRunner().invoke(cli, ["--config", str(config), "kpi", "--period", "2024-13"])
    assert res.exit_code != 0 and "is not a period" in str(res.exception)
    res = CliRunner().invoke(cli, ["--config", str(config), "kpi", "--street", "不存在街道"])
    assert res.exit_code != 0 and "no street" in str(res.exception)
