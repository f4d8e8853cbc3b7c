"""Detail rows behind a domain page: the fact rows of one area and period, a page at a time.

These are for reading and exporting, never for computing KPIs. Times are shown in
Asia/Shanghai, codes get their names, and every query is bounded (a page, or the export cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Engine, and_, func, select

from metrics.access import Viewer
from metrics.compiler import Scope, area_column, grid_level, scope_condition, time_bounds
from metrics.periods import Period
from warehouse.schema import data_tables, polars_dtype

EXPORT_CAP = 200_000  # rows; an export beyond this asks the user to narrow the filter


@dataclass(frozen=True)
class DetailSpec:
    """Which table and columns a domain's detail table shows, with Chinese and English names."""

    table: str
    time: str
    columns: tuple[tuple[str, str, str], ...]  # (column, zh, en)
    personal: bool = False  # rows about persons: every view and export is audited


DETAILS: dict[str, DetailSpec] = {
    "gov": DetailSpec("service_cases", "submitted_at", (
        ("case_id", "办件编号", "Case"), ("item_code", "事项编码", "Item"),
        ("community_code", "社区", "Community"), ("channel", "办理渠道", "Channel"),
        ("submitted_at", "受理时间", "Submitted"), ("completed_at", "办结时间", "Completed"),
        ("status", "状态", "Status"), ("visits", "跑动次数", "Visits"),
        ("rating", "评价", "Rating"), ("rectified", "已整改", "Rectified"))),
    "grid": DetailSpec("grid_events", "reported_at", (
        ("event_id", "事件编号", "Event"), ("grid_code", "网格", "Grid"),
        ("category", "类别", "Category"), ("source", "来源", "Source"),
        ("reported_at", "上报时间", "Reported"), ("registered_at", "立案时间", "Registered"),
        ("closed_at", "结案时间", "Closed"), ("deadline_at", "处置时限", "Deadline"),
        ("reworked", "返工", "Reworked"), ("satisfaction", "满意度", "Satisfaction"),
        ("is_dispute", "矛盾纠纷", "Dispute"), ("mediated", "调解成功", "Mediated"))),
    "vol": DetailSpec("volunteer_services", "started_at", (
        ("record_id", "记录编号", "Record"), ("volunteer_id", "志愿者编号", "Volunteer"),
        ("community_code", "社区", "Community"), ("activity", "服务内容", "Activity"),
        ("started_at", "服务时间", "Started"), ("hours", "时长(小时)", "Hours"),
        ("timebank", "存入时间存折", "Time bank")), personal=True),
    "party": DetailSpec("party_deeds", "done_at", (
        ("deed_id", "编号", "Deed"), ("member_id", "党员编号", "Member"),
        ("community_code", "社区", "Community"), ("done_at", "时间", "Done"),
        ("kind", "事项", "Kind")), personal=True),
    "civic": DetailSpec("consultations", "raised_at", (
        ("topic_id", "议题编号", "Topic"), ("community_code", "社区", "Community"),
        ("mechanism", "议事形式", "Mechanism"), ("raised_at", "提出时间", "Raised"),
        ("resolved_at", "解决时间", "Resolved"), ("status", "状态", "Status"))),
}


_PERSON = (("name_masked", "姓名(脱敏)", "Name (masked)"),
           ("phone_masked", "电话(脱敏)", "Phone (masked)"),
           ("id_masked", "证件号(脱敏)", "ID (masked)"))

# The columns a row of each table shows when people read it (drill-through, exports): the
# domain details above, and the other tables KPIs count. Personal columns appear only in
# their masked forms (DESIGN §6); the pseudonym (id_hash) and the lineage never do.
TABLE_COLUMNS: dict[str, tuple[tuple[str, str, str], ...]] = {
    **{spec.table: spec.columns for spec in DETAILS.values()},
    "service_items": (("item_code", "事项编码", "Item"), ("item_name", "事项名称", "Name"),
                      ("department", "部门", "Department"),
                      ("online_capable", "可网办", "Online capable"),
                      ("promised_days", "承诺时限(工作日)", "Promised days")),
    "certificates": (("certificate_id", "证明编号", "Certificate"), ("name", "名称", "Name"),
                     ("status", "状态", "Status"), ("changed_at", "变更时间", "Changed")),
    "grid_staff": (("staff_id", "人员编号", "Staff"), ("grid_code", "网格", "Grid"),
                   ("role", "岗位", "Role"), ("is_party_member", "党员", "Party member"),
                   ("certified_social_worker", "持证社工", "Certified"),
                   ("trained", "已培训", "Trained"), *_PERSON),
    "volunteers": (("volunteer_id", "志愿者编号", "Volunteer"),
                   ("community_code", "社区", "Community"), ("team_id", "服务队", "Team"),
                   ("registered_at", "注册时间", "Registered"),
                   ("is_party_member", "党员", "Party member"), *_PERSON),
    "timebank_redemptions": (("redemption_id", "兑换编号", "Redemption"),
                             ("volunteer_id", "志愿者编号", "Volunteer"),
                             ("community_code", "社区", "Community"),
                             ("redeemed_at", "兑换时间", "Redeemed"),
                             ("hours", "时长(小时)", "Hours"), ("service", "兑换服务", "Service")),
    "party_members": (("member_id", "党员编号", "Member"), ("community_code", "社区", "Community"),
                      ("checked_in_at", "报到时间", "Checked in"), ("points", "积分", "Points"),
                      *_PERSON),
    "stations": (("station_id", "驿站编号", "Station"), ("community_code", "社区", "Community"),
                 ("name", "名称", "Name"), ("tier", "等级", "Tier"),
                 ("opened_at", "建成时间", "Opened")),
    "property_fees": (("community_code", "社区", "Community"), ("period", "月份", "Month"),
                      ("households_billed", "应缴户数", "Billed"),
                      ("households_paid", "已缴户数", "Paid")),
    "population": (("community_code", "社区", "Community"), ("year", "年份", "Year"),
                   ("residents", "常住人口", "Residents"), ("households", "户数", "Households")),
    "divisions": (("code", "区划代码", "Code"), ("name", "名称", "Name"),
                  ("level", "层级", "Level"), ("parent_code", "上级", "Parent"),
                  ("active", "有效", "Active")),
}
# derived columns (metrics.catalog.DERIVED) shown beside the stored ones when a KPI uses them
DERIVED_LABELS: dict[str, tuple[str, str]] = {"on_time": ("按时办结", "On time"),
                                              "hours_to_close": ("结案时长(小时)",
                                                                 "Hours to close")}


def _query(spec: DetailSpec, scope: Scope, period: Period | None) -> Any:
    t = data_tables()[spec.table]
    conds = []
    if period is not None:
        low, high, incl = time_bounds(t, spec.time, period)
        col = t.c[spec.time]
        conds += [col >= low, col <= high if incl else col < high]
    sc = scope_condition(area_column(t), scope, grid_level(t))
    if sc is not None:
        conds.append(sc)
    return t, (and_(*conds) if conds else None)


def count(engine: Engine, domain: str, scope: Scope, period: Period | None, *,
          viewer: Viewer | None = None) -> int:
    if viewer is not None:
        viewer.check(scope.level, scope.code)
    spec = DETAILS[domain]
    t, where = _query(spec, scope, period)
    stmt = select(func.count()).select_from(t)
    if where is not None:
        stmt = stmt.where(where)
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def rows(engine: Engine, domain: str, scope: Scope, period: Period | None, *, offset: int = 0,
         limit: int = 100, viewer: Viewer | None = None) -> pl.DataFrame:
    """One page of detail rows (canonical column names, stored UTC times), newest first."""
    if viewer is not None:
        viewer.check(scope.level, scope.code)
    spec = DETAILS[domain]
    t, where = _query(spec, scope, period)
    cols = [c for c, _, _ in spec.columns]
    stmt = select(*[t.c[c] for c in cols]).order_by(t.c[spec.time].desc(), *[
        t.c[k.name] for k in t.primary_key.columns]).offset(offset).limit(min(limit, EXPORT_CAP))
    if where is not None:
        stmt = stmt.where(where)
    with engine.connect() as conn:
        data = [tuple(r) for r in conn.execute(stmt)]
    return pl.DataFrame(data, orient="row",
                        schema={c: polars_dtype(t.c[c]) for c in cols})


def labelled(frame: pl.DataFrame, domain: str, lang: str = "zh",
             names: dict[str, str] | None = None) -> pl.DataFrame:
    """Rows for people: local times, area names beside codes, column headers in ``lang``."""
    return labelled_columns(frame, DETAILS[domain].columns, lang, names)


def labelled_columns(frame: pl.DataFrame, columns: tuple[tuple[str, str, str], ...],
                     lang: str = "zh", names: dict[str, str] | None = None) -> pl.DataFrame:
    """:func:`labelled` for any column spec ``(column, zh, en)``."""
    out = frame
    for c in frame.columns:
        if frame[c].dtype == pl.Datetime("us"):
            out = out.with_columns((pl.col(c) + pl.duration(hours=8)).dt.strftime(
                "%Y-%m-%d %H:%M").alias(c))
    if names:
        for c in ("community_code", "grid_code"):
            if c in out.columns:
                out = out.with_columns(pl.col(c).replace_strict(
                    names, default=pl.col(c), return_dtype=pl.String).alias(c))
    header = {c: (zh if lang == "zh" else en) for c, zh, en in columns}
    return out.rename({c: header[c] for c in out.columns if c in header})
