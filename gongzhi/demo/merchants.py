"""商圈党建: the 党员示范商户 of the district's 12 business districts (两新组织集聚区) and the
problems they raised or helped neighbouring merchants solve (帮带 / 育苗).

Seed figures: 12 business districts, 125 model merchants (125家党员示范商户), 320+ problems
solved for neighbouring merchants (累计帮助周边商户解决困难问题320余件). The 125 are named
before the article's date and stay on the register; the problems are the running total over
the demo's span (320+ solved, so a year holds about a third), about nine in ten of those raised
solved. The register carries the owner's name and phone (masked at ingestion).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from gongzhi.demo import people
from gongzhi.demo.common import (
    DAY,
    DemoContext,
    SourceEntry,
    date_text,
    office_seconds,
    pick,
    seq_ids,
    ts_text,
    write_csv,
)
from gongzhi.demo.geography import Geography

MERCHANTS = 125  # seed: 125家党员示范商户
SOLVED = 326  # seed: 解决困难问题320余件 (over the demo's span)
SOLVED_SHARE = 0.9  # of the problems raised, solved
DISTRICTS = ("万达广场商圈", "人民广场商圈", "长虹路商圈", "襄阳火车站商圈", "樊城老街商圈",
             "中原路商圈", "汉江北路商圈", "紫贞公园商圈", "七里河商圈", "东风路商圈",
             "高新万达商圈", "汽车城商圈")  # seed: 12个两新组织集聚区
TRADES = (("餐饮", 0.35), ("零售", 0.3), ("生活服务", 0.2), ("批发", 0.1), ("文化娱乐", 0.05))
SHOPS = ("便利店", "面馆", "超市", "药房", "家电行", "服装店", "五金店", "茶楼", "烘焙坊",
         "牛肉面馆", "水果店", "眼镜店")
CATEGORIES = (("招工用工", 0.18), ("融资贷款", 0.12), ("证照办理", 0.16), ("房租减免", 0.14),
              ("营销推广", 0.18), ("纠纷调解", 0.1), ("政策咨询", 0.12))
ROLES = ("帮助解决", "提出")
DESIGNATED = (dt.date(2021, 7, 1), dt.date(2023, 6, 30))


def build(ctx: DemoContext, geo: Geography) -> list[SourceEntry]:
    """Write the merchant register and the problem ledger; return their sources."""
    rng = ctx.rng("model_merchants")
    urban = np.flatnonzero(geo.urban)
    # the business districts lie in the busiest urban communities, a few merchants each
    hubs = urban[np.argsort(-geo.residents[urban], kind="stable")][:len(DISTRICTS) * 3]
    comm = np.sort(rng.choice(hubs, MERCHANTS))
    district = np.array([DISTRICTS[int(np.flatnonzero(hubs == c)[0]) % len(DISTRICTS)]
                         for c in comm])
    trade_p = np.array([t[1] for t in TRADES])
    designated = rng.integers(ctx.cal.index(DESIGNATED[0]), ctx.cal.index(DESIGNATED[1]) + 1,
                              MERCHANTS)
    ids = seq_ids("SFSH", 1, MERCHANTS, 4).to_numpy().astype(str)
    shop = np.char.add(np.char.add(people.names(rng, MERCHANTS).str.slice(0, 1).to_numpy()
                                   .astype(str), "记"),
                       np.array(SHOPS)[rng.integers(0, len(SHOPS), MERCHANTS)])
    merchants = pl.DataFrame({
        "商户编号": ids, "商户名称": shop, "所属社区编码": pick(geo.codes, comm),
        "所属商圈": district,
        "业态": pick([t[0] for t in TRADES], rng.choice(len(TRADES), MERCHANTS, p=trade_p)),
        "命名日期": date_text(ctx.cal, designated),
        "店主姓名": people.names(rng, MERCHANTS), "联系电话": people.mobiles(rng, MERCHANTS)})
    folder = ctx.sources / "merchants"
    write_csv(folder / "model_merchants.csv", merchants, encoding="utf-8-sig")

    problems = _problems(ctx, ctx.rng("merchant_problems"), geo, comm, designated, ids)
    path = write_csv(folder / "merchant_problems.csv", problems, encoding="utf-8-sig")
    solved = problems["解决时间"].is_not_null().sum()
    ctx.log(f"model_merchants: {MERCHANTS} model merchants in {len(DISTRICTS)} business "
            f"districts, {problems.height} problems ({solved} solved) → {ctx.rel(folder)}")
    return [
        SourceEntry("model_merchants", "files", "model_merchants",
                    {"path": ctx.rel(folder) + "/model_merchants.csv"},
                    columns={"商户编号": "merchant_id", "商户名称": "merchant_name",
                             "所属社区编码": "community_code", "所属商圈": "business_district",
                             "业态": "trade", "命名日期": "designated_on", "店主姓名": "name",
                             "联系电话": "phone"},
                    comment="党员示范商户 register (owners' names and phones masked)"),
        SourceEntry("merchant_problems", "files", "merchant_problems", {"path": ctx.rel(path)},
                    columns={"问题编号": "problem_id", "示范商户编号": "merchant_id",
                             "所属社区编码": "community_code", "提出或帮解": "role",
                             "问题类别": "category", "提出时间": "raised_at",
                             "解决时间": "resolved_at", "办理状态": "status"},
                    comment="商圈党建 problem ledger"),
    ]


def _problems(ctx: DemoContext, rng: np.random.Generator, geo: Geography, comm: np.ndarray,
              designated: np.ndarray, ids: np.ndarray) -> pl.DataFrame:
    # raised problems: enough that ≈ 90 % of them make the seed's 320+ solved
    n = round(SOLVED / SOLVED_SHARE)
    active = rng.gamma(1.2, 1.0, len(ids))
    m = rng.choice(len(ids), n, p=active / active.sum())
    lo = np.maximum(ctx.first_day, designated[m])
    day = lo + np.floor(rng.random(n) * (ctx.last_day - lo + 1)).astype(np.int64)
    raised = np.sort(day * DAY + office_seconds(rng, n))
    took = np.minimum(1 + np.round(rng.gamma(1.5, 6.0, n)), 120).astype(np.int64) * DAY
    resolved = raised + took
    done = np.zeros(n, dtype=bool)
    done[rng.choice(n, SOLVED, replace=False)] = True
    done &= resolved <= ctx.end_secs
    status = np.where(done, "已解决", np.where(rng.random(n) < 0.6, "办理中", "待解决"))
    cat_p = np.array([c[1] for c in CATEGORIES])
    return pl.DataFrame({
        "问题编号": seq_ids("SQWT", 1, n, 5),
        "示范商户编号": pick(ids, m),
        "所属社区编码": pick(geo.codes, comm[m]),
        "提出或帮解": pick(ROLES, (rng.random(n) < 0.25).astype(np.int64)),
        "问题类别": pick([c[0] for c in CATEGORIES], rng.choice(len(CATEGORIES), n, p=cat_p)),
        "提出时间": ts_text(ctx.cal, raised),
        "解决时间": ts_text(ctx.cal, resolved, done),
        "办理状态": pl.Series(status, dtype=pl.String),
    })
