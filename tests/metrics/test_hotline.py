"""``hotline.response_rate`` takes its window from the KPI parameter ``response_hours``: a
deployment that counts 30 hours gets other figures, and the rollups follow (the resolved value
is part of the family's fingerprint)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from metrics import periods
from metrics.catalog import load_catalog
from metrics.rollup import ensure_rollups
from metrics.service import Metrics
from tests.metrics.harness import CASES, load_case, materialize

KPIS = Path(__file__).resolve().parents[2] / "config" / "kpis"


def _in_time(hours: float) -> tuple[int, int]:
    """May requests responded within ``hours``, counted from the case's rows."""
    rows = [r for r in load_case(CASES / "hotline.yaml")["tables"]["hotline_requests"]
            if r["received_at"].startswith("2024-05")]

    def t(s: str) -> dt.datetime:
        return dt.datetime.strptime(s, "%Y-%m-%d %H:%M")

    ok = sum(1 for r in rows if r.get("responded_at")
             and t(r["responded_at"]) - t(r["received_at"]) <= dt.timedelta(hours=hours))
    return ok, len(rows)


def test_response_hours_is_a_kpi_parameter(tmp_path: Path, sqlite_url: str) -> None:
    m = materialize(load_case(CASES / "hotline.yaml"), tmp_path / "w", sqlite_url)
    may = periods.parse("2024-05")
    row = m.compute(["hotline.response_rate"], m.district(), may).row(0, named=True)
    assert (row["numerator"], row["denominator"]) == _in_time(24)
    folder = tmp_path / "kpis"
    shutil.copytree(KPIS, folder)
    f = folder / "hotline.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("response_hours: 24",
                                                       "response_hours: 30"), encoding="utf-8")
    catalog = load_catalog(folder)
    assert "rollup_hotline_requests__received_at" in ensure_rollups(m.engine, catalog)
    assert _in_time(30) != _in_time(24)
    for use_rollups in (True, False):
        again = Metrics(m.engine, catalog, use_rollups=use_rollups)
        row = again.compute(["hotline.response_rate"], again.district(), may).row(0, named=True)
        assert (row["numerator"], row["denominator"]) == _in_time(30)


# the channel each source word of the case means (the hotline table's synonyms, DESIGN §3)
CHANNEL = {"电话": "phone", "phone": "phone", "微信": "wechat", "wechat": "wechat",
           "网站": "web", "APP": "app"}


def _may_rows(street: str | None = None) -> list[dict[str, object]]:
    """The case's May requests (local wall times), optionally of one street's communities."""
    rows = [r for r in load_case(CASES / "hotline.yaml")["tables"]["hotline_requests"]
            if r["received_at"].startswith("2024-05")]
    if street is not None:
        rows = [r for r in rows if str(r.get("community_code") or "").startswith(street[:9])]
    return rows


def test_hotline_breakdowns_by_category_and_channel(tmp_path: Path, warehouse_url: str
                                                    ) -> None:
    """12345 requests break down by their category and channel (declared in the semantic
    layer); groups equal counts of the case's rows and add up to the total, a request without
    a community included at the district."""
    from collections import Counter

    from metrics.compiler import Scope

    m = materialize(load_case(CASES / "hotline.yaml"), tmp_path / "w", warehouse_url)
    may = periods.parse("2024-05")
    street = Scope("street", "420606001000", "汉江街道")
    for scope, rows in ((m.district(), _may_rows()), (street, _may_rows("420606001000"))):
        for dim, value in (("category", lambda r: r["category"]),
                           ("channel", lambda r: CHANNEL[r["channel"]])):
            got = m.compute(["hotline.requests"], scope, may, dim, compare=False)
            want = Counter(value(r) for r in rows)
            assert {r["key"]: r["value"] for r in got.to_dicts()} == want, (scope, dim)
            assert sum(want.values()) == len(rows)
    # a rate by channel: in time (≤ 24 h) over the requests, channel by channel
    got = m.compute(["hotline.response_rate"], m.district(), may, "channel", compare=False)
    assert {r["key"]: (r["numerator"], r["denominator"]) for r in got.to_dicts()} == {
        "phone": (2, 2), "wechat": (1, 2), "web": (1, 1), "app": (0, 1)}
    m.engine.dispose()


def test_hotline_rows_of_one_category_are_masked(tmp_path: Path, sqlite_url: str) -> None:
    """The rows behind 物业管理's requests: exactly the case's, newest first, with the free text
    masked and the derived response hours labelled beside them."""
    from metrics import drill

    m = materialize(load_case(CASES / "hotline.yaml"), tmp_path / "w", sqlite_url)
    may = periods.parse("2024-05")
    kpi = m.catalog.get("hotline.requests")
    fig = drill.Figure("hotline.requests", "measure", m.district(), may, "category", "物业管理")
    frame, spec = drill.rows(m.engine, kpi, fig)
    want = sorted((r for r in _may_rows() if r["category"] == "物业管理"),
                  key=lambda r: str(r["received_at"]), reverse=True)
    assert frame["request_id"].to_list() == [r["request_id"] for r in want]
    assert all("13812348000" not in str(v) for v in frame["content"].to_list())
    assert "138****8000" in str(frame.filter(frame["request_id"] == "R1")["content"][0])
    assert ("title", "诉求标题", "Title") in spec
    rate = m.catalog.get("hotline.response_rate")
    frame, spec = drill.rows(m.engine, rate, drill.Figure("hotline.response_rate", "numerator",
                                                          m.district(), may))
    assert ("hours_to_respond", "响应时长(小时)", "Hours to respond") in spec
    hours = dict(zip(frame["request_id"], frame["hours_to_respond"], strict=True))
    assert hours == {"R1": 6.0, "R3": 24.0, "R5": 1.0, "R7": 1.5}
    m.engine.dispose()


def test_hotline_kpis_stop_at_the_community(tmp_path: Path, sqlite_url: str) -> None:
    """12345 requests are filed per community (a row naming its grid counts in the grid's
    community): ``gongzhi kpi --by grid`` refuses the hotline KPIs, naming each and the level
    they are kept at, instead of an empty table that would read as "no requests"; by
    community they are the case's counts; a grid-level KPI is not refused; the rows behind a
    figure show the grid column with its label."""
    import json
    from collections import Counter

    from click.testing import CliRunner

    from gongzhi.cli import cli
    from metrics import drill

    m = materialize(load_case(CASES / "hotline.yaml"), tmp_path / "w", sqlite_url)
    cfg = str(tmp_path / "w" / "gongzhi.toml")
    base = ["--config", cfg, "kpi", "--period", "2024-05"]
    res = CliRunner().invoke(cli, [*base, "--by", "grid", "--kpi", "hotline.requests",
                                   "--kpi", "hotline.response_rate"])
    assert res.exit_code == 2, res.output
    assert "--by grid" in res.output
    for kid in ("hotline.requests", "hotline.response_rate"):
        assert f"{kid} is kept per community (hotline_requests" in res.output
    res = CliRunner().invoke(cli, [*base, "--by", "community", "--kpi", "hotline.requests",
                                   "--format", "json"])
    assert res.exit_code == 0, res.output
    want = Counter(r["community_code"] for r in _may_rows() if r.get("community_code"))
    assert {r["key"]: r["value"] for r in json.loads(res.output)} == want
    res = CliRunner().invoke(cli, [*base, "--by", "grid", "--kpi", "grid.events_reported",
                                   "--format", "json"])
    assert res.exit_code == 0, res.output  # grid events are filed per grid
    fig = drill.Figure("hotline.requests", "measure", m.district(), periods.parse("2024-05"))
    _frame, spec = drill.rows(m.engine, m.catalog.get("hotline.requests"), fig)
    assert ("grid_code", "网格", "Grid") in spec
    m.engine.dispose()
