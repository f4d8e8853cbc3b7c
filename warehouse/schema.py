"""Every warehouse table, defined once with SQLAlchemy Core (DESIGN §3).

Column ``info`` carries the table contract the ingest runner enforces:
``enum`` (allowed codes), ``range`` (inclusive bounds), ``ref`` (the division level a code must
exist at), ``default`` (value used when a source lacks the column), ``code`` (a code or key
that is not named ``*_id`` / ``*_code``: stored as given; every other text is free text and
passes the personal-data redaction). ``String(n)`` declares each text column's maximum once.
Primary keys are the source system's own ids; ``nullable=False`` marks required columns.
Timestamps are naive UTC.

The metadata, the table kinds and the column helpers are in :mod:`warehouse.columns`, the
application's own tables (accounts, sessions, audit, requests) in :mod:`warehouse.app_tables`;
both are re-exported here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from core.divisions import LEVEL_WORDS, SCOPE_LEVELS
from warehouse.app_tables import (  # re-exported: the app's own tables
    app_metadata,  # noqa: F401
    audit_log,  # noqa: F401
    reprocess_requests,  # noqa: F401
    run_requests,  # noqa: F401
    user_sessions,  # noqa: F401
    users,  # noqa: F401
)
from warehouse.columns import (  # re-exported: warehouse/tables/ declares tables with them
    DIMENSION,
    FACT,
    LONLAT_TABLES,  # noqa: F401
    OPERATIONAL,
    PERSONAL_TABLES,  # noqa: F401
    _code,
    _enum,
    _lineage,  # noqa: F401
    _lonlat,
    _personal,
    _rating,
    _table,
    metadata,
)

CHANNELS = ("online", "window", "station", "self_service", "help_desk")
CASE_STATUSES = ("accepted", "completed", "rejected", "withdrawn")
EVENT_SOURCES = ("inspector", "resident", "hotline", "other")
STAFF_ROLES = ("grid_worker", "building_head", "party_secretary")
STATION_TIERS = ("basic", "standard", "leading")
CERT_STATUSES = ("retained", "abolished")
CONSULTATION_STATUSES = ("raised", "in_progress", "resolved", "closed")


divisions = _table(
    "divisions",
    DIMENSION,
    Column("code", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("short_name", String(128)),
    # buildings are not rows here: they have a register (warehouse/tables/buildings.py)
    Column("level", String(16), nullable=False,
           info={"enum": SCOPE_LEVELS, "synonyms": LEVEL_WORDS}),
    Column("parent_code", String(32)),
    Column("active", Boolean, nullable=False, info={"default": True}),
    Column("placeholder", Boolean, nullable=False, info={"default": False}),
    Column("unit_type", String(64)),
    Column("valid_from", Date, info={"merge": "keep"}),  # the first vintage that listed it
    Column("valid_to", Date),
)

population = _table(
    "population",
    DIMENSION,
    _code("community_code", "community", key=True),
    Column("year", Integer, primary_key=True, info={"range": (1949, 2100)}),
    Column("residents", Integer, nullable=False, info={"range": (0, 10_000_000)}),
    Column("households", Integer, info={"range": (0, 10_000_000)}),
)

service_items = _table(
    "service_items",
    DIMENSION,
    Column("item_code", String(64), primary_key=True),
    Column("item_name", String(256), nullable=False),
    Column("department", String(128)),
    Column("online_capable", Boolean, nullable=False, info={"default": False}),
    Column("station_available", Boolean, nullable=False, info={"default": False}),
    Column("high_frequency", Boolean, nullable=False, info={"default": False}),
    Column("instant", Boolean, nullable=False, info={"default": False}),
    Column("legal_days", Integer, info={"range": (0, 3650)}),
    Column("promised_days", Integer, info={"range": (0, 3650)}),
)

service_cases = _table(
    "service_cases",
    FACT,
    Column("case_id", String(64), primary_key=True),
    Column("item_code", String(64), nullable=False),
    _code("community_code", "community"),
    _enum("channel", CHANNELS, synonyms={
        "网上办": "online", "网办": "online", "网上办理": "online", "线上": "online",
        "一网通办": "online", "掌上办": "online", "app": "online", "web": "online",
        "窗口": "window", "窗口办理": "window", "大厅": "window", "线下": "window",
        "驿站": "station", "红色驿站": "station", "驿站办": "station", "就近办": "station",
        "自助": "self_service", "自助办": "self_service", "自助终端": "self_service",
        "self-service": "self_service", "self service": "self_service",
        "帮办": "help_desk", "代办": "help_desk", "帮办代办": "help_desk",
        "help desk": "help_desk", "help-desk": "help_desk"}),
    Column("submitted_at", DateTime, nullable=False),
    Column("completed_at", DateTime),
    _enum("status", CASE_STATUSES, synonyms={
        "受理": "accepted", "已受理": "accepted", "办理中": "accepted", "在办": "accepted",
        "办结": "completed", "已办结": "completed", "完成": "completed", "已完成": "completed",
        "不予受理": "rejected", "退回": "rejected", "驳回": "rejected", "不予许可": "rejected",
        "撤回": "withdrawn", "已撤回": "withdrawn", "撤销": "withdrawn"}),
    Column("visits", Integer, info={"range": (0, 100), "default": 0}),
    _rating("rating"),
    Column("rectified", Boolean),
    # a drill-through's first page reads the period newest first from these (migration 9)
    Index("ix_service_cases_submitted_at", "submitted_at"),
    Index("ix_service_cases_completed_at", "completed_at"),
    area="community_code",
)

certificates = _table(
    "certificates",
    DIMENSION,
    Column("certificate_id", String(64), primary_key=True),
    Column("name", String(256), nullable=False),
    _enum("status", CERT_STATUSES, synonyms={
        "保留": "retained", "取消": "abolished", "已取消": "abolished", "精减": "abolished"}),
    Column("changed_at", DateTime),
)

grid_events = _table(
    "grid_events",
    FACT,
    Column("event_id", String(64), primary_key=True),
    _code("grid_code", "grid"),
    Column("category", String(128), info={"code": True}),  # grid_event_categories.category
    _enum("source", EVENT_SOURCES, default="other", synonyms={
        "巡查": "inspector", "网格员": "inspector", "网格员上报": "inspector",
        "巡查发现": "inspector",
        "居民": "resident", "群众": "resident", "居民上报": "resident", "群众反映": "resident",
        "热线": "hotline", "12345": "hotline", "12345热线": "hotline", "市长热线": "hotline",
        "其他": "other", "其它": "other"}),
    Column("reported_at", DateTime, nullable=False),
    Column("registered_at", DateTime),
    Column("dispatched_at", DateTime),
    Column("resolved_at", DateTime),
    Column("closed_at", DateTime),
    Column("deadline_at", DateTime),
    Column("reworked", Boolean, info={"default": False}),
    _rating("satisfaction"),
    Column("is_dispute", Boolean, nullable=False, info={"default": False}),
    Column("mediated", Boolean),
    *_lonlat(),
    Index("ix_grid_events_grid", "grid_code"),  # grid pages query one grid's events
    Index("ix_grid_events_reported_at", "reported_at"),  # drill-through pages (migration 9)
    Index("ix_grid_events_registered_at", "registered_at"),
    area="grid_code",
)

grid_event_categories = _table(
    "grid_event_categories",
    DIMENSION,
    Column("category", String(128), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("description", String(2000)),  # every text column declares its maximum
    Column("group_name", String(128)),
)

grid_staff = _table(
    "grid_staff",
    DIMENSION,
    Column("staff_id", String(64), primary_key=True),
    _code("grid_code", "grid"),
    _enum("role", STAFF_ROLES, synonyms={
        "网格员": "grid_worker", "专职网格员": "grid_worker", "社区工作者": "grid_worker",
        "楼栋长": "building_head", "单元长": "building_head", "楼栋长(单元长)": "building_head",
        "支部书记": "party_secretary", "网格党支部书记": "party_secretary",
        "书记": "party_secretary"}),
    # the building a 楼栋长 looks after (the building register, warehouse/tables/buildings.py);
    # it must lie in the row's grid. Empty for other roles (added by migration 10)
    Column("building_code", String(32), info={"ref": "building", "under": "grid_code"}),
    Column("is_party_member", Boolean, nullable=False, info={"default": False}),
    Column("certified_social_worker", Boolean, nullable=False, info={"default": False}),
    Column("trained", Boolean, nullable=False, info={"default": False}),
    *_personal(),
    area="grid_code",
    personal=True,
)

volunteers = _table(
    "volunteers",
    DIMENSION,
    Column("volunteer_id", String(64), primary_key=True),
    _code("community_code", "community"),
    Column("team_id", String(64)),
    Column("registered_at", DateTime, nullable=False),
    Column("is_party_member", Boolean, nullable=False, info={"default": False}),
    *_personal(),
    # teams are counted distinct: covering index, read in team order without a sort
    Index("ix_volunteers_team", "team_id", "registered_at", "community_code"),
    area="community_code",
    personal=True,
)

volunteer_services = _table(
    "volunteer_services",
    FACT,
    Column("record_id", String(64), primary_key=True),
    Column("volunteer_id", String(64), nullable=False),
    _code("community_code", "community"),
    Column("activity", String(256)),
    Column("started_at", DateTime, nullable=False),
    Column("hours", Float, nullable=False, info={"range": (0, 24)}),
    Column("timebank", Boolean, nullable=False, info={"default": False}),
    # active volunteers are counted distinct per period: not additive, so no rollup; a
    # covering index lets the count read a month's ids without touching the rows
    Index("ix_volunteer_services_started_volunteer", "started_at", "volunteer_id"),
    area="community_code",
)

timebank_redemptions = _table(
    "timebank_redemptions",
    FACT,
    Column("redemption_id", String(64), primary_key=True),
    Column("volunteer_id", String(64), nullable=False),
    _code("community_code", "community"),
    Column("redeemed_at", DateTime, nullable=False),
    Column("hours", Float, nullable=False, info={"range": (0, 1000)}),
    Column("service", String(256)),
    area="community_code",
)

party_members = _table(
    "party_members",
    DIMENSION,
    Column("member_id", String(64), primary_key=True),
    _code("community_code", "community"),
    Column("checked_in_at", DateTime),
    Column("points", Float, info={"range": (0, 100_000), "default": 0}),
    *_personal(),
    area="community_code",
    personal=True,
)

party_deeds = _table(
    "party_deeds",
    FACT,
    Column("deed_id", String(64), primary_key=True),
    Column("member_id", String(64), nullable=False),
    _code("community_code", "community"),
    Column("done_at", DateTime, nullable=False),
    Column("kind", String(128)),
    area="community_code",
)

consultations = _table(
    "consultations",
    FACT,
    Column("topic_id", String(64), primary_key=True),
    _code("community_code", "community"),
    Column("mechanism", String(128)),
    Column("raised_at", DateTime, nullable=False),
    Column("resolved_at", DateTime),
    _enum("status", CONSULTATION_STATUSES, default="raised", synonyms={
        "提出": "raised", "已提出": "raised", "协商中": "in_progress", "进行中": "in_progress",
        "in progress": "in_progress", "已解决": "resolved", "解决": "resolved",
        "办结归档": "closed", "已关闭": "closed"}),
    area="community_code",
)

stations = _table(
    "stations",
    DIMENSION,
    Column("station_id", String(64), primary_key=True),
    _code("community_code", "community"),
    Column("name", String(256), nullable=False),
    _enum("tier", STATION_TIERS, synonyms={
        "基础型": "basic", "基础": "basic", "标准型": "standard", "标准": "standard",
        "引领型": "leading", "引领": "leading"}),
    Column("opened_at", Date),
    *_lonlat(),
    area="community_code",
)

property_fees = _table(
    "property_fees",
    FACT,
    _code("community_code", "community", key=True),
    Column("period", String(7), primary_key=True, info={"pattern": r"^\d{4}-(0[1-9]|1[0-2])$"}),
    Column("households_billed", Integer, nullable=False, info={"range": (0, 1_000_000)}),
    Column("households_paid", Integer, nullable=False, info={"range": (0, 1_000_000)}),
    area="community_code",
)

# The official holiday arrangement (国务院办公厅关于20XX年部分节假日安排的通知) as an office
# supplies it: the days the notice names, working (调休 weekends) or not (holidays). Preferred
# over the chinese-calendar package for the days it lists; a year with any row counts as
# covered (metrics/calendar.py builds the working-day index behind 按期 deadlines from both).
holiday_calendar = _table(
    "holiday_calendar",
    DIMENSION,
    Column("day", Date, primary_key=True),
    Column("workday", Boolean, nullable=False),
    Column("holiday", String(32)),  # 春节, 国庆节 … (empty on a 调休 working day is fine)
)

# -- operational tables: owned by the framework, never fed by a source ---------------------------

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime, nullable=False),
    info={"kind": OPERATIONAL},
)

warehouse_meta = Table(
    "warehouse_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    info={"kind": OPERATIONAL},
)

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("status", String(16), nullable=False),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("rows_loaded", Integer, nullable=False, default=0),
    Column("rows_quarantined", Integer, nullable=False, default=0),
    Column("rows_duplicate", Integer, nullable=False, default=0),
    Column("rows_inserted", Integer, nullable=False, default=0),
    Column("rows_updated", Integer, nullable=False, default=0),
    Column("rows_retired", Integer, nullable=False, default=0),
    Column("rows_deleted", Integer, nullable=False, default=0),  # flagged deleted by the source
    Column("error", Text),
    Column("host", String(128)),
    Column("pid", Integer),
    Index("ix_ingest_runs_source_started", "source", "started_at"),
    info={"kind": OPERATIONAL},
)

ingest_state = Table(
    "ingest_state",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("cursor", Text),
    Column("run_id", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    info={"kind": OPERATIONAL},
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("source", String(64), nullable=False),
    Column("table_name", String(64), nullable=False),
    Column("origin", Text),
    Column("sheet", String(128)),
    Column("row_number", Integer),
    Column("column_name", String(128)),
    Column("reason", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    # personal columns computed from the row's clear inputs (JSON: id_hash, masks), which the
    # masked raw row cannot give back: a reprocessed row keeps its pseudonym
    Column("derived", Text),
    # the reprocess run that loaded the row (or found a newer version loaded); NULL: still open
    Column("resolved_run_id", Integer),
    Index("ix_quarantine_run", "run_id"),
    Index("ix_quarantine_source", "source"),
    info={"kind": OPERATIONAL},
)

ingest_locks = Table(
    "ingest_locks",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("host", String(128), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    info={"kind": OPERATIONAL},
)


# -- derived tables: rebuilt from the others, owned by metrics -----------------------------------

DERIVED = "derived"

work_calendar = Table(
    "work_calendar",
    metadata,
    Column("day", Date, primary_key=True),
    Column("workday", Boolean, nullable=False),
    # working days on or before this day since the calendar's first day
    Column("workdays_to_date", Integer, nullable=False),
    # 2 × workdays_to_date, +1 on a rest day: orders "on or before the Nth working day" exactly
    Column("day_rank", Integer, nullable=False),
    Column("official", Boolean, nullable=False),  # False: weekends only, no holiday data yet
    info={"kind": DERIVED},
)


def data_tables() -> dict[str, Table]:
    """Tables a source may feed, by name (facts and dimensions, not operational ones)."""
    return {
        t.name: t for t in metadata.sorted_tables if t.info.get("kind") in (FACT, DIMENSION)
    }


def personal_tables() -> list[str]:
    """Tables about persons (``personal=True``: masked names and phones, pseudonymised ID
    numbers), including those of warehouse/tables/."""
    return [name for name, t in data_tables().items() if t.info.get("personal")]


def key_columns(table: Table) -> list[str]:
    """The merge key of a table: its primary key, the source system's own ids."""
    return [c.name for c in table.primary_key.columns]


def polars_dtype(col: Column[Any]) -> Any:
    """The polars type that holds a column's values as the warehouse stores them."""
    import polars as pl

    t = col.type
    if isinstance(t, DateTime):
        return pl.Datetime("us")
    if isinstance(t, Date):
        return pl.Date
    if isinstance(t, Boolean):
        return pl.Boolean
    if isinstance(t, Integer):
        return pl.Int64
    if isinstance(t, Float):
        return pl.Float64
    return pl.String


def content_columns(table: Table) -> list[Column[Any]]:
    """Columns a source provides, i.e. all but the lineage columns."""
    return [c for c in table.columns if not c.name.startswith("_")]
