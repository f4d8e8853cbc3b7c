"""社区"两委"班子"三色研判": the organisation department's half-yearly assessments of every
community's committees (June and December), kept as a spreadsheet export.

Seed figures: "2021年以来对8个软弱涣散党组织等红色后进支部班子进行提级管理、集中整顿": exactly 8
communities are put under 提级管理 from 2021 up to the article's date (2023-08-14), none after
it, so ``party.committees_escalated`` (to date) is 8 for every year after 2022. An escalated
committee is rated red, stays escalated for the next assessment while it is rectified, and
is rated blue or yellow afterwards. The other colours (about 1.5 % red 后进 committees that are
not escalated, 12 % yellow, the rest blue) and the scores are demo assumptions: the article
gives no figures for them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from gongzhi.demo.common import SEED_DATE, DemoContext, SourceEntry, pick, seq_ids, write_csv
from gongzhi.demo.geography import Geography

ESCALATED = 8  # seed: 2021年以来对8个软弱涣散党组织…进行提级管理
FIRST_YEAR = 2021  # seed: 2021年以来
RED_SHARE = 0.015  # demo: red 后进 committees that are not escalated, per assessment
YELLOW_SHARE = 0.12  # demo
COLOUR_ZH = ("红色", "黄色", "蓝色")  # index 0 red, 1 yellow, 2 blue
RECTIFICATION_ZH = ("无需整改", "未整改", "整改中", "已整改")
RED_REASONS = ("软弱涣散，组织生活不规范", "班子凝聚力不强，议事决策不规范", "重点工作推进滞后",
               "群众满意度测评排名靠后", "矛盾纠纷化解不力，信访问题突出")
YELLOW_REASONS = ("为民服务意识有待加强", "议事协商开展不经常", "网格管理不到位",
                  "党员作用发挥不充分", "台账资料不规范")
HEADERS = {"研判编号": "assessment_id", "社区编码": "community_code", "研判期次": "period",
           "综合得分": "score", "研判结果": "colour", "研判理由": "reasons",
           "是否提级管理": "escalated", "整改情况": "rectification"}


def periods(end: dt.date) -> list[str]:
    """The June and December assessments from 2021 whose month has ended by ``end``."""
    out = []
    for year in range(FIRST_YEAR, end.year + 1):
        for month, last in ((6, dt.date(year, 6, 30)), (12, dt.date(year, 12, 31))):
            if last <= end:
                out.append(f"{year}-{month:02d}")
    return out


def build(ctx: DemoContext, geo: Geography) -> list[SourceEntry]:
    """Write the assessments (one row per community and half year)."""
    rng = ctx.rng("committee_assessments")
    terms = periods(ctx.end)
    n, m = geo.n, len(terms)
    colour = np.where(rng.random((n, m)) < YELLOW_SHARE, 1, 2)
    colour[rng.random((n, m)) < RED_SHARE] = 0
    escalated = np.zeros((n, m), dtype=bool)
    # the 8 escalated communities, each at an assessment made before the article's date
    before = [j for j, p in enumerate(terms) if p < f"{SEED_DATE.year}-{SEED_DATE.month:02d}"]
    weak = rng.choice(n, min(ESCALATED, n), replace=False)
    at = rng.choice(before, len(weak)) if before else np.zeros(0, dtype=np.int64)
    for c, j in zip(weak, at, strict=True):
        colour[c, j] = 0
        escalated[c, j] = True
        if j + 1 < m:  # still escalated at the next one, while it is being rectified
            escalated[c, j + 1] = True
            colour[c, j + 1] = 1
        colour[c, j + 2:j + 4] = 2  # and out of the red zone afterwards
    latest = np.arange(m)[None, :] == m - 1
    # rectification: blue has nothing to rectify; earlier reds and yellows are mostly done,
    # of the latest assessment's a third are done, the rest pending or in progress
    u = rng.random((n, m))
    rect = np.where(colour == 2, 0, np.where(latest, np.where(u < 0.35, 3, np.where(
        u < 0.55, 1, 2)), np.where(u < 0.9, 3, 2)))
    rect = np.where(escalated & ~latest, 3, rect)  # every escalated committee was rectified
    low = np.where(colour == 0, 48, np.where(colour == 1, 65, 80))
    score = np.round(low + rng.random((n, m)) * np.where(colour == 2, 18, 14), 1)
    reasons = np.where(colour == 0, np.array(RED_REASONS)[rng.integers(0, 5, (n, m))],
                       np.where(colour == 1, np.array(YELLOW_REASONS)[rng.integers(0, 5, (n, m))],
                                ""))
    reasons = np.where(escalated & (colour == 0), "软弱涣散党组织，提级管理、集中整顿", reasons)
    comm = np.repeat(np.arange(n), m)
    frame = pl.DataFrame({
        "研判编号": seq_ids("YP", 1, n * m, 6),
        "社区编码": pick(geo.codes, comm),
        "社区名称": pick(geo.names, comm),
        "研判期次": np.tile(terms, n),
        "综合得分": pl.Series(score.ravel()).cast(pl.String),
        "研判结果": pick(COLOUR_ZH, colour.ravel()),
        "研判理由": pl.Series(reasons.ravel()).replace("", None),
        "是否提级管理": np.where(escalated.ravel(), "是", "否"),
        "整改情况": pick(RECTIFICATION_ZH, rect.ravel()),
    }).sort("研判期次", "社区编码", maintain_order=True)
    path = write_csv(ctx.sources / "party" / "committee_assessments.csv", frame)
    ctx.log(f"committee_assessments: {n} communities × {m} half-yearly 三色研判 "
            f"({int((colour == 0).sum())} red, {int(escalated.any(axis=1).sum())} communities "
            f"escalated since {FIRST_YEAR}) → {ctx.rel(path)}")
    return [SourceEntry("committee_assessments", "files", "committee_assessments",
                        {"path": ctx.rel(path)}, columns=dict(HEADERS),
                        comment='社区"两委"班子"三色研判" (half-yearly)')]
