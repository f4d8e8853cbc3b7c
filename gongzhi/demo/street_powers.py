"""街道职权清单: each street's list of delegated powers, the certified staff of its
综合执法中心 and its enforcement cases.

Seed figures: the street power list has 210 items (印发街道职权清单，明确210项承接事项), the
district certified 64 street enforcement staff (为街道综合执法中心64名人员办理执法证件). The
list was issued in 2021 and adjusted once in 2022 (动态调整: items added); each street holds
the shared items plus those of its kind (urban streets the 城市管理 ones, towns the rural
ones), so the district's list has 210 distinct items and a street's a little fewer. The case
load is the demo's own (the article gives none): ≈ 3,000 cases a year at scale 1, most on a
few items (占道经营, 渣土, 油烟), many items never exercised: a district office reads the
exercised rate to find the "sleeping" items. One case names a street code that is not in the
division list (quarantined).
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
    allocate,
    date_text,
    insert_rows,
    office_seconds,
    pick,
    row_at,
    sample_days,
    seq_ids,
    ts_text,
    write_csv,
)
from gongzhi.demo.geography import Geography

ITEMS = 210  # seed: 210项承接事项
ENFORCERS = 64  # seed: 64名人员办理执法证件
CASES_PER_YEAR = 3_000
ISSUED, ADJUSTED = dt.date(2021, 9, 1), dt.date(2022, 7, 1)
ADDED = 18  # items added by the 2022 adjustment
URBAN_ONLY, RURAL_ONLY = 14, 10  # items only urban streets / only towns hold
# department, its law, kind shares (处罚, 强制, 检查, 许可, 其他), items, typical conduct
DEPARTMENTS = (
    ("区城市管理执法局", "《城市市容和环境卫生管理条例》", 62,
     ("占道经营", "乱张贴乱涂写", "渣土运输撒漏", "违规设置户外广告", "餐饮油烟直排",
      "违规搭建", "乱倒建筑垃圾", "损坏市政设施")),
    ("区市场监督管理局", "《中华人民共和国食品安全法》", 30,
     ("无证经营食品摊贩", "销售过期食品", "未明码标价", "虚假宣传")),
    ("区生态环境分局", "《中华人民共和国大气污染防治法》", 22,
     ("露天焚烧垃圾", "施工扬尘", "噪声扰民", "违规排放污水")),
    ("区住房和城乡建设局", "《城市道路管理条例》", 24,
     ("擅自挖掘城市道路", "物业服务违规", "违规装修", "擅自占用道路")),
    ("区自然资源和规划分局", "《中华人民共和国土地管理法》", 16,
     ("非法占用土地", "违法建设", "破坏耕地")),
    ("区应急管理局", "《中华人民共和国安全生产法》", 14,
     ("未落实安全生产责任", "违规储存危险品", "消防通道堵塞")),
    ("区卫生健康局", "《公共场所卫生管理条例》", 10,
     ("公共场所卫生不达标", "违规行医")),
    ("区文化和旅游局", "《娱乐场所管理条例》", 8, ("违规经营娱乐场所", "违规经营网吧")),
    ("区农业农村局", "《中华人民共和国动物防疫法》", 14,
     ("违规屠宰", "秸秆焚烧", "违规使用农药")),
    ("区水利和湖泊局", "《中华人民共和国防洪法》", 10, ("河道违规采砂", "河道乱堆乱放")),
)
KINDS = ("行政处罚", "行政强制", "行政检查", "行政许可", "其他行政权力")
KIND_P = np.array([0.72, 0.08, 0.12, 0.05, 0.03])
STATUS_ZH = ("办理中", "已结案", "已撤销")


def build(ctx: DemoContext, geo: Geography) -> list[SourceEntry]:
    """Write the street power lists, the enforcer register and the case export."""
    rng = ctx.rng("delegated_items")
    streets = np.unique(geo.street)
    town = np.array([not geo.urban[geo.street == s].mean() >= 0.5 for s in streets])
    items = _catalogue(rng)
    lists = []
    for s, is_town in zip(streets, town, strict=True):
        keep = ~items["rural_only"] if not is_town else ~items["urban_only"]
        lists.append(items.filter(keep).with_columns(pl.lit(s).alias("街道编码")))
    frame = pl.concat(lists).select("街道编码", "事项编码", "事项名称", "权力类型",
                                    "法律依据", "赋权部门", "赋权日期")
    folder = ctx.sources / "street"
    write_csv(folder / "street_power_list.csv", frame, encoding="gb18030",
              title=("樊城区街道职权清单（承接事项）",))

    enforcers = _enforcers(ctx, ctx.rng("enforcers"), geo, streets)
    write_csv(folder / "enforcers.csv", enforcers, encoding="gb18030")

    cases = _cases(ctx, ctx.rng("enforcement_cases"), geo, streets, frame)
    path = folder / "enforcement_cases.csv"
    bad = row_at(cases, cases.height // 3) | {"案件编号": "ZF-PLANTED",
                                              "街道编码": "420606999000"}
    cases = insert_rows(cases, [(cases.height // 3, bad)])
    ctx.plant("enforcement_cases", path, "unknown_street", "街道编码 420606999000")
    write_csv(path, cases)
    ctx.log(f"street powers: {ITEMS} delegated items on {len(streets)} streets' lists, "
            f"{ENFORCERS} certified enforcers, {cases.height - 1:,} enforcement cases "
            f"→ {ctx.rel(folder)}")
    return [
        SourceEntry("delegated_items", "files", "delegated_items",
                    {"path": ctx.rel(folder) + "/street_power_list.csv"},
                    columns={"街道编码": "street_code", "事项编码": "item_code",
                             "事项名称": "item_name", "权力类型": "kind",
                             "法律依据": "legal_basis", "赋权部门": "department",
                             "赋权日期": "delegated_on"},
                    comment="街道职权清单 per street (GB18030, a title row)"),
        SourceEntry("enforcers", "files", "enforcers",
                    {"path": ctx.rel(folder) + "/enforcers.csv"},
                    columns={"人员编号": "enforcer_id", "街道编码": "street_code",
                             "执法证号": "certificate_no", "发证日期": "certified_on",
                             "有效期至": "expires_on", "姓名": "name", "身份证号": "id_number",
                             "联系电话": "phone"},
                    comment="街道综合执法中心持证人员 (names, ID numbers, phones masked)"),
        SourceEntry("enforcement_cases", "files", "enforcement_cases", {"path": ctx.rel(path)},
                    columns={"案件编号": "case_id", "街道编码": "street_code",
                             "事项编码": "item_code", "立案时间": "opened_at",
                             "结案时间": "closed_at", "案件状态": "status"},
                    comment="街道综合执法案件 (the enforcement case system's export)"),
    ]


def _catalogue(rng: np.random.Generator) -> pl.DataFrame:
    rows = []
    for dept, law, n, conduct in DEPARTMENTS:
        for k in range(n):
            kind = int(rng.choice(len(KINDS), p=KIND_P))
            verb = ("对" + conduct[k % len(conduct)] + "的" + KINDS[kind].removeprefix("行政")
                    if kind != 4 else conduct[k % len(conduct)] + "相关事项")
            rows.append((dept, law, f"{verb}（{k // len(conduct) + 1}）", KINDS[kind],
                         f"{law}第{10 + 3 * k}条"))
    assert len(rows) == ITEMS, len(rows)
    order = rng.permutation(ITEMS)
    added = np.zeros(ITEMS, dtype=bool)
    added[order[:ADDED]] = True
    urban_only = np.zeros(ITEMS, dtype=bool)
    rural_only = np.zeros(ITEMS, dtype=bool)
    depts = np.array([r[0] for r in rows])
    rural = np.flatnonzero(np.isin(depts, ("区农业农村局", "区水利和湖泊局")))
    rural_only[rural[:RURAL_ONLY]] = True
    urban_only[np.flatnonzero(depts == "区城市管理执法局")[-URBAN_ONLY:]] = True
    return pl.DataFrame({
        "事项编码": seq_ids("JDZQ", 1, ITEMS, 3),
        "事项名称": [r[2] for r in rows],
        "权力类型": [r[3] for r in rows],
        "法律依据": [r[4] for r in rows],
        "赋权部门": depts,
        "赋权日期": np.where(added, ADJUSTED.isoformat(), ISSUED.isoformat()),
        "urban_only": urban_only,
        "rural_only": rural_only,
    })


def _enforcers(ctx: DemoContext, rng: np.random.Generator, geo: Geography,
               streets: np.ndarray) -> pl.DataFrame:
    weight = np.array([geo.residents[geo.street == s].sum() for s in streets], dtype=float)
    per = allocate(ENFORCERS, weight, minimum=min(2, ENFORCERS // len(streets)))
    street = np.repeat(streets, per)
    lo, hi = ctx.cal.index(dt.date(2021, 10, 1)), ctx.cal.index(dt.date(2023, 6, 30))
    certified = rng.integers(lo, hi + 1, ENFORCERS)
    born = people.birth_dates(rng, ENFORCERS, dt.date(1970, 1, 1), dt.date(1998, 12, 31))
    return pl.DataFrame({
        "人员编号": seq_ids("ZFRY", 1, ENFORCERS, 3),
        "街道编码": street,
        "执法证号": seq_ids("42060621", 1001, ENFORCERS, 5),
        "发证日期": date_text(ctx.cal, certified),
        "有效期至": date_text(ctx.cal, np.minimum(certified + 5 * 365, len(ctx.cal.is_work) - 1)),
        "姓名": people.names(rng, ENFORCERS),
        "身份证号": people.id_numbers(rng, born, rng.random(ENFORCERS) < 0.6),
        "联系电话": people.mobiles(rng, ENFORCERS),
    })


def _cases(ctx: DemoContext, rng: np.random.Generator, geo: Geography, streets: np.ndarray,
           lists: pl.DataFrame) -> pl.DataFrame:
    days = np.arange(ctx.first_day, ctx.last_day + 1)
    n = ctx.volume(round(CASES_PER_YEAR * len(days) / 365.25), 200)
    weight = np.array([geo.residents[geo.street == s].sum() for s in streets], dtype=float)
    street = rng.choice(len(streets), n, p=weight / weight.sum())
    # a few items carry most cases; four in ten are never used ("sleeping" items)
    codes = np.unique(lists["事项编码"].to_numpy().astype(str))
    pop = rng.lognormal(0.0, 1.8, len(codes)) * (rng.random(len(codes)) >= 0.4)
    held = {s: set(lists.filter(pl.col("街道编码") == s)["事项编码"].to_list()) for s in streets}
    item = np.empty(n, dtype=object)
    for i, s in enumerate(streets):
        sel = np.flatnonzero(street == i)
        ok = np.array([c in held[s] for c in codes]) & (pop > 0)
        w = np.where(ok, pop, 0.0)
        item[sel] = codes[rng.choice(len(codes), len(sel), p=w / w.sum())]
    work = days[ctx.cal.is_work[days]]
    opened = np.sort(sample_days(rng, n, work, np.ones(len(work))) * DAY + office_seconds(rng, n))
    closed = opened + np.minimum(1 + np.round(rng.gamma(1.3, 10.0, n)), 90).astype(np.int64) * DAY
    withdrawn = rng.random(n) < 0.02
    has_closed = (closed <= ctx.end_secs) & ~withdrawn
    status = np.where(withdrawn, 2, np.where(has_closed, 1, 0))
    return pl.DataFrame({
        "案件编号": seq_ids("ZF", 1, n, 7),
        "街道编码": pick(streets, street),
        "事项编码": pl.Series(item.tolist(), dtype=pl.String),
        "立案时间": ts_text(ctx.cal, opened),
        "结案时间": ts_text(ctx.cal, closed, has_closed),
        "案件状态": pick(STATUS_ZH, status),
    })
