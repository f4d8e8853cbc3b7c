"""Volunteer service (志愿服务): the volunteer register, service records and time-bank
redemptions, as the volunteer platform exports them.

The register carries personal columns (姓名, 身份证号, 手机号) as real exports do; the config
maps them, and ingestion masks names and phones and pseudonymises ID numbers before storage.
Two ID numbers have a wrong check digit, as typing slips in real registers do: those rows are
quarantined (invalid_id_number), masked.

Proportions follow the seed at every scale, because people and their activity belong
together: the register holds 3万余名 volunteers on the article's date (≈ 29 per 1,000
residents) and grows slowly after it; they serve regularly (常态化参与): about a third of a
service record per registered volunteer a month, so about a quarter of them serve in a month
(more in March, 学雷锋月; fewer around the Spring Festival), some communities more engaged
than others. ``scale`` adds service records beyond that (30,000 per unit of scale over three
years: the benchmark's 2M at 67) but never thins the register's own activity, so the volunteer
cards read the same at scale 0.02 and at 10. 铁路社区 has 14 teams and ≈ 1,100 volunteers;
hours 0.5–8, ≈ 40 % of hours deposited in the time bank and ≈ 30 % of deposits redeemed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from gongzhi.demo import people
from gongzhi.demo.common import (
    DAY,
    SEED_DATE,
    DemoContext,
    SourceEntry,
    allocate,
    chunk_bounds,
    pick,
    seq_ids,
    ts_text,
    write_csv,
    yes_no,
)
from gongzhi.demo.geography import Geography

REGISTERED_BY_SEED = 30_600  # seed: 3万余名志愿者常态化参与基层治理
NEW_PER_YEAR = 700  # the register keeps growing after the article (≈ 2 % a year)
REGISTER_OPENED = dt.date(2016, 1, 1)  # the first registrations on the platform
RECORDS_PER_VOLUNTEER_MONTH = 0.33  # ≈ a quarter of the register serves in a month
SERVICES_PER_SCALE = 30_000  # records over three years per unit of scale (at least)
# 学雷锋月 in March, 国际志愿者日 in December, fewer around the Spring Festival and in summer
SEASON = (0.85, 0.8, 1.3, 1.05, 1.05, 0.95, 0.9, 0.9, 1.0, 1.0, 1.0, 1.1)
RAILWAY = "铁路社区"  # the seed's pilot: 14 teams, 1,100+ volunteers
RAILWAY_SHARE = 1100 / REGISTERED_BY_SEED
TEAM_THEMES = ("红色先锋", "银发", "巾帼", "青年", "文明劝导", "助老", "平安", "环保", "法律服务",
               "心理关爱")
ACTIVITIES = (("环境整治", 0.18), ("敬老助残", 0.16), ("文明劝导", 0.12), ("政策宣讲", 0.10),
              ("平安巡逻", 0.10), ("便民服务", 0.08), ("垃圾分类", 0.07), ("关爱儿童", 0.07),
              ("文体活动", 0.06), ("应急救援", 0.03), ("助餐送餐", 0.03))
HOURS = (0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8)
HOURS_P = (0.05, 0.18, 0.12, 0.22, 0.10, 0.13, 0.10, 0.05, 0.03, 0.02)
REDEEM_SERVICES = ("理发", "助餐", "家政保洁", "陪诊就医", "家电维修", "生活用品兑换", "代购代办")
REDEEM_HOURS = (1, 1.5, 2, 3, 4)
REDEEM_P = (0.30, 0.20, 0.25, 0.15, 0.10)
SERVICE_HEADERS = {"服务记录编号": "record_id", "志愿者编号": "volunteer_id",
                   "服务社区编码": "community_code", "服务项目": "activity",
                   "服务开始时间": "started_at", "服务时长（小时）": "hours",
                   "是否存入时间存折": "timebank"}


@dataclass
class Register:
    """The volunteers as the later tables need them, aligned by position (registration order)."""

    ids: np.ndarray
    comm: np.ndarray  # community position
    registered: np.ndarray  # local seconds
    party: np.ndarray


@dataclass
class Served:
    """Every service record: volunteer position, hours, deposited or not, start."""

    vol: np.ndarray
    hours: np.ndarray
    bank: np.ndarray
    start: np.ndarray


def build(ctx: DemoContext, geo: Geography) -> list[SourceEntry]:
    """Write the register, the service records and the redemptions."""
    register_entry, vols = _volunteers(ctx, geo)
    services_entry, served = _services(ctx, geo, vols)
    return [register_entry, services_entry, _redemptions(ctx, geo, vols, served)]


def _registration_days(ctx: DemoContext, rng: np.random.Generator) -> np.ndarray:
    """Registration days: REGISTERED_BY_SEED from the platform's opening to the article's
    date (more of them recently), NEW_PER_YEAR a year after it; those up to the demo's end."""
    opened, seed = ctx.cal.index(REGISTER_OPENED), ctx.cal.index(SEED_DATE)
    before = opened + np.floor((seed - opened + 1) * np.sqrt(rng.random(REGISTERED_BY_SEED)))
    n_after = round(NEW_PER_YEAR * max(0, ctx.last_day - seed) / 365.25)
    after = rng.integers(seed + 1, max(seed + 2, ctx.last_day + 1), n_after)
    days = np.sort(np.concatenate([before.astype(np.int64), after]))
    return days[days <= ctx.last_day]


def _volunteers(ctx: DemoContext, geo: Geography) -> tuple[SourceEntry, Register]:
    rng = ctx.rng("volunteers")
    reg_day = _registration_days(ctx, rng)
    n = len(reg_day)
    # Registration follows the residents, some communities keener than others.
    p = geo.residents * rng.lognormal(0.0, 0.18, geo.n)
    p = p / p.sum()
    rail = geo.index_of(RAILWAY)
    p = p * (1 - RAILWAY_SHARE) / (1 - p[rail])
    p[rail] = RAILWAY_SHARE
    comm = rng.choice(geo.n, n, p=p)
    per_comm = np.bincount(comm, minlength=geo.n)
    teams = np.clip(np.round(per_comm / 70), 1, 10).astype(np.int64)
    teams[rail] = 14
    team_no = rng.integers(0, teams[comm]) + 1
    no_team = rng.random(n) < 0.08
    team_id = np.char.add(np.char.add(geo.codes[comm], "T"), np.char.zfill(team_no.astype(str), 2))
    themes = np.array(TEAM_THEMES)[(team_no - 1) % len(TEAM_THEMES)]
    team_name = np.char.add(np.char.add(geo.names[comm], themes), "志愿服务队")
    railway = comm == rail
    iron = np.where(team_no % 2 == 1, "铁哥们", "铁娘子")
    team_name = np.where(railway, np.char.add(np.char.add(iron, "综合志愿服务队"),
                                              np.char.add(((team_no + 1) // 2).astype(str), "队")),
                         team_name)

    # Born 1950–2005 and at least 16 on the day they registered.
    male = rng.random(n) < 0.45
    lo = ctx.cal.index(dt.date(1950, 1, 1))
    hi = np.minimum(reg_day - 16 * 366, ctx.cal.index(dt.date(2005, 12, 31)))
    born_day = lo + np.floor(rng.random(n) * (hi - lo)).astype(np.int64)
    born = np.datetime64(ctx.cal.day0, "D") + born_day.astype("timedelta64[D]")
    registered = reg_day * DAY + rng.integers(8 * 3600, 21 * 3600, n)
    party = rng.random(n) < 0.22
    ids = people.id_numbers(rng, born, male).to_numpy()
    for pos in (n // 3, 2 * n // 3):  # two typing slips in the register
        ids[pos] = people.break_check_digit(str(ids[pos]))
    order = np.argsort(registered, kind="stable")
    vid = seq_ids("V", 1, n, 7)
    frame = pl.DataFrame({
        "志愿者编号": vid,
        "姓名": people.names(rng, n).gather(order),
        "性别": pl.Series(np.where(male, "男", "女")[order]),
        "身份证号": pl.Series(ids[order], dtype=pl.String),
        "手机号": people.mobiles(rng, n).gather(order),
        "所属社区编码": pick(geo.codes, comm[order]),
        "所属社区": pick(geo.names, comm[order]),
        "服务队编号": _unless(no_team[order], team_id[order]),
        "服务队名称": _unless(no_team[order], team_name[order]),
        "注册时间": ts_text(ctx.cal, registered[order]),
        "是否党员": yes_no(party[order]),
    })
    path = write_csv(ctx.sources / "volunteer" / "volunteers.csv", frame, encoding="utf-8-sig")
    ctx.log(f"volunteers: {n:,} in {int(teams.sum())} teams ({RAILWAY}: {int(per_comm[rail])} "
            f"volunteers, 14 teams), with 姓名/身份证号/手机号 (2 ID numbers with a wrong check "
            f"digit) → {ctx.rel(path)} (UTF-8 with BOM)")
    for pos in (n // 3, 2 * n // 3):
        ctx.plant("volunteers", path, "invalid_id_number",
                  f"volunteer {vid[int(np.flatnonzero(order == pos)[0])]}: ID check digit")
    entry = SourceEntry("volunteers", "files", "volunteers", {"path": ctx.rel(path)},
                        columns={"志愿者编号": "volunteer_id", "所属社区编码": "community_code",
                                 "服务队编号": "team_id", "注册时间": "registered_at",
                                 "是否党员": "is_party_member", "姓名": "name",
                                 "身份证号": "id_number", "手机号": "phone"},
                        comment="志愿者注册信息: 姓名/身份证号/手机号 are masked and "
                                "pseudonymised at ingestion, never stored in clear")
    return entry, Register(vid.to_numpy().astype(str), comm[order], registered[order],
                           party[order])


def _unless(mask: np.ndarray, values: np.ndarray) -> pl.Series:
    """Text values, empty where ``mask`` is set."""
    return pl.select(pl.when(~pl.Series(mask)).then(pl.Series(values, dtype=pl.String))
                     ).to_series()


def _months(ctx: DemoContext) -> list[tuple[int, int, int]]:
    """(month number, first day, last day) of every calendar month in the span (day indexes)."""
    out, day = [], ctx.start
    while day <= ctx.end:
        nxt = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        out.append((day.month, ctx.cal.index(day), min(ctx.last_day, ctx.cal.index(nxt) - 1)))
        day = nxt
    return out


def _monthly_counts(ctx: DemoContext, reg_day: np.ndarray,
                    months: list[tuple[int, int, int]]) -> np.ndarray:
    """Service records per month: the register's own activity (volunteers registered by the
    month's end × RECORDS_PER_VOLUNTEER_MONTH × season, pro rata for partial months), raised
    uniformly when ``scale`` asks for more records than that."""
    base = np.array([np.searchsorted(reg_day, b, side="right") * RECORDS_PER_VOLUNTEER_MONTH
                     * SEASON[m - 1] * (b - a + 1) / 30.4 for m, a, b in months])
    total = max(round(base.sum()), round(SERVICES_PER_SCALE * ctx.scale))
    return allocate(total, base)


def _services(ctx: DemoContext, geo: Geography, vols: Register) -> tuple[SourceEntry, Served]:
    nv = len(vols.ids)
    reg_day = vols.registered // DAY  # sorted: the register is in registration order
    rng = ctx.rng("volunteer_services")
    # How much each volunteer serves: most now and then, a core of regulars often; party
    # members a little more; some communities more engaged than others.
    engaged = rng.lognormal(0.0, 0.25, geo.n)
    base = rng.gamma(1.0, 1.0, nv) * np.where(vols.party, 1.3, 1.0) * engaged[vols.comm]
    months = _months(ctx)
    counts = _monthly_counts(ctx, reg_day, months)
    by_year: dict[int, list[int]] = {}
    for k, (_, a, _) in enumerate(months):
        by_year.setdefault(ctx.cal.date(a).year, []).append(k)
    total = int(counts.sum())
    act_p = np.array([a[1] for a in ACTIVITIES])
    keep: dict[str, list[np.ndarray]] = {"vol": [], "hours": [], "bank": [], "start": []}
    next_id, files = 1, 0
    for y, ks in by_year.items():
        rng = ctx.rng("volunteer_services", y)
        vs, days = [], []
        for k in ks:
            _, a, b = months[k]
            n = int(counts[k])
            eligible = int(np.searchsorted(reg_day, b))  # registered before the month's end
            if n == 0 or eligible == 0:
                continue
            w = base[:eligible]
            v = rng.choice(eligible, n, p=w / w.sum())
            # Service starts the day after registration at the earliest.
            lo = np.maximum(a, reg_day[v] + 1)
            vs.append(v)
            days.append(lo + np.floor(rng.random(n) * (b - lo + 1)).astype(np.int64))
        if not vs:
            continue
        v, day = np.concatenate(vs), np.concatenate(days)
        n = len(v)
        started = day * DAY + 8 * 3600 + rng.integers(0, 18, n) * 1800
        order = np.argsort(started, kind="stable")
        v, started = v[order], started[order]
        own = rng.random(n) < 0.85
        other = rng.choice(geo.n, n, p=geo.residents / geo.residents.sum())
        comm = np.where(own, vols.comm[v], other)
        hours = np.array(HOURS)[rng.choice(len(HOURS), n, p=np.array(HOURS_P))]
        bank = rng.random(n) < 0.4
        frame = pl.DataFrame({
            "服务记录编号": seq_ids("FW", next_id, n, 9),
            "志愿者编号": pick(vols.ids, v),
            "服务社区编码": pick(geo.codes, comm),
            "服务项目": pick([x[0] for x in ACTIVITIES], rng.choice(len(ACTIVITIES), n,
                                                               p=act_p / act_p.sum())),
            "服务开始时间": ts_text(ctx.cal, started),
            "服务时长（小时）": pl.Series(hours).cast(pl.String),
            "是否存入时间存折": yes_no(bank),
        })
        next_id += n
        for part, (r0, r1) in enumerate(chunk_bounds(n)):
            name = f"volunteer_services_{y}" + (f"_part{part + 1}" if r1 - r0 < n else "")
            path = ctx.sources / "volunteer" / "services" / f"{name}.csv"
            part_frame = frame.slice(r0, r1 - r0)
            if files == 0:
                part_frame, planted = _plant_services(ctx, part_frame, path)
                bank[r0 + planted] = False  # quarantined: nothing of theirs is in the bank
            write_csv(path, part_frame)
            files += 1
        keep["vol"].append(v)
        keep["hours"].append(hours)
        keep["bank"].append(bank)
        keep["start"].append(started)
    served = Served(*(np.concatenate(keep[k]) for k in ("vol", "hours", "bank", "start")))
    deposited = served.hours[served.bank].sum()
    folder = ctx.sources / "volunteer" / "services"
    ctx.log(f"volunteer_services: {total:,} records in {files} files, "
            f"{served.hours.sum():,.0f} hours ({deposited:,.0f} deposited in the time bank) "
            f"→ {ctx.rel(folder)}/")
    entry = SourceEntry("volunteer_services", "files", "volunteer_services",
                        {"path": ctx.rel(folder) + "/*.csv"}, columns=dict(SERVICE_HEADERS),
                        comment="志愿服务记录, one file per year")
    return entry, served


def _plant_services(ctx: DemoContext, out: pl.DataFrame,
                    path: Path) -> tuple[pl.DataFrame, np.ndarray]:
    """A record without a volunteer, 30 hours in one go, and 30 February; returns the frame
    and the planted rows (written as not deposited in the time bank)."""
    n = out.height
    rows = np.array([n // 4, n // 2, 3 * n // 4])
    out = out.with_columns(out["是否存入时间存折"].scatter(rows, "否"))
    out = out.with_columns(out["志愿者编号"].scatter(n // 4, None))
    out = out.with_columns(out["服务时长（小时）"].scatter(n // 2, "30"))
    day = out["服务开始时间"][3 * n // 4][:4]
    out = out.with_columns(out["服务开始时间"].scatter(3 * n // 4, f"{day}-02-30 09:00:00"))
    for reason, what in (("missing_value", "志愿者编号 empty"), ("out_of_range", "服务时长 30"),
                         ("bad_date", "服务开始时间 Feb 30")):
        ctx.plant("volunteer_services", path, reason, what)
    return out, rows


def _redemptions(ctx: DemoContext, geo: Geography, vols: Register,
                 services: Served) -> SourceEntry:
    rng = ctx.rng("timebank_redemptions")
    bank = services.bank
    dep = np.bincount(services.vol[bank], weights=services.hours[bank],
                      minlength=len(vols.ids))
    first = np.full(len(vols.ids), np.iinfo(np.int64).max)
    np.minimum.at(first, services.vol[bank], services.start[bank])
    mean = float(np.dot(REDEEM_HOURS, REDEEM_P))
    target = 0.3 * dep.sum()
    n = round(2 * target / mean)  # twice as many candidates: the cap drops some
    v = rng.choice(len(dep), n, p=dep / dep.sum()) if n else np.zeros(0, dtype=np.int64)
    hours = np.array(REDEEM_HOURS, dtype=float)[rng.choice(len(REDEEM_HOURS), n,
                                                            p=np.array(REDEEM_P))]
    # Redeemed from the day after the first deposit on, in the daytime.
    lo = first[v] // DAY + 1
    day = lo + np.floor(rng.random(n) * np.maximum(ctx.last_day - lo + 1, 0)).astype(np.int64)
    at = day * DAY + 9 * 3600 + rng.integers(0, 9 * 3600, n)
    frame = pl.DataFrame({"v": v, "hours": hours, "at": at, "cap": dep[v]}).sort("at")
    # Nobody redeems more than they deposited.
    frame = frame.filter(pl.col("hours").cum_sum().over("v") <= pl.col("cap"))
    # …and ≈ 30 % of all deposits are redeemed: keep a random subset up to that.
    perm = rng.permutation(frame.height)
    mask = np.zeros(frame.height, dtype=bool)
    mask[perm[np.cumsum(frame["hours"].to_numpy()[perm]) <= target]] = True
    frame = frame.filter(pl.Series(mask))
    m = frame.height
    out = pl.DataFrame({
        "兑换编号": seq_ids("DH", 1, m, 8),
        "志愿者编号": pick(vols.ids, frame["v"].to_numpy()),
        "社区编码": pick(geo.codes, vols.comm[frame["v"].to_numpy()]),
        "兑换时间": ts_text(ctx.cal, frame["at"].to_numpy()),
        "兑换时长": frame["hours"].cast(pl.String),
        "兑换服务": pick(REDEEM_SERVICES, rng.integers(0, len(REDEEM_SERVICES), m)),
    })
    path = write_csv(ctx.sources / "volunteer" / "timebank_redemptions.csv", out)
    ctx.log(f"timebank_redemptions: {m:,} redemptions, {frame['hours'].sum():,.0f} hours "
            f"({frame['hours'].sum() / max(dep.sum(), 1):.0%} of deposits) → {ctx.rel(path)}")
    return SourceEntry("timebank_redemptions", "files", "timebank_redemptions",
                       {"path": ctx.rel(path)},
                       columns={"兑换编号": "redemption_id", "志愿者编号": "volunteer_id",
                                "社区编码": "community_code", "兑换时间": "redeemed_at",
                                "兑换时长": "hours", "兑换服务": "service"},
                       comment="时间存折兑换记录")
