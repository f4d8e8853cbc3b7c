"""Consultation and property: resident consultation topics (幸福夜话, 书记唠嗑会, 群英议事会,
院落会) kept in the grid system's database, and monthly property-fee collection in the old
estates that the "大物业" model took over.

Seed figures: 300+ difficult issues resolved through consultation (≈ 85 % of topics), property
fee collection 88 %+ on average, varying by community.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from gongzhi.demo.common import (
    DAY,
    DemoContext,
    SourceEntry,
    pick,
    seq_ids,
    ts_text,
    write_csv,
    write_sqlite,
)
from gongzhi.demo.geography import Geography
from gongzhi.demo.grid import GRID_DB

TOPICS = 360
DELETED = 6  # entries the office deleted (soft delete flag), which the source query leaves out
OLD_ESTATE_COMMUNITIES = 60
MECHANISMS = ("幸福夜话", "书记唠嗑会", "群英议事会", "院落会")
ISSUES = ("加装电梯", "停车难", "楼道堆物清理", "路灯维修", "垃圾分类点位设置", "物业服务费调整",
          "雨污管网改造", "广场舞噪音", "电动车充电桩建设", "健身器材更新", "绿化带改造",
          "小区大门改造", "化粪池清掏", "屋顶漏水维修", "背街小巷硬化", "养犬管理")
STATUS_ZH = ("已提出", "协商中", "已解决")
TOPIC_TABLE = "YS_YTXX"  # 议事议题信息
TOPIC_DDL = f"""
CREATE TABLE IF NOT EXISTS {TOPIC_TABLE} (
    YTBH VARCHAR(32) PRIMARY KEY,  -- 议题编号
    SQBM VARCHAR(12),              -- 社区编码
    XSMC VARCHAR(32),              -- 议事形式
    YTMC VARCHAR(200),             -- 议题名称
    TCSJ VARCHAR(19),              -- 提出时间
    JJSJ VARCHAR(19),              -- 解决时间
    ZT VARCHAR(8),                 -- 状态
    SCBZ INTEGER DEFAULT 0,        -- 删除标志
    GXSJ VARCHAR(19) NOT NULL      -- 更新时间
);
"""
TOPIC_QUERY = (f"SELECT YTBH, SQBM, XSMC, YTMC, TCSJ, JJSJ, ZT, GXSJ FROM {TOPIC_TABLE} "
               "WHERE SCBZ = 0")


def build(ctx: DemoContext, geo: Geography) -> list[SourceEntry]:
    return [_consultations(ctx, geo), _property_fees(ctx, geo)]


def _consultations(ctx: DemoContext, geo: Geography) -> SourceEntry:
    rng = ctx.rng("consultations")
    n = TOPICS + DELETED
    comm = rng.choice(geo.n, n, p=geo.residents / geo.residents.sum())
    # 幸福夜话 is the peri-urban villages' platform; the compounds use the other three.
    mech = np.where(~geo.urban[comm], 0, rng.choice([1, 2, 3], n, p=[0.35, 0.35, 0.30]))
    day = rng.integers(ctx.first_day, ctx.last_day + 1, n)
    tod = np.where(mech == 0, 19 * 3600 + 1800, rng.integers(9 * 3600, 20 * 3600, n))
    raised = day * DAY + tod
    order = np.argsort(raised, kind="stable")
    comm, mech, raised = comm[order], mech[order], raised[order]
    # Most topics are settled at the next meeting or two, a few take months.
    resolved = raised + np.minimum(2 + np.round(rng.gamma(1.5, 8.0, n)), 90).astype(np.int64) * DAY
    done = (rng.random(n) < 0.87) & (resolved <= ctx.end_secs)
    status = np.where(done, 2, np.where(rng.random(n) < 0.65, 1, 0))
    modified = np.where(done, resolved, raised + np.minimum(
        rng.integers(1, 10, n) * DAY, np.maximum(ctx.end_secs - raised, 0)))
    deleted = np.zeros(n, dtype=np.int64)
    deleted[rng.choice(n, DELETED, replace=False)] = 1
    frame = pl.DataFrame({
        "YTBH": seq_ids("YT", 1, n, 6),
        "SQBM": pick(geo.codes, comm),
        "XSMC": pick(MECHANISMS, mech),
        "YTMC": pl.Series(np.char.add(geo.names[comm], np.array(ISSUES)[
            rng.integers(0, len(ISSUES), n)])),
        "TCSJ": ts_text(ctx.cal, raised),
        "JJSJ": ts_text(ctx.cal, resolved, done),
        "ZT": pick(STATUS_ZH, status),
        "SCBZ": pl.Series(deleted),
        "GXSJ": ts_text(ctx.cal, modified),
    })
    db = ctx.sources / GRID_DB
    write_sqlite(db, TOPIC_DDL, TOPIC_TABLE, frame)
    live = deleted == 0
    ctx.log(f"consultations: {TOPICS} topics ({done[live].mean():.0%} resolved; {DELETED} "
            f"deleted entries left out by the query) → {ctx.rel(db)} table {TOPIC_TABLE}")
    return SourceEntry("consultations", "sql", "consultations",
                       {"url": f"sqlite:///{ctx.rel(db)}", "query": TOPIC_QUERY,
                        "cursor": "GXSJ"},
                       columns={"YTBH": "topic_id", "SQBM": "community_code",
                                "XSMC": "mechanism", "TCSJ": "raised_at", "JJSJ": "resolved_at",
                                "ZT": "status"},
                       comment="议事协商 topics from the grid system's database (by query)")


def _property_fees(ctx: DemoContext, geo: Geography) -> SourceEntry:
    rng = ctx.rng("property_fees")
    urban = np.flatnonzero(geo.urban)
    # The old city (the first eight streets) holds most of the old estates.
    old_city = np.array([s[6:9] <= "008" for s in geo.street[urban]])
    w = np.where(old_city, 3.0, 1.0)
    comms = np.sort(rng.choice(urban, min(OLD_ESTATE_COMMUNITIES, len(urban)), replace=False,
                               p=w / w.sum()))
    months = []
    y, m = ctx.start.year, ctx.start.month
    while (y, m) <= (ctx.end.year, ctx.end.month):
        months.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    nc, nm = len(comms), len(months)
    base_rate = np.clip(rng.normal(0.885, 0.045, nc), 0.75, 0.97)
    billed0 = np.round(geo.households[comms] * rng.uniform(0.15, 0.45, nc))
    t = np.linspace(0.0, 1.0, nm)
    # "先尝后买": collection improves after the 大物业 company takes over.
    rate = np.clip(base_rate[:, None] - 0.015 + 0.03 * t[None, :]
                   + rng.normal(0, 0.01, (nc, nm)), 0.70, 0.99)
    billed = np.round(billed0[:, None] * (1 + rng.normal(0, 0.005, (nc, nm)))).astype(np.int64)
    paid = np.round(billed * rate).astype(np.int64)
    frame = pl.DataFrame({
        "社区编码": np.repeat(geo.codes[comms], nm),
        "社区名称": np.repeat(geo.names[comms], nm),
        "账期": np.tile(months, nc),
        "应缴户数": billed.ravel().astype(str),
        "实缴户数": paid.ravel().astype(str),
        "收缴率": [f"{x:.1%}" for x in (paid / billed).ravel()],
    }).sort("账期", "社区编码", maintain_order=True)
    path = ctx.sources / "civic" / "property_fees.csv"
    pos = frame.height // 2
    frame = frame.with_columns(frame["账期"].scatter(pos, f"{ctx.start.year + 1}-13"))
    ctx.plant("property_fees", path, "bad_format", f"账期 {ctx.start.year + 1}-13")
    write_csv(path, frame, encoding="gb18030",
              title=["樊城区老旧小区物业费收缴情况统计表", "单位：户"])
    ctx.log(f"property_fees: {nc} old-estate communities × {nm} months, collection "
            f"{paid.sum() / billed.sum():.1%} → {ctx.rel(path)} (GB18030)")
    return SourceEntry("property_fees", "files", "property_fees", {"path": ctx.rel(path)},
                       columns={"社区编码": "community_code", "账期": "period",
                                "应缴户数": "households_billed", "实缴户数": "households_paid"},
                       comment="老旧小区物业费收缴 per month (GB18030, title rows)")
