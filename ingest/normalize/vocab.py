"""Value vocabularies: the words source systems use for our codes, in one place.

Keys are compared after trimming, half-width folding and lower-casing, so ``Online``,
``ONLINE`` and ``网上办理`` all become ``online``.
"""

from __future__ import annotations

TRUE_WORDS = ("true", "t", "yes", "y", "1", "是", "有", "对", "√", "✓", "已", "已整改",
              "已培训", "已调解", "调解成功", "持证", "党员", "返工", "存入",
              # holiday notices mark 调休 working days 班 / 上班 (holiday_calendar.workday)
              "班", "上班", "补班", "工作日")
FALSE_WORDS = ("false", "f", "no", "n", "0", "否", "无", "没有", "×", "✗", "未", "未整改",
               "未培训", "调解失败", "未持证", "非党员", "群众",
               # …and days off 休 / 放假 / 休息
               "休", "休息", "放假", "休息日", "节假日")

BOOLEANS: dict[str, bool] = {**{w: True for w in TRUE_WORDS}, **{w: False for w in FALSE_WORDS}}

# Per enum (by its tuple of codes' first member is not stable, so by column name).
ENUMS: dict[str, dict[str, str]] = {
    "channel": {
        "网上办": "online", "网办": "online", "网上办理": "online", "线上": "online",
        "一网通办": "online", "掌上办": "online", "app": "online", "web": "online",
        "窗口": "window", "窗口办理": "window", "大厅": "window", "线下": "window",
        "驿站": "station", "红色驿站": "station", "驿站办": "station", "就近办": "station",
        "自助": "self_service", "自助办": "self_service", "自助终端": "self_service",
        "self-service": "self_service", "self service": "self_service",
        "帮办": "help_desk", "代办": "help_desk", "帮办代办": "help_desk",
        "help desk": "help_desk", "help-desk": "help_desk",
    },
    "status": {
        # service cases
        "受理": "accepted", "已受理": "accepted", "办理中": "accepted", "在办": "accepted",
        "办结": "completed", "已办结": "completed", "完成": "completed", "已完成": "completed",
        "不予受理": "rejected", "退回": "rejected", "驳回": "rejected", "不予许可": "rejected",
        "撤回": "withdrawn", "已撤回": "withdrawn", "撤销": "withdrawn",
        # certificates
        "保留": "retained", "取消": "abolished", "已取消": "abolished", "精减": "abolished",
        # consultations
        "提出": "raised", "已提出": "raised", "协商中": "in_progress", "进行中": "in_progress",
        "in progress": "in_progress", "已解决": "resolved", "解决": "resolved",
        "办结归档": "closed", "已关闭": "closed",
    },
    "source": {
        "巡查": "inspector", "网格员": "inspector", "网格员上报": "inspector",
        "巡查发现": "inspector",
        "居民": "resident", "群众": "resident", "居民上报": "resident", "群众反映": "resident",
        "热线": "hotline", "12345": "hotline", "12345热线": "hotline", "市长热线": "hotline",
        "其他": "other", "其它": "other",
    },
    "role": {
        "网格员": "grid_worker", "专职网格员": "grid_worker", "社区工作者": "grid_worker",
        "楼栋长": "building_head", "单元长": "building_head", "楼栋长(单元长)": "building_head",
        "支部书记": "party_secretary", "网格党支部书记": "party_secretary",
        "书记": "party_secretary",
    },
    "tier": {
        "基础型": "basic", "基础": "basic", "标准型": "standard", "标准": "standard",
        "引领型": "leading", "引领": "leading",
    },
    "level": {
        "区": "district", "区县": "district", "街道": "street", "镇": "street", "乡": "street",
        "社区": "community", "村": "community", "网格": "grid",
    },
}

RATINGS: dict[str, int] = {
    "非常满意": 5, "满意": 4, "基本满意": 3, "一般": 3, "不满意": 2, "非常不满意": 1,
    "好评": 5, "差评": 1,
}
