"""``gongzhi kpi``: the JSON shape of DESIGN §7, a readable table, CSV, scopes by name."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
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


GONGZHI = str(Path(sys.executable).with_name("gongzhi"))


def _official_names() -> dict[str, str]:
    """Code → short name straight from the official list (居委会/村委会 dropped), independent
    of the warehouse's division table."""
    from tests.conftest import DIVISIONS_CSV

    with DIVISIONS_CSV.open(encoding="utf-8") as f:
        return {r["code12"]: r["name"].removesuffix("居委会").removesuffix("村委会")
                for r in csv.DictReader(f)}


def test_areas_that_do_not_nest_are_an_error_naming_both(config: Path) -> None:
    # 施营社区 is in 王寨街道: asked together with 汉江街道 it is an error (exit 2), not an
    # answer for one of them
    out = subprocess.run([GONGZHI, "--config", str(config), "kpi", "--street", "汉江街道",
                          "--community", "施营社区", "--period", "2024-05"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "施营社区" in out.stderr and "汉江街道" in out.stderr and "王寨街道" in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
    # nesting areas still answer; by code as by name
    ok = json.loads(run(config, "--street", "420606002000", "--community", "施营社区",
                        "--period", "2024-05", "--kpi", "gov.case_count", "--format", "json"))
    assert ok[0]["scope"] == "community:420606002001"


def test_areas_nest_through_every_level() -> None:
    from metrics.areas import misfit
    from metrics.compiler import Scope

    divs = pl.DataFrame({
        "code": ["420606001000", "420606002000", "420606001001", "420606002001",
                 "420606001001001"],
        "name": ["汉江街道", "王寨街道", "高庄社区居委会", "施营社区居委会", "高庄1网格"],
        "short_name": ["汉江街道", "王寨街道", "高庄社区", "施营社区", None],
        "level": ["street", "street", "community", "community", "grid"],
        "parent_code": ["420606000000", "420606000000", "420606001000", "420606002000",
                        "420606001001"]})
    street, other = Scope("street", "420606001000", "汉江街道"), Scope("street", "420606002000",
                                                                   "王寨街道")
    gaozhuang = Scope("community", "420606001001", "高庄社区")
    grid = Scope("grid", "420606001001001", "高庄1网格")
    assert misfit(divs, [street, gaozhuang, grid]) is None
    wrong = misfit(divs, [other, grid])  # a grid two levels under another street
    assert wrong is not None and wrong.actual == Scope("street", "420606001000", "汉江街道")
    assert "高庄1网格" in str(wrong) and "王寨街道" in str(wrong) and "汉江街道" in str(wrong)
    shiying = Scope("community", "420606002001", "施营社区")
    wrong = misfit(divs, [shiying, grid])
    assert wrong is not None and wrong.outer == shiying and wrong.actual == gaozhuang


@pytest.mark.parametrize("group", ["street", "community"])
def test_grouped_output_names_areas_in_the_users_language(config: Path, group: str) -> None:
    names = _official_names()
    rows = json.loads(run(config, "--period", "2024-05", "--by", group, "--kpi",
                          "gov.case_count", "--format", "json"))
    assert rows and all(set(r) >= KEYS | {"key", "key_name"} for r in rows)
    assert {r["key"]: r["key_name"] for r in rows} == {r["key"]: names[r["key"]] for r in rows}
    by_csv = list(csv.DictReader(io.StringIO(run(config, "--period", "2024-05", "--by", group,
                                                  "--kpi", "gov.case_count", "--format",
                                                  "csv"))))
    assert [(r["key"], r["key_name"]) for r in by_csv] == [(r["key"], r["key_name"])
                                                           for r in rows]
    word = {"street": ("街道", "street"), "community": ("社区", "community")}[group]
    table = run(config, "--period", "2024-05", "--by", group, "--kpi", "gov.case_count")
    lines = table.splitlines()
    assert lines[0].endswith(f"· 按{word[0]}") and lines[1].split()[1] == word[0]
    for r in rows:  # a name per row, no bare code
        assert r["key_name"] in table and r["key"] not in table
    english = run(config, "--period", "2024-05", "--by", group, "--kpi", "gov.case_count",
                  "--lang", "en")
    assert english.splitlines()[0].endswith(f"· by {word[1]}")
    assert english.splitlines()[1].split()[1] == word[1] and "Service cases" in english
    res = CliRunner(env={"GONGZHI_LANG": "en"}).invoke(
        cli, ["--config", str(config), "kpi", "--period", "2024-05", "--by", group, "--kpi",
              "gov.case_count"])
    assert res.exit_code == 0 and res.output == english


def test_csv_output_neutralises_formulas(tmp_path: Path) -> None:
    from sqlalchemy import text

    from warehouse.engine import open_warehouse, write_transaction

    m = materialize(load_case(CASES / "gov.yaml"), tmp_path, f"sqlite:///{tmp_path / 'w.db'}")
    m.engine.dispose()
    evil = '=HYPERLINK("http://127.0.0.1/x","点我")'
    eng = open_warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    with write_transaction(eng) as c:
        c.execute(text("UPDATE divisions SET short_name = :p, name = :p WHERE code = :c"),
                  {"p": evil, "c": "420606001001"})
        c.execute(text("UPDATE warehouse_meta SET value = value + 1 WHERE key = 'data_version'"))
    eng.dispose()
    out = run(tmp_path / "gongzhi.toml", "--period", "2024-06", "--by", "community", "--kpi",
              "gov.case_count", "--format", "csv")
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(out))}
    assert rows["420606001001"]["key_name"] == "'" + evil
    assert not any(v.startswith(("=", "+", "@")) for r in rows.values() for v in r.values())
    # numbers stay numbers: June has fewer cases than May, and that negative change is
    # written as a number, not neutralised as text (communities with no case in June have no
    # row: grouped output lists the groups with rows in the period, issue 9 item 1)
    assert [float(rows[c]["delta_prev"]) for c in sorted(rows)] == [-1.0]


def test_a_district_count_target_is_not_given_to_a_community(config: Path) -> None:
    ids = ["--kpi", "party.checked_in_members", "--kpi", "gov.online_case_rate"]
    district = {r["kpi"]: r for r in json.loads(run(config, "--period", "2024-05", *ids,
                                                    "--format", "json"))}
    assert district["party.checked_in_members"]["target"] == 5000
    community = {r["kpi"]: r for r in json.loads(run(
        config, "--community", "高庄社区", "--period", "2024-05", *ids, "--format", "json"))}
    assert community["party.checked_in_members"]["target"] is None
    assert community["party.checked_in_members"]["status"] is None
    assert community["gov.online_case_rate"]["target"] == 0.6  # a ratio's target holds
    ranked = json.loads(run(config, "--period", "2024-05", "--by", "community", "--kpi",
                            "gov.case_count", "--kpi", "gov.online_case_rate", "--format",
                            "json"))
    assert {r["target"] for r in ranked if r["kpi"] == "gov.online_case_rate"} == {0.6}
    table = run(config, "--community", "高庄社区", "--period", "2024-05", "--kpi",
                "party.checked_in_members")
    assert "5,000" not in table


def test_every_breakdown_of_the_cases_table_groups_the_whole_count(config: Path) -> None:
    """Each dimension the semantic layer declares for service cases (read from its YAML here)
    splits gov.case_count into groups that add up to the district's figure."""
    import yaml

    from tests.gongzhi.test_by_groups import LAYER

    doc = yaml.safe_load((LAYER / "gov.yaml").read_text(encoding="utf-8"))
    dims = [b["by"] for b in doc["tables"]["service_cases"]["breakdowns"]]
    assert dims
    whole = json.loads(run(config, "--period", "2024-05", "--kpi", "gov.case_count",
                           "--format", "json"))[0]["value"]
    for dim in dims:
        rows = json.loads(run(config, "--period", "2024-05", "--by", dim, "--kpi",
                              "gov.case_count", "--format", "json"))
        assert rows and all("key" in r for r in rows), dim
        assert sum(r["value"] for r in rows) == whole, dim
