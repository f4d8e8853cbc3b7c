"""红色帮办团: the district's 政务服务 help-desk teams, their members and their service log.

Seed figures: 96 teams covering 92 communities (组建全区政务服务"红色帮办团"96支，实现92个社区
全覆盖), made of grid workers, volunteers and checked-in party members, who did 5,000+
appointments, assisted and proxy services (预约、帮办代办等服务5000余次) for elderly residents
with limited mobility, disabled residents and residents working away. Like the seed's other
running totals (2,400+ deeds), the 5,000+ services are the total over the demo's span (so a
year holds about a third); the teams and members are the register on every date.

A service that became a case on the government-service platform carries that case's id: the
assisted and proxy services are drawn from the demo's own help-desk cases (channel
``help_desk``) in the teams' communities, at the case's submission time, so the log and the
platform agree. The log is the teams' monthly spreadsheet export, GB18030 with Chinese headers;
one row names a community code that is not in the division list (quarantined).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from gongzhi.demo import people
from gongzhi.demo.cases import HELP_DESK_KEY
from gongzhi.demo.common import (
    DAY,
    DemoContext,
    SourceEntry,
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

TEAMS = 96  # seed: 红色帮办团96支
COMMUNITIES = 92  # seed: 实现92个社区全覆盖
SERVICES = 5_180  # seed: 服务5000余次 (over the demo's span)
LINKED_SHARE = 0.6  # services that became a case on the platform, where one exists
ROLES = (("网格员", 0.3), ("志愿者", 0.35), ("双报到党员", 0.3), ("窗口人员", 0.05))
KINDS = ("预约", "帮办", "代办")
GROUPS = (("行动不便老人", 0.55), ("残疾人", 0.2), ("在外务工人员", 0.2), ("其他", 0.05))
ITEMS = ("高龄津贴申领", "残疾人证办理", "社保卡补办", "居住证办理", "医保参保登记",
         "养老保险资格认证", "低保申请", "独生子女父母奖励", "不动产登记预约", "户籍证明")
FORMED = (dt.date(2022, 3, 1), dt.date(2023, 6, 30))  # before the article's date


def build(ctx: DemoContext, geo: Geography) -> list[SourceEntry]:
    """Write the team register, the member roster and the service log; return their sources."""
    rng = ctx.rng("help_teams")
    # every urban community with the most residents first; the four biggest get a second team
    urban = np.flatnonzero(geo.urban)
    covered = urban[np.argsort(-geo.residents[urban], kind="stable")][:COMMUNITIES]
    if len(covered) < COMMUNITIES:  # a smaller division list: villages too
        rest = np.setdiff1d(np.arange(geo.n), covered)
        covered = np.concatenate([covered, rest[:COMMUNITIES - len(covered)]])
    team_comm = np.sort(np.concatenate([covered, covered[:TEAMS - len(covered)]]))
    formed = rng.integers(ctx.cal.index(FORMED[0]), ctx.cal.index(FORMED[1]) + 1, TEAMS)
    team_ids = seq_ids("BBT", 1, TEAMS, 3).to_numpy().astype(str)
    second = np.zeros(TEAMS, dtype=bool)
    second[1:] = team_comm[1:] == team_comm[:-1]
    names = np.where(second, np.char.add(geo.names[team_comm], "第二红色帮办团"),
                     np.char.add(geo.names[team_comm], "红色帮办团"))
    teams = pl.DataFrame({
        "帮办团编号": team_ids, "帮办团名称": names,
        "所属社区编码": pick(geo.codes, team_comm), "组建日期": date_text(ctx.cal, formed)})
    folder = ctx.sources / "help_teams"
    write_csv(folder / "help_teams.csv", teams, encoding="gb18030")

    size = rng.integers(6, 13, TEAMS)
    m_team = np.repeat(np.arange(TEAMS), size)
    nm = len(m_team)
    role_p = np.array([r[1] for r in ROLES])
    joined = formed[m_team] + np.floor(rng.random(nm) ** 3 * np.maximum(
        ctx.last_day - formed[m_team], 1)).astype(np.int64)
    member_ids = seq_ids("BBY", 1, nm, 5).to_numpy().astype(str)
    members = pl.DataFrame({
        "成员编号": member_ids, "帮办团编号": pick(team_ids, m_team),
        "所属社区编码": pick(geo.codes, team_comm[m_team]),
        "身份": pick([r[0] for r in ROLES], rng.choice(len(ROLES), nm, p=role_p)),
        "加入日期": date_text(ctx.cal, np.minimum(joined, ctx.last_day)),
        "姓名": people.names(rng, nm), "联系电话": people.mobiles(rng, nm)})
    write_csv(folder / "help_team_members.csv", members, encoding="gb18030")

    services, linked = _services(ctx, rng, geo, team_comm, formed, m_team, member_ids,
                                 team_ids)
    path = folder / "help_team_services.csv"
    bad = row_at(services, services.height // 2) | {"服务编号": "BBFW-PLANTED",
                                                    "所属社区编码": "420606999999"}
    services = insert_rows(services, [(services.height // 2, bad)])
    ctx.plant("help_team_services", path, "unknown_community", "所属社区编码 420606999999")
    write_csv(path, services, encoding="gb18030", title=("樊城区红色帮办团服务台账",))
    ctx.log(f"help_teams: {TEAMS} teams in {len(np.unique(team_comm))} communities, {nm} "
            f"members, {services.height - 1:,} services ({linked:,} linked to a help-desk "
            f"case) → {ctx.rel(folder)}")
    return [
        SourceEntry("help_teams", "files", "help_teams", {"path": ctx.rel(folder)
                                                          + "/help_teams.csv"},
                    columns={"帮办团编号": "team_id", "帮办团名称": "name",
                             "所属社区编码": "community_code", "组建日期": "formed_on"},
                    comment="红色帮办团 register"),
        SourceEntry("help_team_members", "files", "help_team_members",
                    {"path": ctx.rel(folder) + "/help_team_members.csv"},
                    columns={"成员编号": "member_id", "帮办团编号": "team_id",
                             "所属社区编码": "community_code", "身份": "role",
                             "加入日期": "joined_on", "姓名": "name", "联系电话": "phone"},
                    comment="帮办团 members (names and phones masked at ingestion)"),
        SourceEntry("help_team_services", "files", "help_team_services",
                    {"path": ctx.rel(path)},
                    columns={"服务编号": "service_id", "帮办团编号": "team_id",
                             "所属社区编码": "community_code", "服务人员编号": "member_id",
                             "关联办件编号": "case_id", "服务时间": "served_at",
                             "服务方式": "kind", "服务对象": "beneficiary",
                             "办理事项": "item_name"},
                    comment="帮办团服务台账 (GB18030, a title row); case ids where the "
                            "service became a case"),
    ]


def _services(ctx: DemoContext, rng: np.random.Generator, geo: Geography,
              team_comm: np.ndarray, formed: np.ndarray, m_team: np.ndarray,
              member_ids: np.ndarray, team_ids: np.ndarray) -> tuple[pl.DataFrame, int]:
    teams_of: dict[int, np.ndarray] = {int(c): np.flatnonzero(team_comm == c)
                                       for c in np.unique(team_comm)}
    cases = ctx.shared.get(HELP_DESK_KEY) or []
    hd = pl.concat(cases) if cases else pl.DataFrame(
        {"case_id": [], "community": [], "submitted": []},
        schema={"case_id": pl.String, "community": pl.Int64, "submitted": pl.Int64})
    # a case a team can have done: in a team's community, once that team was formed
    first = {c: int(formed[t].min()) * DAY for c, t in teams_of.items()}
    hd = hd.filter(pl.col("community").is_in(list(teams_of))).filter(
        pl.col("submitted") >= pl.col("community").replace_strict(first, return_dtype=pl.Int64))
    n_link = min(round(SERVICES * LINKED_SHARE), hd.height)
    pick_rows = np.sort(rng.choice(hd.height, n_link, replace=False)) if n_link else \
        np.zeros(0, dtype=np.int64)
    linked = hd[pick_rows]
    n_rest = SERVICES - n_link
    w = geo.residents[team_comm].astype(float)
    rest_team = rng.choice(len(team_comm), n_rest, p=w / w.sum())
    days = np.arange(ctx.first_day, ctx.last_day + 1)
    work = days[ctx.cal.is_work[days]]
    rest_at = sample_days(rng, n_rest, work, np.ones(len(work))) * DAY + office_seconds(
        rng, n_rest)
    link_comm = linked["community"].to_numpy().astype(np.int64)
    link_at = linked["submitted"].to_numpy().astype(np.int64)
    link_team = np.array([rng.choice(ts[formed[ts] * DAY <= a]) for c, a in
                          zip(link_comm, link_at, strict=True) for ts in [teams_of[int(c)]]],
                         dtype=np.int64)
    team = np.concatenate([link_team, rest_team])
    at = np.concatenate([link_at, rest_at])
    case_ids = np.concatenate([linked["case_id"].to_numpy().astype(object),
                               np.full(n_rest, None, dtype=object)])
    # a linked service is 帮办 or 代办; the others are mostly 预约 (appointments)
    kind = np.concatenate([rng.choice([1, 2], n_link, p=[0.45, 0.55]),
                           rng.choice(3, n_rest, p=[0.6, 0.2, 0.2])])
    order = np.argsort(at, kind="stable")
    team, at, case_ids, kind = team[order], at[order], case_ids[order], kind[order]
    n = len(team)
    # a team serves only after it was formed: the few earlier draws (of services without a
    # case) move to its first day
    at = np.maximum(at, formed[team] * DAY + 9 * 3600)
    member = np.array([rng.choice(np.flatnonzero(m_team == t)) for t in team], dtype=np.int64)
    group_p = np.array([g[1] for g in GROUPS])
    items = pick(ITEMS, rng.integers(0, len(ITEMS), n))
    frame = pl.DataFrame({
        "服务编号": seq_ids("BBFW", 1, n, 6),
        "帮办团编号": pick(team_ids, team),
        "所属社区编码": pick(geo.codes, team_comm[team]),
        "服务人员编号": pick(member_ids, member),
        "关联办件编号": pl.Series(case_ids.tolist(), dtype=pl.String),
        "服务时间": ts_text(ctx.cal, at),
        "服务方式": pick(KINDS, kind),
        "服务对象": pick([g[0] for g in GROUPS], rng.choice(len(GROUPS), n, p=group_p)),
        # a linked service's item is its case's (on the platform); the log names the others'
        "办理事项": pl.select(pl.when(pl.Series(case_ids.tolist(), dtype=pl.String).is_null())
                          .then(items)).to_series(),
    })
    return frame, n_link
