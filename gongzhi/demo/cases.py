"""Service cases (办件): quarterly exports from the government-service platform.

Files alternate between the two shapes district offices send: GB18030 with Chinese headers,
Chinese values and a title row above the header, and UTF-8 with canonical headers (one with a
BOM). At large scales only the first two keep the office shapes and the bulk is canonical
UTF-8, split so that no file holds more than a million rows.

Proportions (seed and DESIGN §5): online ≈ 60 % and growing, window ≈ 27 %, station ≈ 8 %,
self-service 2 %, help desk ≈ 3.5 % (5,000+ at scale 1); ≈ 96 % completed within the item's
promised working days; zero visits ≈ 70 %; ≈ 80 % rated, 97 % of ratings 3 or better, 95 % of
bad ratings rectified.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from gongzhi.demo.common import (
    DAY,
    DemoContext,
    SourceEntry,
    allocate,
    chunk_bounds,
    office_seconds,
    online_seconds,
    pick,
    quarters,
    row_at,
    sample_days,
    seq_ids,
    ts_text,
    write_csv,
)
from gongzhi.demo.geography import Geography
from gongzhi.demo.government import Catalogue

CASES_AT_SCALE_1 = 150_000
BULK_SCALE = 5  # above this scale only the first two files keep the office shapes
CHANNELS = ("online", "window", "station", "self_service", "help_desk")
CHANNEL_ZH = ("网上办", "窗口办理", "红色驿站", "自助终端", "帮办代办")
STATUSES = ("accepted", "completed", "rejected", "withdrawn")
STATUS_ZH = ("办理中", "已办结", "不予受理", "已撤回")
RATING_ZH = (None, "非常不满意", "不满意", "基本满意", "满意", "非常满意")
RATING_P = np.array([0.012, 0.018, 0.035, 0.135, 0.80])
ZH_COLUMNS = {"办件编号": "case_id", "事项编码": "item_code", "所属社区编码": "community_code",
              "办理渠道": "channel", "受理时间": "submitted_at", "办结时间": "completed_at",
              "办件状态": "status", "跑动次数": "visits", "评价结果": "rating",
              "差评整改": "rectified"}
SOURCE_ID = "gov_cases"
HELP_DESK_KEY = "help_desk_cases"  # ctx.shared: frames of case_id, community, submitted


def build(ctx: DemoContext, geo: Geography, cat: Catalogue) -> SourceEntry:
    """Write the quarterly case files; return their source entry."""
    total = ctx.volume(CASES_AT_SCALE_1, 400)
    cal = ctx.cal
    days = np.arange(ctx.first_day, ctx.last_day + 1)
    years_in = (days - ctx.first_day) / 365.25
    trend = 1.0 + 0.08 * years_in  # case volumes grow about 8 % a year
    work = cal.is_work[days]
    w_all = trend * np.where(work, 1.0, 0.3)
    periods = list(quarters(ctx.start, ctx.end))
    sums = [w_all[cal.index(a) - ctx.first_day: cal.index(b) - ctx.first_day + 1].sum()
            for _, a, b in periods]
    counts = allocate(total, np.array(sums))

    folder = ctx.sources / "gov" / "cases"
    files = 0
    next_id = 1
    for q, ((label, a, b), n) in enumerate(zip(periods, counts, strict=True)):
        # One quarter at a time, written at once: memory stays bounded at any scale.
        frame = _generate(ctx, ctx.rng("service_cases", q), geo, cat, int(n), cal.index(a),
                          cal.index(b), next_id)
        next_id += int(n)
        # the help-desk cases, for the 帮办团 log (gongzhi/demo/help_teams.py) to refer to
        ctx.shared.setdefault(HELP_DESK_KEY, []).append(
            frame.filter(pl.col("channel") == CHANNELS.index("help_desk"))
            .select("case_id", "community", "submitted"))
        for part, (r0, r1) in enumerate(chunk_bounds(frame.height)):
            suffix = f"_part{part + 1}" if r1 - r0 < frame.height else ""
            _write_file(ctx, files, folder / f"cases_{label}{suffix}.csv",
                        frame.slice(r0, r1 - r0), cat, label)
            files += 1
    ctx.log(f"service_cases: {total:,} cases in {files} files → {ctx.rel(folder)}/")
    return SourceEntry(SOURCE_ID, "files", "service_cases",
                       {"path": ctx.rel(folder) + "/*.csv"},
                       columns=dict(ZH_COLUMNS),
                       comment="办件明细: quarterly exports, GB18030 with Chinese headers and "
                               "UTF-8 with canonical ones")


def _write_file(ctx: DemoContext, i: int, path: Path, frame: pl.DataFrame, cat: Catalogue,
                label: str) -> None:
    """The ``i``-th file: even ones GB18030 with Chinese headers and a title (only the first at
    bulk scales), odd ones canonical UTF-8, the second with a BOM; bad rows in the first two."""
    if i == 0 or (ctx.scale <= BULK_SCALE and i % 2 == 0):
        out = _chinese(frame, cat)
        if i == 0:
            out = _plant_chinese(ctx, out, path)
        title = [f"樊城区政务服务办件明细（{label[:4]}年第{label[5]}季度）",
                 f"数据来源：樊城区一体化政务服务平台，共{out.height}条"]
        write_csv(path, out, encoding="gb18030", title=title)
        return
    out = _canonical(frame)
    if i == 1:
        out = _plant_canonical(ctx, out, path)
    write_csv(path, out, encoding="utf-8-sig" if i == 1 else "utf-8")


def _generate(ctx: DemoContext, rng: np.random.Generator, geo: Geography, cat: Catalogue,
              n: int, lo: int, hi: int, first_id: int) -> pl.DataFrame:
    """``n`` cases submitted between day ``lo`` and ``hi`` (inclusive), typed and sorted."""
    cal = ctx.cal
    days = np.arange(lo, hi + 1)
    work = cal.is_work[days]
    t = ((lo + hi) / 2 - ctx.first_day) / max(1, ctx.last_day - ctx.first_day)
    p = np.array([0.545 + 0.10 * t, 0.32 - 0.10 * t, 0.08, 0.02, 0.035])
    channel = rng.choice(5, n, p=p / p.sum())

    # Windows, stations and the help desk work on working days and in office hours; online
    # and self-service terminals take applications every day.
    anytime = (channel == 0) | (channel == 3)
    day = np.empty(n, dtype=np.int64)
    day[anytime] = sample_days(rng, int(anytime.sum()), days, np.where(work, 1.0, 0.45))
    day[~anytime] = sample_days(rng, int((~anytime).sum()), days[work], np.ones(work.sum()))
    tod = np.where(channel == 0, online_seconds(rng, n),
                   np.where(channel == 3, rng.integers(8 * 3600, 20 * 3600, n),
                            office_seconds(rng, n)))
    submitted = day * DAY + tod

    # Items: most cases are for the 100 high-frequency items; each channel offers its own set.
    pop = np.where(cat.high_frequency, rng.lognormal(0, 1.0, len(cat.codes)) * 25,
                   rng.lognormal(0, 1.2, len(cat.codes)))
    pools = (cat.online, np.ones(len(cat.codes), dtype=bool), cat.station, cat.high_frequency,
             cat.citizen)
    item = np.empty(n, dtype=np.int64)
    for c, pool in enumerate(pools):
        sel = channel == c
        idx = np.flatnonzero(pool)
        w = pop[idx]
        item[sel] = idx[rng.choice(len(idx), int(sel.sum()), p=w / w.sum())]
    community = rng.choice(geo.n, n, p=geo.residents / geo.residents.sum())

    # Completion: within the item's promised working days for ≈ 96 %, a few days late else.
    promised = cat.promised[item]
    late = rng.random(n) < 0.04
    same_day = ~late & ((promised == 0) | ((rng.random(n) < 0.25) & cal.is_work[day]
                                           & (tod < 15 * 3600)))
    offset = np.floor(np.maximum(promised, 1) * rng.beta(1.3, 2.5, n)).astype(np.int64)
    offset = np.where(late, np.maximum(promised, 1) - 1 + rng.integers(1, 6, n), offset)
    pos = np.minimum(cal.cum[day] + offset, len(cal.workdays) - 1)
    done_day = cal.workdays[pos]
    completed = done_day * DAY + office_seconds(rng, n)
    quick = np.minimum(submitted + rng.integers(60, 5400, n), day * DAY + DAY - 1)
    completed = np.where(same_day, quick, completed)

    # ≈ 3.5 % rejected, 2.5 % withdrawn, a few suspended (中止) and still open however old.
    u = rng.random(n)
    status = np.where(u < 0.035, 2, np.where(u < 0.06, 3, np.where(u < 0.068, 0, 1)))
    # A rejection is decided on the next working day; a withdrawn case never completes.
    next_work = cal.workdays[np.minimum(cal.cum[day], len(cal.workdays) - 1)]
    completed = np.where(status == 2, next_work * DAY + office_seconds(rng, n), completed)
    open_now = (completed > ctx.end_secs) | (status == 0)
    status = np.where(open_now & (status != 3), 0, status)
    has_done = (status == 1) | (status == 2)

    visits = np.zeros(n, dtype=np.int64)
    win = channel == 1
    visits[win] = rng.choice([1, 2, 3], int(win.sum()), p=[0.85, 0.13, 0.02])
    st = channel == 2
    visits[st] = (rng.random(int(st.sum())) < 0.45).astype(np.int64)
    rated = (status == 1) & (rng.random(n) < 0.8)
    rating = np.where(rated, rng.choice(5, n, p=RATING_P) + 1, 0)
    rectified = np.where(rating.astype(bool) & (rating <= 2),
                         (rng.random(n) < 0.95).astype(np.int64), -1)

    order = np.argsort(submitted, kind="stable")
    frame = pl.DataFrame({
        "item": item[order], "community": community[order], "channel": channel[order],
        "submitted": submitted[order], "completed": completed[order],
        "has_done": has_done[order], "status": status[order], "visits": visits[order],
        "rating": rating[order], "rectified": rectified[order],
    })
    sub_text = ts_text(cal, frame["submitted"].to_numpy())
    case_id = "FC" + sub_text.str.slice(0, 10).str.replace_all("-", "") + seq_ids(
        "", first_id, n, 8)
    return frame.with_columns(
        case_id=case_id,
        item_code=pick(cat.codes, frame["item"].to_numpy()),
        community_code=pick(geo.codes, frame["community"].to_numpy()),
        submitted_at=sub_text,
        completed_at=ts_text(cal, frame["completed"].to_numpy(), frame["has_done"].to_numpy()),
    )


def _canonical(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        "case_id", "item_code", "community_code",
        pl.col("channel").replace_strict(list(range(5)), list(CHANNELS)).alias("channel"),
        "submitted_at", "completed_at",
        pl.col("status").replace_strict(list(range(4)), list(STATUSES)).alias("status"),
        pl.col("visits").cast(pl.String),
        pl.when(pl.col("rating") > 0).then(pl.col("rating").cast(pl.String)).alias("rating"),
        pl.when(pl.col("rectified") >= 0).then(
            pl.col("rectified").replace_strict([0, 1], ["false", "true"])).alias("rectified"),
    )


def _chinese(frame: pl.DataFrame, cat: Catalogue) -> pl.DataFrame:
    return frame.select(
        pl.col("case_id").alias("办件编号"),
        pl.col("item_code").alias("事项编码"),
        pick(cat.names, frame["item"].to_numpy()).alias("事项名称"),
        pl.col("community_code").alias("所属社区编码"),
        pl.col("channel").replace_strict(list(range(5)), list(CHANNEL_ZH)).alias("办理渠道"),
        pl.col("submitted_at").alias("受理时间"),
        pl.col("completed_at").alias("办结时间"),
        pl.col("status").replace_strict(list(range(4)), list(STATUS_ZH)).alias("办件状态"),
        pl.col("visits").cast(pl.String).alias("跑动次数"),
        pl.col("rating").replace_strict(list(range(6)), list(RATING_ZH),
                                        return_dtype=pl.String).alias("评价结果"),
        pl.col("rectified").replace_strict([-1, 0, 1], [None, "未整改", "已整改"],
                                           return_dtype=pl.String).alias("差评整改"),
    )


def _set(frame: pl.DataFrame, pos: int, column: str, value: str | None) -> pl.DataFrame:
    return frame.with_columns(frame[column].scatter(pos, value))


def _plant_chinese(ctx: DemoContext, out: pl.DataFrame, path: Path) -> pl.DataFrame:
    """An unknown community code (a typo in the code) and a channel word nobody knows."""
    n = out.height
    out = _set(out, n // 3, "所属社区编码", "420606999999")
    ctx.plant(SOURCE_ID, path, "unknown_community", "所属社区编码 420606999999")
    out = _set(out, 2 * n // 3, "办理渠道", "邮寄办理")
    ctx.plant(SOURCE_ID, path, "bad_code", "办理渠道 邮寄办理")
    return out


def _plant_canonical(ctx: DemoContext, out: pl.DataFrame, path: Path) -> pl.DataFrame:
    """An impossible date, a rating of 7, a missing item code and a row exported twice."""
    n = out.height
    year = str(out["submitted_at"][n // 5])[:4]
    out = _set(out, n // 5, "submitted_at", f"{year}-13-45 09:30:00")
    ctx.plant(SOURCE_ID, path, "bad_date", f"submitted_at {year}-13-45")
    taken = {n // 5, 3 * n // 5, 4 * n // 5, min(4 * n // 5 + 3, n - 1)}
    rated = [i for i in out["rating"].is_not_null().arg_true().to_list() if i not in taken]
    out = _set(out, rated[len(rated) // 2], "rating", "7")
    ctx.plant(SOURCE_ID, path, "out_of_range", "rating 7")
    out = _set(out, 3 * n // 5, "item_code", None)
    ctx.plant(SOURCE_ID, path, "missing_value", "item_code empty")
    # The copy takes the place of a later row, so the file keeps its size limit.
    dup = row_at(out, 4 * n // 5)
    at = min(4 * n // 5 + 3, n - 1)
    out = pl.concat([out.slice(0, at), pl.DataFrame([dup], schema=out.schema),
                     out.slice(at + 1)])
    ctx.plant(SOURCE_ID, path, "duplicate", f"case {dup['case_id']} exported twice")
    return out
