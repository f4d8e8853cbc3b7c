"""商圈党建 (party building in business districts): the model merchants (党员示范商户) of the
district's 12 business districts and the problems they raised or helped neighbouring merchants
solve ("帮带" / "育苗"), DESIGN §3 ("Later").

A merchant is a shop, so its name is not personal data; its owner is a person: the owner's
name and phone, when an export carries them, are masked at ingestion (``personal``). A problem
names the model merchant that raised it or helped solve it (``role``) and the community it
happened in; ``resolved_at`` says when it was solved.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Index, String

from warehouse.schema import DIMENSION, FACT, _code, _personal, _table

PROBLEM_ROLES = ("raised", "helped")
PROBLEM_STATUSES = ("open", "in_progress", "resolved")

model_merchants = _table(
    "model_merchants",
    DIMENSION,
    Column("merchant_id", String(64), primary_key=True),
    _code("community_code", "community"),
    Column("merchant_name", String(256), nullable=False),  # the shop (商户名称); "name" is
    # the owner's, a personal input of this table
    Column("business_district", String(128)),  # 商圈
    Column("trade", String(64)),  # 业态: 餐饮, 零售 …
    Column("designated_on", Date, nullable=False),  # named a 示范商户
    *_personal(),  # the owner (党员店主): masked, never in clear
    area="community_code",
    personal=True,
)

merchant_problems = _table(
    "merchant_problems",
    FACT,
    Column("problem_id", String(64), primary_key=True),
    Column("merchant_id", String(64), nullable=False),
    _code("community_code", "community"),
    Column("role", String(16), nullable=False, info={
        "enum": PROBLEM_ROLES, "default": "helped", "synonyms": {
            "提出": "raised", "反映": "raised", "自身反映": "raised", "帮助解决": "helped",
            "帮带": "helped", "协助解决": "helped"}}),
    Column("category", String(64)),  # 融资, 招工, 证照办理 …
    Column("raised_at", DateTime, nullable=False),
    Column("resolved_at", DateTime),
    Column("status", String(16), nullable=False, info={
        "enum": PROBLEM_STATUSES, "default": "open", "synonyms": {
            "待解决": "open", "未解决": "open", "办理中": "in_progress", "解决中": "in_progress",
            "已解决": "resolved", "已办结": "resolved"}}),
    Index("ix_merchant_problems_raised", "raised_at"),
    area="community_code",
)
