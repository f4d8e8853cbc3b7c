"""The demo's 三色研判 and 议事协商 by mechanism: `gongzhi kpi --format json` gives each new KPI
a value for the latest full year, equal to a count made here from the demo's own source
files, and the article's figure (8 committees under 提级管理 since 2021) holds."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from gongzhi.cli import cli
from gongzhi.demo.common import SEED_DATE

YEAR = "2024"  # office_demo ends 2025-06-30: the latest full year
KPIS = ("party.committees_red", "party.committees_escalated",
        "party.committee_rectification_rate")


def kpi_json(config: Path, *args: str) -> list[dict]:
    res = CliRunner().invoke(cli, ["--config", str(config), "kpi", "--format", "json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_the_committee_kpis_match_the_demo_files_and_the_article(office_demo: Path) -> None:
    rows = {r["kpi"]: r for r in kpi_json(office_demo, "--period", YEAR,
                                         *(a for k in KPIS for a in ("--kpi", k)))}
    src = pl.read_csv(office_demo.parent / "sources" / "party" /
                      "committee_assessments.csv", infer_schema=False)
    escalated = src.filter(pl.col("是否提级管理") == "是")
    # the article: 8 committees escalated since 2021, each first escalated before its date
    # (an escalated committee stays so at the next assessment, while it is rectified)
    first = escalated.group_by("社区编码").agg(pl.col("研判期次").min())["研判期次"]
    assert first.len() == 8
    assert first.max() < f"{SEED_DATE:%Y-%m}" and first.min() >= "2021-01"
    assert rows["party.committees_escalated"]["value"] == 8.0
    year = src.filter(pl.col("研判期次").str.starts_with(YEAR))
    red = year.filter(pl.col("研判结果") == "红色")
    assert rows["party.committees_red"]["value"] == float(red["社区编码"].n_unique())
    done = red.filter(pl.col("整改情况") == "已整改").height
    rate = rows["party.committee_rectification_rate"]
    assert (rate["numerator"], rate["denominator"]) == (float(done), float(red.height))
    assert all(rows[k]["value"] is not None for k in KPIS)


def test_consultations_split_by_mechanism_cover_every_topic(office_demo: Path) -> None:
    total = kpi_json(office_demo, "--period", YEAR, "--kpi", "civic.consultation_topics")
    split = kpi_json(office_demo, "--period", YEAR, "--kpi", "civic.consultation_topics",
                     "--by", "mechanism")
    with sqlite3.connect(office_demo.parent / "sources" / "grid_system.db") as con:
        by_hand = dict(con.execute(
            "SELECT XSMC, count(*) FROM YS_YTXX WHERE SCBZ = 0 AND TCSJ >= ? AND TCSJ < ? "
            "GROUP BY XSMC", (f"{YEAR}-01-01", f"{int(YEAR) + 1}-01-01")).fetchall())
    assert {r["key"]: r["value"] for r in split} == {k: float(v) for k, v in by_hand.items()}
    assert sum(r["value"] for r in split) == total[0]["value"]
