"""Grid management: event categories, the grid staff roster, and grid events in the grid
system's own SQLite database (pinyin-abbreviated column names, times as VARCHAR local time,
a last-modified column ``GXSJ`` the ``sql`` plugin reads by cursor).

Proportions (seed and DESIGN §5): registration ≈ 98 %, closure ≈ 95 %, on-time closure ≈ 90 %,
rework ≈ 3 %, satisfaction mostly 4–5; disputes ≈ 10 % of events, ≈ 90 % mediated;
1,338 community workers as grid workers (895 party members, all trained, 51 % certified);
the 895 party members each in a grid of their own (895名党员社区工作者全部划分到网格党支部: 895 of
the 984 grids have a party-member worker); 2,216 building heads (2200余名楼栋长), each assigned to
a building of the register (:mod:`gongzhi.demo.buildings`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from gongzhi.demo import people
from gongzhi.demo.buildings import Layout
from gongzhi.demo.common import (
    DAY,
    DemoContext,
    SourceEntry,
    allocate,
    daytime_seconds,
    pick,
    quarters,
    sample_days,
    seq_ids,
    ts_text,
    write_csv,
    write_sqlite,
    yes_no,
)
from gongzhi.demo.geography import Geography

EVENTS_AT_SCALE_1 = 30_000
GRID_DB = "grid_system.db"
EVENT_TABLE = "WG_SJXX"  # 网格事件信息
# name, group, share of events, days allowed after registration, residents report it more
CATEGORIES = (
    ("环境卫生", "城市管理", 0.22, 3, False, "垃圾堆放、卫生死角、污水外溢等"),
    ("占道经营", "城市管理", 0.13, 3, False, "流动摊贩、店外经营、乱摆乱放"),
    ("违章搭建", "城市管理", 0.05, 7, False, "私搭乱建、圈占公共空间"),
    ("噪音扰民", "城市管理", 0.07, 3, True, "施工、商铺、广场舞等噪音"),
    ("设施损坏", "市政设施", 0.13, 5, False, "路灯、井盖、道路、健身器材损坏"),
    ("园林绿化", "市政设施", 0.04, 5, False, "绿地毁损、树木倒伏、杂草丛生"),
    ("安全隐患", "平安建设", 0.11, 3, False, "消防通道堵塞、飞线充电、危房等"),
    ("矛盾纠纷", "平安建设", 0.10, 7, True, "邻里、家庭、物业、劳资等矛盾纠纷"),
    ("物业管理", "民生服务", 0.08, 5, True, "物业服务、停车、电梯等问题"),
    ("民生诉求", "民生服务", 0.07, 5, True, "低保、养老、就业等诉求"),
)
DISPUTE = 7
SOURCES_ZH = ("网格员上报", "居民上报", "12345热线", "其他")
# Times are VARCHAR(19) local wall time, as many government systems keep them; the cursor
# column GXSJ then compares as plain text, which orders correctly in this fixed format.
EVENT_DDL = f"""
CREATE TABLE IF NOT EXISTS {EVENT_TABLE} (
    SJBH VARCHAR(32) PRIMARY KEY,  -- 事件编号
    WGBM VARCHAR(15),              -- 网格编码
    SJLX VARCHAR(32),              -- 事件类型
    SJLY VARCHAR(16),              -- 事件来源
    SBSJ VARCHAR(19),              -- 上报时间
    LASJ VARCHAR(19),              -- 立案时间
    PQSJ VARCHAR(19),              -- 派遣时间
    CZSJ VARCHAR(19),              -- 处置时间
    JASJ VARCHAR(19),              -- 结案时间
    CLQX VARCHAR(19),              -- 处理期限
    SFFG INTEGER,                  -- 是否返工
    MYD INTEGER,                   -- 满意度
    SFJF INTEGER,                  -- 是否矛盾纠纷
    TJCG INTEGER,                  -- 调解成功
    GXSJ VARCHAR(19) NOT NULL,     -- 更新时间
    JD REAL,                       -- 经度 (WGS84)
    WD REAL                        -- 纬度 (WGS84)
);
CREATE INDEX IF NOT EXISTS IX_{EVENT_TABLE}_GXSJ ON {EVENT_TABLE} (GXSJ);
"""
EVENT_COLUMNS = {
    "SJBH": "event_id", "WGBM": "grid_code", "SJLX": "category", "SJLY": "source",
    "SBSJ": "reported_at", "LASJ": "registered_at", "PQSJ": "dispatched_at",
    "CZSJ": "resolved_at", "JASJ": "closed_at", "CLQX": "deadline_at", "SFFG": "reworked",
    "MYD": "satisfaction", "SFJF": "is_dispute", "TJCG": "mediated",
    "JD": "longitude", "WD": "latitude",
}
GRID_WORKERS = 1338  # seed: 1338名社区工作者
PARTY_WORKERS = 895  # seed: 895名党员社区工作者
CERTIFIED_SHARE = 0.51  # seed: 社工证持证率51%


def build_categories(ctx: DemoContext) -> SourceEntry:
    frame = pl.DataFrame({
        "事件类别": [c[0] for c in CATEGORIES],
        "类别名称": [c[0] for c in CATEGORIES],
        "所属大类": [c[1] for c in CATEGORIES],
        "处置时限（天）": [str(c[3]) for c in CATEGORIES],
        "说明": [c[5] for c in CATEGORIES],
    })
    path = write_csv(ctx.sources / "grid" / "event_categories.csv", frame)
    return SourceEntry("grid_event_categories", "files", "grid_event_categories",
                       {"path": ctx.rel(path)},
                       columns={"事件类别": "category", "类别名称": "name",
                                "所属大类": "group_name", "说明": "description"},
                       comment="网格事件类别 of the grid system")


def build_events(ctx: DemoContext, geo: Geography) -> SourceEntry:
    """Write grid events into the grid system's database, a quarter at a time."""
    total = ctx.volume(EVENTS_AT_SCALE_1, 200)
    db = ctx.sources / GRID_DB
    periods = list(quarters(ctx.start, ctx.end))
    lengths = np.array([(b - a).days + 1 for _, a, b in periods], dtype=float)
    counts = allocate(total, lengths)
    next_id = 1
    stats = np.zeros(4)
    for q, ((_, a, b), n) in enumerate(zip(periods, counts, strict=True)):
        frame, s = _events(ctx, ctx.rng("grid_events", q), geo, int(n),
                           ctx.cal.index(a), ctx.cal.index(b), next_id)
        if q == 0:
            frame = _plant(ctx, frame, geo)
        write_sqlite(db, EVENT_DDL, EVENT_TABLE, frame)
        next_id += int(n)
        stats += s
    reg, closed, ontime = stats[1] / stats[0], stats[2] / stats[1], stats[3] / stats[1]
    ctx.log(f"grid_events: {total:,} events (registered {reg:.1%}, closed {closed:.1%}, on time "
            f"{ontime:.1%}) → {ctx.rel(db)} table {EVENT_TABLE}")
    return SourceEntry("grid_events", "sql", "grid_events",
                       {"url": f"sqlite:///{ctx.rel(db)}", "source_table": EVENT_TABLE,
                        "cursor": "GXSJ"},
                       columns=dict(EVENT_COLUMNS),
                       comment="网格事件 from the grid system's database, read by GXSJ (更新时间)")


def _events(ctx: DemoContext, rng: np.random.Generator, geo: Geography, n: int, lo: int,
            hi: int, first_id: int) -> tuple[pl.DataFrame, np.ndarray]:
    cal = ctx.cal
    days = np.arange(lo, hi + 1)
    day = sample_days(rng, n, days, np.where(cal.is_work[days], 1.0, 0.8))
    reported = np.sort(day * DAY + daytime_seconds(rng, n, 7, 21))
    grid = rng.choice(len(geo.grid_codes), n, p=geo.grid_households / geo.grid_households.sum())
    share = np.array([c[2] for c in CATEGORIES])
    cat = rng.choice(len(CATEGORIES), n, p=share / share.sum())
    resident_heavy = np.array([c[4] for c in CATEGORIES])[cat]
    u = rng.random(n)
    source = np.where(resident_heavy, np.searchsorted([0.30, 0.70, 0.97], u, side="right"),
                      np.searchsorted([0.60, 0.82, 0.98], u, side="right"))

    registered = reported + rng.integers(300, 3 * 3600, n)
    dispatched = registered + rng.integers(300, 4 * 3600, n)
    allowed = np.array([c[3] for c in CATEGORIES])[cat] * DAY
    deadline = registered + allowed
    late = rng.random(n) < 0.06
    close = np.where(late, deadline + rng.integers(2 * 3600, 8 * DAY, n),
                     registered + (allowed * rng.beta(1.6, 3.2, n)).astype(np.int64))
    close = np.maximum(close, dispatched + 1800)
    resolved = dispatched + ((close - dispatched) * rng.uniform(0.55, 0.9, n)).astype(np.int64)

    end = ctx.end_secs
    is_reg = (rng.random(n) >= 0.02) & (registered <= end)
    stuck = rng.random(n) < 0.04  # long-running cases that are still being handled
    has_disp = is_reg & (dispatched <= end)
    has_res = has_disp & ~(stuck & (rng.random(n) < 0.6)) & (resolved <= end)
    has_close = has_res & ~stuck & (close <= end)
    reworked = has_close & (rng.random(n) < 0.03)
    rated = has_close & (rng.random(n) < 0.88)
    satisfaction = np.where(rated, rng.choice(5, n, p=[0.015, 0.025, 0.06, 0.28, 0.62]) + 1, 0)
    dispute = cat == DISPUTE
    mediated = np.where(dispute & has_close, (rng.random(n) < 0.9).astype(np.int64), -1)
    modified = np.where(has_close, close, np.where(has_res, resolved, np.where(
        has_disp, dispatched, np.where(is_reg, registered, reported + rng.integers(600, 7200, n)))))
    modified = np.minimum(modified, np.maximum(end, reported))

    rep_text = ts_text(cal, reported)
    frame = pl.DataFrame({
        "SJBH": "SJ" + rep_text.str.slice(0, 10).str.replace_all("-", "")
        + seq_ids("", first_id, n, 7),
        "WGBM": pick(geo.grid_codes, grid),
        "SJLX": pick([c[0] for c in CATEGORIES], cat),
        "SJLY": pick(SOURCES_ZH, source),
        "SBSJ": rep_text,
        "LASJ": ts_text(cal, registered, is_reg),
        "PQSJ": ts_text(cal, dispatched, has_disp),
        "CZSJ": ts_text(cal, resolved, has_res),
        "JASJ": ts_text(cal, close, has_close),
        "CLQX": ts_text(cal, deadline, is_reg),
        "SFFG": pl.Series(np.where(has_close, reworked.astype(np.int64), 0)),
        "MYD": pl.Series(satisfaction).replace(0, None),
        "SFJF": pl.Series(dispute.astype(np.int64)),
        "TJCG": pl.Series(mediated).replace(-1, None),
        "GXSJ": ts_text(cal, modified),
        **_positions(ctx, geo, grid, first_id),
    })
    ontime = has_close & (close <= deadline)
    stats = np.array([n, is_reg.sum(), has_close.sum(), ontime.sum()], dtype=float)
    return frame, stats


def _positions(ctx: DemoContext, geo: Geography, grid: np.ndarray,
               first_id: int) -> dict[str, pl.Series]:
    """Where each event was reported: one of the positions drawn inside its grid (a stream of
    its own, so the events' other values do not change with it)."""
    if geo.grid_points is None:
        return {}
    rng = ctx.rng("event_points", first_id)
    pts = geo.grid_points[grid, rng.integers(0, geo.grid_points.shape[1], len(grid))]
    return {"JD": pl.Series(np.round(pts[:, 0], 6)), "WD": pl.Series(np.round(pts[:, 1], 6))}


def _plant(ctx: DemoContext, frame: pl.DataFrame, geo: Geography) -> pl.DataFrame:
    """A grid code the grid list does not have, a satisfaction of 9, a missing report time."""
    n = frame.height
    closed = frame["MYD"].is_not_null().arg_true().to_list()
    bad_grid = f"{geo.codes[0]}999"
    frame = frame.with_columns(frame["WGBM"].scatter(n // 4, bad_grid))
    rated = [i for i in closed if i not in (n // 4, 3 * n // 4)]
    frame = frame.with_columns(frame["MYD"].scatter(rated[len(rated) // 2], 9))
    frame = frame.with_columns(frame["SBSJ"].scatter(3 * n // 4, None))
    where = f"{ctx.rel(ctx.sources / GRID_DB)} {EVENT_TABLE}"
    for reason, what in (("unknown_grid", f"WGBM {bad_grid}"), ("out_of_range", "MYD 9"),
                         ("missing_value", "SBSJ empty")):
        ctx.plant_at("grid_events", where, reason, what)
    return frame


def build_staff(ctx: DemoContext, geo: Geography, lay: Layout) -> SourceEntry:
    """Grid workers, building heads (each with the building of ``lay`` they look after) and
    grid party-branch secretaries, one row per post."""
    rng = ctx.rng("grid_staff")
    g = len(geo.grid_codes)
    hh = geo.grid_households.astype(float)
    # ≈ 2 % of grids wait for a worker; the largest grids get a second one.
    empty = rng.choice(g, round(0.02 * g), replace=False)
    staffed = np.setdiff1d(np.arange(g), empty)
    extra = GRID_WORKERS - len(staffed)
    second = rng.choice(staffed, extra, replace=False, p=hh[staffed] / hh[staffed].sum())
    w_grid = np.sort(np.concatenate([staffed, second]))
    # one party member in each of PARTY_WORKERS staffed grids (the first worker of the grid)
    firsts = np.flatnonzero(np.r_[True, w_grid[1:] != w_grid[:-1]])
    w_party = np.zeros(GRID_WORKERS, dtype=bool)
    w_party[rng.choice(firsts, PARTY_WORKERS, replace=False)] = True
    w_cert = np.zeros(GRID_WORKERS, dtype=bool)
    w_cert[rng.choice(GRID_WORKERS, round(CERTIFIED_SHARE * GRID_WORKERS), replace=False)] = True

    b_grid = lay.grid[lay.heads]
    nb = len(b_grid)
    b_party = rng.random(nb) < 0.48
    b_trained = rng.random(nb) < 0.65
    # A party branch per grid whose worker is a party member (网格党支部).
    s_grid = np.unique(w_grid[w_party])

    grid_ids = np.concatenate([w_grid, b_grid, s_grid])
    n = len(grid_ids)
    building = [None] * GRID_WORKERS + list(lay.codes[lay.heads]) + [None] * len(s_grid)
    role = ["网格员"] * GRID_WORKERS + ["楼栋长"] * nb + ["网格党支部书记"] * len(s_grid)
    frame = pl.DataFrame({
        "人员编号": pl.concat([seq_ids("WGY", 1, GRID_WORKERS, 5),
                               seq_ids("LDZ", 1, nb, 5), seq_ids("ZBSJ", 1, len(s_grid), 4)]),
        "网格编码": pick(geo.grid_codes, grid_ids),
        "所属社区": pick(geo.names, geo.grid_community[grid_ids]),
        "岗位": role,
        "楼栋编码": pl.Series(building, dtype=pl.String),
        "姓名": people.names(rng, n),
        "联系电话": people.mobiles(rng, n),
        "是否党员": yes_no(np.concatenate([w_party, b_party, np.ones(len(s_grid), bool)])),
        "持有社工证": yes_no(np.concatenate([w_cert, np.zeros(nb, bool),
                                            rng.random(len(s_grid)) < CERTIFIED_SHARE]),
                         "持证", "未持证"),
        "参加培训": yes_no(np.concatenate([np.ones(GRID_WORKERS, bool), b_trained,
                                          np.ones(len(s_grid), bool)]), "已培训", "未培训"),
    })
    path = write_csv(ctx.sources / "grid" / "grid_staff.csv", frame, encoding="gb18030")
    ctx.log(f"grid_staff: {GRID_WORKERS} grid workers ({PARTY_WORKERS} party members in "
            f"{len(np.unique(w_grid[w_party]))} grids, {len(np.unique(w_grid))} grids staffed), "
            f"{nb} building heads, {len(s_grid)} branch secretaries → {ctx.rel(path)} (GB18030)")
    return SourceEntry("grid_staff", "files", "grid_staff", {"path": ctx.rel(path)},
                       columns={"人员编号": "staff_id", "网格编码": "grid_code", "岗位": "role",
                                "楼栋编码": "building_code", "姓名": "name", "联系电话": "phone",
                                "是否党员": "is_party_member",
                                "持有社工证": "certified_social_worker", "参加培训": "trained"},
                       comment="网格人员 roster of the grid system (GB18030)")
