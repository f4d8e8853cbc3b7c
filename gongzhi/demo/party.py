"""Party building (党建): checked-in party members (双报到) with points, the deeds they did for
residents (办实事), and the 262 红色驿站 stations.

Seed figures: 5,000+ checked-in members on the article's date (a few hundred more a year after
it), 2,400+ deeds, 262 stations in three tiers, of which 92 were newly built.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from gongzhi.demo.common import (
    DAY,
    SEED_DATE,
    DemoContext,
    SourceEntry,
    allocate,
    date_text,
    pick,
    seq_ids,
    ts_text,
    write_csv,
)
from gongzhi.demo.geography import Geography

CHECKED_IN_BY_SEED = 5_120  # seed: 5000余名党员干部常态下沉 (on the article's date)
NEW_PER_YEAR = 240  # check-ins after the article
CHECK_INS_BEGAN = dt.date(2019, 6, 1)  # 双报到 began
DEEDS = 2_437  # seed: 为群众办实事好事2400余件
STATIONS = 262  # seed: 打造基础型、标准型、引领型"红色驿站"262个
NEW_STATIONS = 92  # seed: 新建"红色驿站"92个
DEED_KINDS = (("政策宣讲", 0.14), ("矛盾调解", 0.12), ("帮办代办", 0.14), ("环境整治", 0.16),
              ("关爱帮扶", 0.16), ("七点半岗哨", 0.10), ("便民服务", 0.10), ("平安巡逻", 0.08))
TIERS = ("基础型", "标准型", "引领型")
ESTATES = ("锦绣苑", "幸福里", "和谐家园", "阳光小区", "书香苑", "汉江花园", "建设小区", "丽景苑",
           "金色家园", "怡和苑", "晨光小区", "春华苑", "惠民小区", "新城家园", "滨江苑", "康居小区")


def build(ctx: DemoContext, geo: Geography) -> list[SourceEntry]:
    """Write members, deeds and stations."""
    rng = ctx.rng("party_members")
    # 5000余名 checked in by the article's date, since 双报到 began; a few hundred a year after.
    began, seed = ctx.cal.index(CHECK_INS_BEGAN), ctx.cal.index(SEED_DATE)
    before = began + np.floor((seed - began + 1) * rng.random(CHECKED_IN_BY_SEED))
    after = rng.integers(seed + 1, max(seed + 2, ctx.last_day + 1),
                         round(NEW_PER_YEAR * max(0, ctx.last_day - seed) / 365.25))
    day = np.concatenate([before.astype(np.int64), after])
    day = day[day <= ctx.last_day]
    n = len(day)
    comm = rng.choice(geo.n, n, p=geo.residents / geo.residents.sum())
    checked_in = np.sort(day * DAY + rng.integers(8 * 3600, 18 * 3600, n))
    member_ids = seq_ids("DY", 1, n, 6).to_numpy().astype(str)

    deeds_entry, per_member = _deeds(ctx, geo, comm, checked_in, member_ids)
    points = per_member * 10 + np.round(rng.gamma(2.0, 12.0, n) * 2) / 2
    frame = pl.DataFrame({
        "党员编号": member_ids,
        "报到社区编码": pick(geo.codes, comm),
        "报到社区": pick(geo.names, comm),
        "报到时间": ts_text(ctx.cal, checked_in),
        "累计积分": pl.Series(points).cast(pl.String),
    })
    path = write_csv(ctx.sources / "party" / "party_members.csv", frame, encoding="gb18030")
    ctx.log(f"party_members: {n:,} checked in (双报到), {points.mean():.0f} points on average "
            f"→ {ctx.rel(path)} (GB18030)")
    members = SourceEntry("party_members", "files", "party_members", {"path": ctx.rel(path)},
                          columns={"党员编号": "member_id", "报到社区编码": "community_code",
                                   "报到时间": "checked_in_at", "累计积分": "points"},
                          comment="双报到党员 with 积分 (GB18030)")
    return [members, deeds_entry, _stations(ctx, geo)]


def _deeds(ctx: DemoContext, geo: Geography, comm: np.ndarray, checked_in: np.ndarray,
           member_ids: np.ndarray) -> tuple[SourceEntry, np.ndarray]:
    rng = ctx.rng("party_deeds")
    active = rng.gamma(0.8, 1.0, len(member_ids))
    m = rng.choice(len(member_ids), DEEDS, p=active / active.sum())
    lo = np.maximum(ctx.first_day, checked_in[m] // DAY + 1)
    day = lo + np.floor(rng.random(DEEDS) * (ctx.last_day - lo + 1)).astype(np.int64)
    done = day * DAY + rng.integers(8 * 3600, 20 * 3600, DEEDS)
    order = np.argsort(done, kind="stable")
    m, done = m[order], done[order]
    kind_p = np.array([k[1] for k in DEED_KINDS])
    frame = pl.DataFrame({
        "实事编号": seq_ids("BSS", 1, DEEDS, 6),
        "党员编号": pick(member_ids, m),
        "社区编码": pick(geo.codes, comm[m]),
        "办理时间": ts_text(ctx.cal, done),
        "实事类别": pick([k[0] for k in DEED_KINDS],
                        rng.choice(len(DEED_KINDS), DEEDS, p=kind_p / kind_p.sum())),
    })
    path = write_csv(ctx.sources / "party" / "party_deeds.csv", frame)
    ctx.log(f"party_deeds: {DEEDS:,} deeds → {ctx.rel(path)}")
    entry = SourceEntry("party_deeds", "files", "party_deeds", {"path": ctx.rel(path)},
                        columns={"实事编号": "deed_id", "党员编号": "member_id",
                                 "社区编码": "community_code", "办理时间": "done_at",
                                 "实事类别": "kind"},
                        comment="党员办实事记录")
    return entry, np.bincount(m, minlength=len(member_ids))


def _stations(ctx: DemoContext, geo: Geography) -> SourceEntry:
    """Exactly 262 stations: every urban community, most villages (the seed speaks of stations
    "covering every community"), more in the big ones."""
    rng = ctx.rng("stations")
    villages = np.flatnonzero(~geo.urban)
    with_village = rng.choice(villages, round(0.88 * len(villages)), replace=False)
    per = np.zeros(geo.n, dtype=np.int64)
    per[geo.urban] = 1
    per[with_village] = 1
    urban = np.flatnonzero(geo.urban)
    extra = allocate(STATIONS - int(per.sum()), geo.households[urban].astype(float))
    per[urban] += extra
    comm = np.repeat(np.arange(geo.n), per)
    k = np.concatenate([np.arange(c) for c in per if c])
    estate = np.array(ESTATES)[(k - 1 + rng.integers(0, len(ESTATES), len(k))) % len(ESTATES)]
    names = np.where(k == 0, np.char.add(geo.names[comm], "红色驿站"),
                     np.char.add(np.char.add(geo.names[comm], estate), "红色驿站"))
    # Two stations in one community may not share a compound name.
    names = np.array([nm if nm not in names[:i] else nm.replace("红色驿站", f"{i}号红色驿站")
                      for i, nm in enumerate(names)])
    tier = rng.choice(3, STATIONS, p=[0.6, 0.3, 0.1])
    new = np.zeros(STATIONS, dtype=bool)
    new[rng.choice(STATIONS, NEW_STATIONS, replace=False)] = True
    old_lo, old_hi = ctx.cal.index(dt.date(2018, 3, 1)), ctx.cal.index(dt.date(2021, 12, 31))
    new_lo, new_hi = ctx.cal.index(dt.date(2022, 1, 1)), ctx.cal.index(dt.date(2023, 6, 30))
    opened = np.where(new, rng.integers(new_lo, new_hi + 1, STATIONS),
                      rng.integers(old_lo, old_hi + 1, STATIONS))
    opened = np.minimum(opened, ctx.last_day)
    frame = pl.DataFrame({
        "驿站编号": seq_ids("YZ", 1, STATIONS, 4),
        "驿站名称": names,
        "所属社区编码": pick(geo.codes, comm),
        "驿站类型": pick(TIERS, tier),
        "建成日期": date_text(ctx.cal, opened),
    })
    path = write_csv(ctx.sources / "party" / "stations.csv", frame)
    covered = int((per > 0).sum())
    ctx.log(f"stations: {STATIONS} 红色驿站 in {covered} of {geo.n} communities "
            f"({int((tier == 2).sum())} leading, {int((tier == 1).sum())} standard) "
            f"→ {ctx.rel(path)}")
    return SourceEntry("stations", "files", "stations", {"path": ctx.rel(path)},
                       columns={"驿站编号": "station_id", "驿站名称": "name",
                                "所属社区编码": "community_code", "驿站类型": "tier",
                                "建成日期": "opened_at"},
                       comment="红色驿站 register")
