"""``gongzhi rows``: the rows behind a figure on the command line, only inside the signed-in
account's area (every denial audited), exports that open cleanly in Excel, personal columns
masked only."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from tests.dashboard.conftest import HANJIANG, PERIOD, WANGZHAI
from warehouse import accounts, audit
from warehouse.engine import open_warehouse

PASSWORD = "hanjiang-staff-2024"
KPI = "gov.online_case_rate"


@pytest.fixture
def secured(case_config: Path, tmp_path: Path) -> Iterator[Path]:
    """The case warehouse (tests/dashboard/conftest.py), requiring sign-in, two accounts."""
    folder = tmp_path / "secured"
    shutil.copytree(case_config.parent, folder)
    cfg = folder / "gongzhi.toml"
    text = cfg.read_text(encoding="utf-8").replace('sign_in = "open"', 'sign_in = "required"')
    cfg.write_text(text.replace(str(case_config.parent), str(folder)), encoding="utf-8")
    eng = open_warehouse(f"sqlite:///{folder / 'warehouse.db'}")
    accounts.add_user(eng, "hj", PASSWORD, "street_staff", HANJIANG, "汉江街道 小王")
    accounts.add_user(eng, "boss", PASSWORD, "leader", "420606000000")
    eng.dispose()
    yield cfg


@pytest.fixture(scope="session")
def case_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.dashboard.conftest import build_case_warehouse

    return build_case_warehouse(tmp_path_factory.mktemp("rows_cases"))


def run(cfg: Path, *args: str) -> Any:
    from gongzhi.cli import cli

    return CliRunner(env={"GONGZHI_PASSWORD": PASSWORD}).invoke(
        cli, ["--config", str(cfg), "rows", "--period", PERIOD, *args])


def _log(cfg: Path) -> list[dict[str, Any]]:
    eng = open_warehouse(f"sqlite:///{cfg.parent / 'warehouse.db'}")
    try:
        return audit.entries(eng, limit=1000)
    finally:
        eng.dispose()


def test_staff_get_their_own_areas_rows_and_are_refused_others(secured: Path) -> None:
    own = run(secured, "--kpi", KPI, "--part", "denominator", "--user", "hj", "--format",
              "json", "--all")
    assert own.exit_code == 0, own.output
    got = json.loads(own.output)
    assert (got["scope"], got["total"]) == (f"street:{HANJIANG}", 4)
    assert sorted(r["case_id"] for r in got["rows"]) == ["S1", "S2", "S3", "S4"]
    for where in (["--street", WANGZHAI], ["--community", "420606002001"], ["--street",
                                                                             "王寨街道"]):
        res = run(secured, "--kpi", KPI, "--part", "denominator", "--user", "hj", *where)
        said = f"{res.output}{res.exception}"
        assert res.exit_code != 0 and "may not see" in said, (where, said)
        assert "S5" not in res.output
    denied = [e for e in _log(secured) if e["action"] == audit.DENIED]
    assert len(denied) == 3 and all(e["username"] == "hj" and e["target"] == "cli:rows"
                                    for e in denied)
    # without a sign-in, a config that requires one gives no rows at all
    anonymous = run(secured, "--kpi", KPI)
    assert anonymous.exit_code != 0 and "sign-in required" in str(anonymous.exception)
    # a leader sees the district; views and exports are audited with the filters
    leader = run(secured, "--kpi", KPI, "--part", "denominator", "--user", "boss",
                 "--format", "json")
    assert json.loads(leader.output)["total"] == 5
    views = [e for e in _log(secured) if e["target"] == f"drill:{KPI}:denominator"]
    assert [(e["username"], e["action"], e["row_count"]) for e in views] == [
        ("boss", audit.VIEW_ROWS, 5), ("hj", audit.EXPORT, 4)]


def test_exports_open_cleanly_in_excel(case_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "rows.csv"
    res = run(case_config, "--kpi", KPI, "--part", "denominator", "--street", HANJIANG,
              "--format", "csv", "--out", str(out))
    assert res.exit_code == 0, res.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel reads Chinese right
    rows = list(csv.DictReader(io.StringIO(raw[3:].decode("utf-8"))))
    assert sorted(r["办件编号"] for r in rows) == ["S1", "S2", "S3", "S4"]
    assert {r["社区"] for r in rows} == {"高庄社区", "刘埂社区"}
    assert rows[0]["受理时间"].count(":") == 1  # local time, minutes
    xlsx = tmp_path / "rows.xlsx"
    res = run(case_config, "--kpi", KPI, "--part", "numerator", "--format", "xlsx",
              "--out", str(xlsx))
    assert res.exit_code == 0, res.output
    assert sorted(pl.read_excel(xlsx)["办件编号"].to_list()) == ["S1", "S5"]
    bad = run(case_config, "--kpi", KPI, "--part", "measure")
    assert "numerator, denominator" in str(bad.exception)


def test_people_rows_show_masked_columns_only(case_config: Path) -> None:
    res = run(case_config, "--kpi", "vol.active_rate", "--part", "denominator", "--format",
              "json", "--all")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["rows"]
    assert rows and set(rows[0]) == {"volunteer_id", "community_code", "team_id",
                                     "registered_at", "is_party_member", "name_masked",
                                     "phone_masked", "id_masked"}
