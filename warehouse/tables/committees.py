"""社区"两委"班子"三色研判": periodic assessments of each community's committees (DESIGN §3).

The district's organisation department rates every community's party and residents'
committees (两委班子) each period on their daily performance and results: a score, a colour
(蓝 meets the bar, 黄 warns, 红 lags: 后进 or 软弱涣散), the reasons, whether the committee is put
under 提级管理 (escalated management: the street or district takes over its supervision and
集中整顿), and how far its rectification (整改) has come. One row per community and
assessment; ``period`` is the month the assessment was made (``YYYY-MM``). ``reasons`` is free
text: ID and mobile numbers inside are masked before storage.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, String

from warehouse.schema import FACT, _code, _table

COLOURS = ("red", "yellow", "blue")
RECTIFICATION = ("not_needed", "pending", "in_progress", "done")

committee_assessments = _table(
    "committee_assessments",
    FACT,
    Column("assessment_id", String(64), primary_key=True),  # 研判编号
    _code("community_code", "community"),
    Column("period", String(7), nullable=False,
           info={"pattern": r"^\d{4}-(0[1-9]|1[0-2])$"}),  # the month of the assessment
    Column("score", Float, info={"range": (0, 100)}),
    Column("colour", String(16), nullable=False, info={
        "enum": COLOURS, "synonyms": {
            "红": "red", "红色": "red", "红档": "red", "红色后进": "red", "后进": "red",
            "软弱涣散": "red", "黄": "yellow", "黄色": "yellow", "黄档": "yellow",
            "一般": "yellow", "蓝": "blue", "蓝色": "blue", "蓝档": "blue", "好": "blue",
            "较好": "blue", "先进": "blue", "r": "red", "y": "yellow", "b": "blue",
            "amber": "yellow", "green": "blue"}}),
    Column("reasons", String(2000)),  # 主要问题 / 研判理由, free text
    # 提级管理: the street or district supervises the committee directly while it is rectified
    Column("escalated", Boolean, nullable=False, info={"default": False, "words": {
        "提级管理": True, "已提级": True, "提级": True, "未提级": False, "不提级": False}}),
    # 整改情况; NULL: not recorded (a blue committee usually has nothing to rectify)
    Column("rectification", String(16), info={
        "enum": RECTIFICATION, "synonyms": {
            "无需整改": "not_needed", "不需整改": "not_needed", "无": "not_needed",
            "不涉及": "not_needed", "未整改": "pending", "待整改": "pending",
            "未开始": "pending", "整改中": "in_progress", "正在整改": "in_progress",
            "整改推进中": "in_progress", "已整改": "done", "整改完成": "done",
            "已完成": "done", "完成": "done", "已销号": "done", "销号": "done",
            "none": "not_needed", "n/a": "not_needed", "open": "pending",
            "in progress": "in_progress", "completed": "done", "rectified": "done"}}),
    Index("ix_committee_assessments_period", "period"),
    area="community_code",
)
