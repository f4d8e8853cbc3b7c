"""The vocabularies every column of a kind shares: the words source systems use for true and
false (every boolean column) and for a 1-5 rating (columns named ``rating``/``satisfaction``).

Keys are compared after trimming, half-width folding and lower-casing. The words of one
column's codes (``网上办理`` → ``online``) are not here: they are declared with the column, as
``info={"enum": ..., "synonyms": ...}`` in warehouse/schema.py and warehouse/tables/*.py (and
the level words in core/divisions.py), so a new table brings its own words.
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

RATINGS: dict[str, int] = {
    "非常满意": 5, "满意": 4, "基本满意": 3, "一般": 3, "不满意": 2, "非常不满意": 1,
    "好评": 5, "差评": 1,
}
