"""红色帮办团 (help-desk teams): the district's 96 政务服务 help teams, their members and the
services they performed, DESIGN §3 ("Later").

A team belongs to a community (the seed: 96 teams, every one of the 92 communities covered).
Members are grid workers, volunteers and checked-in party members: person-level rows, so names,
ID numbers and phones are masked or pseudonymised at ingestion like the volunteer register. A
service (预约, 帮办, 代办) is done by a team for a resident in a special group (elderly with
limited mobility, disabled, working away); when it became a case on the government-service
platform it carries that case's ``case_id`` (``service_cases.case_id``), which is kept as given
and not required to exist yet: the platform's export may arrive after the team's log.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Index, String

from warehouse.schema import DIMENSION, FACT, _code, _personal, _table

MEMBER_ROLES = ("grid_worker", "volunteer", "party_member", "staff")
HELP_KINDS = ("appointment", "assist", "proxy")  # 预约 / 帮办 / 代办
BENEFICIARY_GROUPS = ("elderly", "disabled", "migrant_worker", "other")

help_teams = _table(
    "help_teams",
    DIMENSION,
    Column("team_id", String(64), primary_key=True),
    _code("community_code", "community"),
    Column("name", String(256), nullable=False),
    Column("formed_on", Date, nullable=False),  # 组建日期
    area="community_code",
)

help_team_members = _table(
    "help_team_members",
    DIMENSION,
    Column("member_id", String(64), primary_key=True),
    Column("team_id", String(64), nullable=False),
    _code("community_code", "community"),
    Column("role", String(16), nullable=False, info={
        "enum": MEMBER_ROLES, "default": "staff", "synonyms": {
            "网格员": "grid_worker", "社区工作者": "grid_worker", "志愿者": "volunteer",
            "双报到党员": "party_member", "党员": "party_member", "工作人员": "staff",
            "窗口人员": "staff", "其他": "staff"}}),
    Column("joined_on", Date),
    *_personal(),
    area="community_code",
    personal=True,
)

help_team_services = _table(
    "help_team_services",
    FACT,
    Column("service_id", String(64), primary_key=True),
    Column("team_id", String(64), nullable=False),
    _code("community_code", "community"),
    Column("member_id", String(64)),
    Column("case_id", String(64)),  # the service case it became, when it became one
    Column("served_at", DateTime, nullable=False),
    Column("kind", String(16), nullable=False, info={
        "enum": HELP_KINDS, "synonyms": {
            "预约": "appointment", "预约服务": "appointment", "帮办": "assist",
            "代办": "proxy", "帮办代办": "proxy"}}),
    Column("beneficiary", String(16), nullable=False, info={
        "enum": BENEFICIARY_GROUPS, "default": "other", "synonyms": {
            "老年人": "elderly", "行动不便老人": "elderly", "高龄老人": "elderly",
            "残疾人": "disabled", "在外务工人员": "migrant_worker",
            "外出务工人员": "migrant_worker",
            "其他": "other", "其他群体": "other"}}),
    Column("item_name", String(256)),  # the service item, as the team logged it
    Index("ix_help_team_services_served", "served_at"),
    area="community_code",
)

