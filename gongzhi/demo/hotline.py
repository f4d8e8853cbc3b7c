"""12345 热线 / 接诉即办: the hotline platform's monthly work-order export (工单明细), CSV in
GB18030 with Chinese headers, as a city's 12345 system hands it to the district.

The seed article gives no hotline figures, so the district's own proportions carry it: requests
follow each community's residents (≈ 1 request per 100 residents a year at scale 1, the order
of magnitude of a Chinese city's 12345 traffic), categories follow the shares the grid system
sees for residents' reports, and the 三率 read like a working district: ≈ 97 % responded within
24 hours, ≈ 88 % judged solved, ≈ 93 % 满意 or 基本满意, ≈ 94 % closed by the deadline, ≈ 3 %
reopened. Some descriptions quote a mobile or an ID number, as real ones do: ingestion masks
them before anything is stored.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl

from gongzhi.demo import people
from gongzhi.demo.common import (
    DAY,
    DemoContext,
    SourceEntry,
    daytime_seconds,
    pick,
    sample_days,
    seq_ids,
    ts_text,
    write_csv,
)
from gongzhi.demo.geography import Geography

REQUESTS_PER_RESIDENT_YEAR = 0.01
# category, share, working days allowed, a typical title
CATEGORIES = (
    ("城乡建设", 0.17, 10, "小区道路破损"), ("环境保护", 0.12, 5, "夜间施工噪音扰民"),
    ("物业管理", 0.15, 7, "物业不作为、电梯故障"), ("交通运输", 0.08, 10, "公交站点设置"),
    ("劳动和社会保障", 0.10, 10, "拖欠工资"), ("市场监管", 0.09, 7, "商家虚假宣传"),
    ("教育文体", 0.07, 10, "学位分配咨询"), ("卫生健康", 0.07, 7, "医保报销咨询"),
    ("公安政法", 0.05, 5, "占道停车"), ("其他", 0.10, 10, "其他诉求"),
)
CHANNELS_ZH = ("12345热线", "微信公众号", "手机APP", "政府网站", "其他")
CHANNEL_SHARE = (0.70, 0.12, 0.08, 0.08, 0.02)
COLUMNS = {
    "工单编号": "request_id", "所属社区编码": "community_code", "诉求类别": "category",
    "来源渠道": "channel", "受理时间": "received_at", "派单时间": "dispatched_at",
    "首次响应时间": "responded_at", "办理完成时间": "resolved_at", "办结时间": "closed_at",
    "办理时限": "deadline_at", "是否解决": "resolved", "满意度": "satisfaction",
    "是否重办": "reopened", "诉求标题": "title", "诉求内容": "content",
}


def build(ctx: DemoContext, geo: Geography) -> list[SourceEntry]:
    """Write the work-order export (one file per year); return its source entry."""
    rng = ctx.rng("hotline_requests")
    days = np.arange(ctx.first_day, ctx.last_day + 1)
    n = ctx.volume(round(float(geo.residents.sum()) * REQUESTS_PER_RESIDENT_YEAR
                         * len(days) / 365), 300)
    years, stats = _requests(ctx, rng, geo, days, n)
    folder = ctx.sources / "hotline"
    for year, frame in years:
        write_csv(folder / f"12345_工单明细_{year}.csv", frame,
                  encoding="gb18030", title=(f"樊城区12345热线工单明细（{year}年）",))
    ctx.log(f"hotline_requests: {n:,} requests (responded in 24 h {stats[0]:.1%}, solved "
            f"{stats[1]:.1%} of judged, satisfied {stats[2]:.1%} of rated) → "
            f"{ctx.rel(folder)}")
    return [SourceEntry("hotline_requests", "files", "hotline_requests",
                        {"path": ctx.rel(folder) + "/*.csv"}, columns=dict(COLUMNS),
                        comment="12345 热线工单 exported by the city's hotline platform")]


def _requests(ctx: DemoContext, rng: np.random.Generator, geo: Geography, days: np.ndarray,
              n: int) -> tuple[Iterator[tuple[str, pl.DataFrame]], np.ndarray]:
    cal = ctx.cal
    day = sample_days(rng, n, days, np.where(cal.is_work[days], 1.0, 0.7))
    received = np.sort(day * DAY + daytime_seconds(rng, n, 7, 23))
    comm = rng.choice(geo.n, n, p=geo.residents / geo.residents.sum())
    share = np.array([c[1] for c in CATEGORIES])
    cat = rng.choice(len(CATEGORIES), n, p=share / share.sum())
    channel = rng.choice(len(CHANNELS_ZH), n, p=np.array(CHANNEL_SHARE))

    dispatched = received + rng.integers(600, 6 * 3600, n)
    late_contact = rng.random(n) < 0.03
    responded = dispatched + np.where(late_contact, rng.integers(20 * 3600, 72 * 3600, n),
                                      rng.integers(1800, 16 * 3600, n))
    deadline_days = np.array([c[2] for c in CATEGORIES])[cat]
    deadline = cal.nth_workday_after(day, deadline_days) * DAY + (received - day * DAY)
    late = rng.random(n) < 0.06
    closed = np.where(late, deadline + rng.integers(3600, 6 * DAY, n),
                      responded + ((deadline - responded) * rng.beta(1.5, 2.5, n)).astype(
                          np.int64))
    closed = np.maximum(closed, responded + 3600)
    resolved_at = responded + ((closed - responded) * rng.uniform(0.6, 0.95, n)).astype(np.int64)

    end = ctx.end_secs
    has_disp = dispatched <= end
    has_resp = has_disp & (responded <= end) & (rng.random(n) >= 0.004)
    has_res = has_resp & (resolved_at <= end)
    has_close = has_res & (closed <= end)
    judged = has_close & (rng.random(n) < 0.9)
    solved = judged & (rng.random(n) < 0.88)
    rated = has_close & (rng.random(n) < 0.85)
    sat = np.where(rated, rng.choice(3, n, p=[0.07, 0.25, 0.68]) + 1, 0)
    reopened = has_close & (rng.random(n) < 0.03)

    # every random draw is made for all n requests first, in the order they always were, so
    # a seed gives the same export; the text is then built a year at a time (received is
    # sorted, so a year is one stretch of rows): at city scale the whole export's text was
    # many GB in memory at once
    who = "诉求人" + people.names(rng, n)
    mobiles = pl.Series(rng.integers(13_000_000_000, 19_999_999_999, n)).cast(pl.String)
    quote = pl.Series(rng.random(n))
    ids = _ids(rng, n)
    sat_words = np.array([None, "不满意", "基本满意", "满意"], dtype=object)
    year_of = (np.asarray(received + cal.epoch, dtype="datetime64[s]")
               .astype("datetime64[Y]").astype(np.int64) + 1970)
    bounds = np.flatnonzero(np.diff(year_of)) + 1
    starts, ends = np.r_[0, bounds], np.r_[bounds, n]

    def year_frame(a: int, b: int) -> pl.DataFrame:
        r = slice(a, b)
        titles = pick([c[3] for c in CATEGORIES], cat[r])
        q = quote.slice(a, b - a)
        content = pl.select(
            pl.when(q < 0.05)
            .then(who.slice(a, b - a) + "反映：" + titles + "，请尽快处理，联系电话"
                  + mobiles.slice(a, b - a) + "。")
            .when(q < 0.06).then(who.slice(a, b - a) + "（身份证号" + ids.slice(a, b - a)
                                 + "）反映：" + titles + "。")
            .otherwise("市民反映：" + titles + "，希望有关部门尽快处理。")).to_series()
        rec_text = ts_text(cal, received[r])
        return pl.DataFrame({
            "工单编号": "GD" + rec_text.str.slice(0, 10).str.replace_all("-", "")
            + seq_ids("", a + 1, b - a, 7),
            "所属社区编码": pick(geo.codes, comm[r]),
            "诉求类别": pick([c[0] for c in CATEGORIES], cat[r]),
            "来源渠道": pick(CHANNELS_ZH, channel[r]),
            "受理时间": rec_text,
            "派单时间": ts_text(cal, dispatched[r], has_disp[r]),
            "首次响应时间": ts_text(cal, responded[r], has_resp[r]),
            "办理完成时间": ts_text(cal, resolved_at[r], has_res[r]),
            "办结时间": ts_text(cal, closed[r], has_close[r]),
            "办理时限": ts_text(cal, deadline[r]),
            "是否解决": pl.select(pl.when(pl.Series(judged[r])).then(
                pl.when(pl.Series(solved[r])).then(pl.lit("已解决"))
                .otherwise(pl.lit("未解决")))).to_series(),
            "满意度": pl.Series(sat_words[sat[r]].tolist(), dtype=pl.String),
            "是否重办": pl.Series(np.where(reopened[r], "是", "否"), dtype=pl.String),
            "诉求标题": titles,
            "诉求内容": content,
        })

    frames = ((str(year_of[a]), year_frame(int(a), int(b))) for a, b in zip(starts, ends,
                                                                          strict=True))
    in_time = has_resp & (responded - received <= 24 * 3600)
    stats = np.array([in_time.mean(), solved.sum() / max(judged.sum(), 1),
                      (sat >= 2).sum() / max(rated.sum(), 1)])
    return frames, stats


def _ids(rng: np.random.Generator, n: int) -> pl.Series:
    """Valid-looking ID numbers of Xiangyang residents (quoted in some descriptions)."""
    import datetime as dt

    born = people.birth_dates(rng, n, dt.date(1950, 1, 1), dt.date(2004, 12, 31))
    return people.id_numbers(rng, born, rng.random(n) < 0.5)
