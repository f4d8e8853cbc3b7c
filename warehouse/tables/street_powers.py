"""街道职权清单 (the powers delegated to streets): the items of the street power list with
their legal basis and the department that delegated them, the street's certified enforcement
staff (综合执法中心, 执法证), and the enforcement cases per item, DESIGN §3 ("Later").

The list is kept per street (``street_code``): every street (and town) publishes its own, most
items shared, a town's with its rural ones; the district's count of items is the number of
distinct ``item_code`` values (the seed: 210). Enforcers are person-level rows: names, ID
numbers and phones are masked or pseudonymised at ingestion; the enforcement-certificate number
is masked on pages and exports.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Index, String

from warehouse.schema import DIMENSION, FACT, _code, _personal, _table

ITEM_KINDS = ("penalty", "enforcement", "inspection", "licence", "other")
ENFORCEMENT_STATUSES = ("open", "closed", "withdrawn")

delegated_items = _table(
    "delegated_items",
    DIMENSION,
    _code("street_code", "street", key=True),
    Column("item_code", String(64), primary_key=True),
    Column("item_name", String(256), nullable=False),
    Column("kind", String(16), nullable=False, info={
        "enum": ITEM_KINDS, "default": "other", "synonyms": {
            "行政处罚": "penalty", "行政强制": "enforcement", "行政检查": "inspection",
            "行政许可": "licence", "其他": "other", "其他行政权力": "other"}}),
    Column("legal_basis", String(2000)),  # 法律依据: the law and article
    Column("department", String(128), nullable=False),  # the department that delegated it
    Column("delegated_on", Date, nullable=False),
    area="street_code",
)

enforcers = _table(
    "enforcers",
    DIMENSION,
    Column("enforcer_id", String(64), primary_key=True),
    _code("street_code", "street"),
    Column("certificate_no", String(64), info={"code": True}),  # 执法证号
    Column("certified_on", Date, nullable=False),
    Column("expires_on", Date),
    *_personal(),
    area="street_code",
    personal=True,
)

enforcement_cases = _table(
    "enforcement_cases",
    FACT,
    Column("case_id", String(64), primary_key=True),
    _code("street_code", "street"),
    Column("item_code", String(64), nullable=False),
    Column("opened_at", DateTime, nullable=False),  # 立案
    Column("closed_at", DateTime),  # 结案
    Column("status", String(16), nullable=False, info={
        "enum": ENFORCEMENT_STATUSES, "default": "open", "synonyms": {
            "办理中": "open", "已立案": "open", "已结案": "closed", "结案": "closed",
            "撤销": "withdrawn", "已撤销": "withdrawn"}}),
    Index("ix_enforcement_cases_opened", "opened_at"),
    area="street_code",
)
