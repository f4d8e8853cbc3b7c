"""综合考评: ``gongzhi rank`` scores, ranks, colours, rank changes and the 红黑榜 agree with
an independent computation from ``gongzhi kpi --by … --format json`` values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from gongzhi.cli import cli
from metrics.scoring import DEFAULT_DIR

PERIOD, PREVIOUS = "2025-05", "2025-04"


def run(config: Path, *args: str) -> Any:
    res = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def expected(config: Path, level: str, period: str) -> dict[str, tuple[float, int]]:
    """Score and rank of each area, computed here from the KPI values and the scheme file
    (read as plain YAML), not by the code under test."""
    spec = yaml.safe_load((DEFAULT_DIR / "default.yaml").read_text("utf-8"))["levels"][level]
    kpi_rows = run(config, "kpi", "--period", period, "--by", level, "--format", "json",
                   *[a for p in spec["kpis"] for a in ("--kpi", p["kpi"])])
    from metrics.catalog import load_catalog

    cat = load_catalog()
    values: dict[tuple[str, str], dict[str, Any]] = {(r["kpi"], r["key"]): r for r in kpi_rows}
    codes = {r["key"] for r in kpi_rows}
    scores: dict[str, float] = {}
    for code in codes:
        total_w = total_p = 0.0
        for p in spec["kpis"]:
            kpi = cat.kpis[p["kpi"]]
            ms = p.get("min_sample", kpi.min_sample)
            r = values.get((p["kpi"], code))
            if r is None or r["value"] is None or r["sample"] < ms:
                continue
            v = r["value"]
            higher = kpi.direction == "higher"
            if p["rule"] == "target":
                t = r["target"]
                if t is None:
                    continue
                ratio = v / t if higher else (t / v if v else 1.0)
                pts = 100 * min(1.0, max(0.0, ratio))
            else:
                peers = [x["value"] for (k, _), x in values.items() if k == p["kpi"]
                         and x["value"] is not None and x["sample"] >= ms]
                lo, hi = min(peers), max(peers)
                pts = 100.0 if hi == lo else 100 * ((v - lo) if higher else (hi - v)) / (hi - lo)
            total_w += p["weight"]
            total_p += round(pts, 2) * p["weight"]
        if total_w:
            scores[code] = round(total_p / total_w, 2)
    ordered = sorted(scores.values(), reverse=True)
    return {c: (s, ordered.index(s) + 1) for c, s in scores.items()}


@pytest.mark.parametrize("level", ["street", "community"])
def test_scores_ranks_and_changes_match_an_independent_computation(
        office_demo: Path, level: str) -> None:
    got = run(office_demo, "rank", "--period", PERIOD, "--level", level, "--format", "json")
    want, before = expected(office_demo, level, PERIOD), expected(office_demo, level, PREVIOUS)
    assert len(want) > (5 if level == "street" else 50)  # the demo scores many areas
    scored = {r["code"]: r for r in got if r["rank"] is not None}
    assert set(scored) == set(want)
    for c, r in scored.items():
        assert (r["score"], r["rank"]) == (pytest.approx(want[c][0], abs=0.011), want[c][1]), c
    for r in got:
        assert set(r) >= {"rank", "code", "name", "score", "status", "rank_change", "parts"}
        assert all(set(p) >= {"kpi", "value", "points", "weight"} for p in r["parts"])
        if r["rank"] is None:
            assert r["score"] is None and r["status"] is None and r["code"] not in want
            continue
        s = r["score"]
        assert r["status"] == ("blue" if s >= 85 else "yellow" if s >= 70 else "red")
        change = before[r["code"]][1] - r["rank"] if r["code"] in before else None
        assert r["rank_change"] == change
    ranks = [r["rank"] for r in got if r["rank"] is not None]
    assert ranks == sorted(ranks)  # best first, unranked areas last


def test_red_and_black_lists_hold_the_top_and_bottom_n(office_demo: Path) -> None:
    got = [r for r in run(office_demo, "rank", "--period", PERIOD, "--level", "community",
                          "--format", "json") if r["score"] is not None]
    top = {r["code"] for r in got if r["rank"] <= 5}
    scores = sorted({r["score"] for r in got})
    lowest = {r["code"] for r in got
              if sum(1 for o in got if o["score"] < r["score"]) < 5} - top
    assert {r["code"] for r in got if r["board"] == "top"} == top
    assert {r["code"] for r in got if r["board"] == "bottom"} == lowest
    assert min(r["score"] for r in got if r["board"] == "bottom") == scores[0]


def test_weight_of_a_small_sample_kpi_is_shared_out(office_demo: Path) -> None:
    got = run(office_demo, "rank", "--period", PERIOD, "--format", "json")
    partial = [r for r in got if r["redistributed"]]
    assert partial, "the sparse demo has streets with a KPI below its minimum sample"
    for r in partial:
        used = [p for p in r["parts"] if p["points"] is not None]
        assert any(p["note"] in ("small_sample", "no_value") for p in r["parts"])
        want = sum(p["points"] * p["weight"] for p in used) / sum(p["weight"] for p in used)
        assert r["score"] == pytest.approx(round(want, 2))


def test_street_filter_and_table_and_csv(office_demo: Path) -> None:
    allc = run(office_demo, "rank", "--period", PERIOD, "--level", "community", "--format",
               "json")
    mine = run(office_demo, "rank", "--period", PERIOD, "--level", "community", "--street",
               "汉江街道", "--format", "json")
    assert mine and all(r["code"].startswith("420606001") for r in mine)
    assert mine == [r for r in allc if r["code"].startswith("420606001")]  # district ranks
    res = CliRunner().invoke(cli, ["--config", str(office_demo), "rank", "--period", PERIOD])
    assert res.exit_code == 0 and "排名" in res.output and "红榜" in res.output
    res = CliRunner().invoke(cli, ["--config", str(office_demo), "rank", "--period", PERIOD,
                                   "--format", "csv"])
    head = res.output.splitlines()[0].split(",")
    assert head[:6] == ["rank", "code", "name", "score", "status", "rank_change"]


def _row(code: str, score: float | None) -> Any:
    from metrics.ranking import RankRow

    return RankRow(code=code, name=code, parent_code=None, score=score, rank=None,
                   status=None, prev_rank=None, rank_change=None, board=None,
                   redistributed=False)


def test_ties_share_a_rank_and_a_list_place() -> None:
    from metrics.ranking import _boards, assign_ranks
    from metrics.scoring import LevelScheme

    rows = [_row(c, s) for c, s in [("a", 90.0), ("b", 80.0), ("c", 80.0), ("d", 70.0),
                                    ("e", 60.0), ("f", 60.0), ("g", None)]]
    assign_ranks(rows)
    assert [r.rank for r in rows] == [1, 2, 2, 4, 5, 5, None]
    _boards(rows, LevelScheme("street", (), top=2, bottom=1))
    # top 2: rank ≤ 2 takes both tied seconds; bottom 1: both tied lasts; unscored: neither
    assert [r.board for r in rows] == ["top", "top", "top", None, "bottom", "bottom", None]


@pytest.mark.parametrize(("rule", "value", "target", "direction", "lo", "hi", "want"), [
    ("target", 0.45, 0.6, "higher", None, None, 75.0),
    ("target", 0.9, 0.6, "higher", None, None, 100.0),  # capped
    ("target", 0.8, 0.5, "lower", None, None, 62.5),  # 0.5 / 0.8
    ("target", 0.0, 0.5, "lower", None, None, 100.0),
    ("target", 0.5, None, "higher", None, None, None),  # no target: no points
    ("minmax", 0.3, None, "higher", 0.2, 0.6, 25.0),
    ("minmax", 0.3, None, "lower", 0.2, 0.6, 75.0),
    ("minmax", 0.4, None, "higher", 0.4, 0.4, 100.0),  # all peers equal
])
def test_points(rule: str, value: float, target: float | None, direction: str,
                lo: float | None, hi: float | None, want: float | None) -> None:
    from metrics.ranking import points

    got = points(rule, value, target, direction, lo, hi)
    assert got == (pytest.approx(want) if want is not None else None)
