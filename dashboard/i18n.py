"""Every string the dashboard shows, in Chinese (the default) and English.

Pages call :func:`t` with a key; KPI and domain labels come from the KPI catalogue
(``label.zh`` / ``label.en``) and value formatting from :mod:`metrics.format`, so nothing
shown to a person is written in a page module. A test checks that every key has both
languages.

Most Streamlit elements (captions, messages, titles, button, tab and metric labels, help
tooltips) render their text as Markdown. Data put into such text (a division's name, a
source id, an error message) is escaped by :func:`md`, and :func:`t` escapes every value it
fills in, so a community named ``**x**`` or ``[a](javascript:…)`` shows as those characters,
never as markup or a link.
"""

from __future__ import annotations

import string
from typing import Any

import streamlit as st

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_KEY = "f_lang"  # the language switch's widget key (and so its session-state key)

STRINGS: dict[str, dict[str, str]] = {
    # app frame
    "app.page_title": {"zh": "共治 Gongzhi", "en": "Gongzhi"},
    "nav.overview": {"zh": "总览", "en": "Overview"},
    "nav.gov": {"zh": "政务服务", "en": "Government services"},
    "nav.grid": {"zh": "网格治理", "en": "Grid management"},
    "nav.vol": {"zh": "志愿服务", "en": "Volunteer service"},
    "nav.party": {"zh": "党建与队伍", "en": "Party and workforce"},
    "nav.data": {"zh": "数据与运行", "en": "Data and runs"},
    "nav.map": {"zh": "地图", "en": "Map"},
    "lang.label": {"zh": "语言 / Language", "en": "Language / 语言"},
    "lang.zh": {"zh": "中文", "en": "中文"},
    "lang.en": {"zh": "English", "en": "English"},
    "user.signed_in": {"zh": "当前用户：{name}（{area}）", "en": "Signed in: {name} ({area})"},
    "role.leader": {"zh": "区领导", "en": "district leader"},
    "role.street_staff": {"zh": "街道工作人员", "en": "street staff"},
    "role.community_staff": {"zh": "社区工作人员", "en": "community staff"},
    # sign-in
    "auth.title": {"zh": "登录共治", "en": "Sign in to Gongzhi"},
    "data.audit": {"zh": "审计日志", "en": "Audit log"},
    "data.audit_help": {"zh": "每次导出、每次查看个人明细数据都会记录；"
                              "日志只能追加，不能修改或删除。",
                        "en": "Every export and every view of person-level rows is recorded; "
                              "the log can only grow."},
    "data.no_audit": {"zh": "审计日志为空。", "en": "The audit log is empty."},
    "col.when": {"zh": "时间", "en": "When"},
    "col.user": {"zh": "用户", "en": "User"},
    "col.role": {"zh": "角色", "en": "Role"},
    "col.action": {"zh": "操作", "en": "Action"},
    "col.target": {"zh": "对象", "en": "Target"},
    "col.filters": {"zh": "筛选条件", "en": "Filters"},
    "col.rows": {"zh": "行数", "en": "Rows"},
    "auth.username": {"zh": "用户名", "en": "User name"},
    "auth.password": {"zh": "密码", "en": "Password"},
    "auth.submit": {"zh": "登录", "en": "Sign in"},
    # one answer for every failure (wrong password, unknown name, locked, disabled): the form
    # must not tell who has an account
    "auth.failed": {"zh": "登录失败：用户名或密码错误，或账户已锁定、已停用。",
                    "en": "Sign-in failed: wrong name or password, or the account is locked "
                          "or disabled."},
    "auth.no_accounts": {"zh": "还没有账户：请在服务器上运行 gongzhi users add 创建。",
                         "en": "No accounts yet: create one with gongzhi users add on the "
                               "server."},
    "auth.oidc": {"zh": "使用统一身份认证登录", "en": "Sign in with single sign-on"},
    "auth.timed_out": {"zh": "长时间未操作，已自动退出，请重新登录。",
                       "en": "The session timed out; please sign in again."},
    "auth.no_account": {"zh": "统一身份认证已通过，但该用户尚未开通本系统账户。",
                        "en": "Single sign-on worked, but this person has no Gongzhi "
                              "account."},
    "auth.expired": {"zh": "登录已超过最长时限，请重新登录。",
                     "en": "The session reached its time limit; please sign in again."},
    "auth.ended": {"zh": "登录已失效（已退出、账户已变更或停用），请重新登录。",
                   "en": "The session has ended (signed out, or the account changed); "
                         "please sign in again."},
    "auth.signing_in": {"zh": "登录成功，正在进入…", "en": "Signed in; opening the dashboard…"},
    "auth.sign_out": {"zh": "退出登录", "en": "Sign out"},
    "auth.open": {"zh": "演示模式：未要求登录，所有访问者按区领导查看。",
                  "en": "Demo mode: no sign-in, every visitor sees the district."},
    # filters
    "filter.header": {"zh": "筛选", "en": "Filters"},
    "filter.street": {"zh": "街道", "en": "Street"},
    "filter.community": {"zh": "社区", "en": "Community"},
    "filter.grid": {"zh": "网格", "en": "Grid"},
    "filter.all_streets": {"zh": "全部街道", "en": "All streets"},
    "filter.all_communities": {"zh": "全部社区", "en": "All communities"},
    "filter.all_grids": {"zh": "全部网格", "en": "All grids"},
    "filter.pick_street_first": {"zh": "先选择街道", "en": "Choose a street first"},
    "filter.grain": {"zh": "周期", "en": "Period type"},
    "filter.period": {"zh": "时段", "en": "Period"},
    "grain.month": {"zh": "月", "en": "Month"},
    "grain.quarter": {"zh": "季度", "en": "Quarter"},
    "grain.year": {"zh": "年", "en": "Year"},
    "grain.ytd": {"zh": "年累计", "en": "Year to date"},
    "period.opened_on_data": {"zh": "已打开有数据的最近月份 {month}（{calendar} 起尚无数据）。",
                              "en": "Showing {month}, the latest month with data (none from "
                                    "{calendar} on)."},
    "filter.share": {"zh": "复制地址栏中的链接即可分享当前视图。",
                     "en": "Copy the address bar to share this view."},
    # drill-down
    "drill.up": {"zh": "返回 {name}", "en": "Back to {name}"},
    "drill.hint": {"zh": "点击柱形或表格行可下钻到下一级。",
                   "en": "Click a bar or a table row to drill down."},
    "drill.finest": {"zh": "已是最细一级（网格），没有下一级排名。",
                     "en": "This is the finest level (a grid): there is no ranking below it."},
    # levels
    "level.district": {"zh": "区", "en": "District"},
    "level.street": {"zh": "街道", "en": "Street"},
    "level.community": {"zh": "社区", "en": "Community"},
    "level.grid": {"zh": "网格", "en": "Grid"},
    # cards
    "card.target_higher": {"zh": "目标 ≥ {v}", "en": "Target ≥ {v}"},
    "card.target_lower": {"zh": "目标 ≤ {v}", "en": "Target ≤ {v}"},
    "card.no_target": {"zh": "无目标", "en": "No target"},
    "card.target_elsewhere": {"zh": "目标适用于{levels}级",
                              "en": "Target applies at {levels} level"},
    "card.fresh": {"zh": "数据更新于 {t}", "en": "Data as of {t}"},
    "card.no_input": {"zh": "⚠ {sources} 最近一次运行未收到数据",
                      "en": "⚠ no input in the latest run of {sources}"},
    "card.vs_prev": {"zh": "环比", "en": "vs previous"},
    "status.blue": {"zh": "达标（蓝）", "en": "On target (blue)"},
    "status.yellow": {"zh": "预警（黄）", "en": "Warning (yellow)"},
    "status.red": {"zh": "落后（红）", "en": "Lagging (red)"},
    "status.small_sample": {"zh": "样本不足，不评色", "en": "Sample too small: no colour"},
    "status.no_value": {"zh": "无数据", "en": "No data"},
    "status.no_target": {"zh": "不设目标", "en": "No target"},
    "status.target_elsewhere": {"zh": "本级不设目标，不评色", "en": "No target at this level"},
    "status.none": {"zh": "无颜色", "en": "No colour"},
    # overview
    "overview.title": {"zh": "总览", "en": "Overview"},
    "overview.caption": {"zh": "{area} · {period}", "en": "{area} · {period}"},
    "overview.cards": {"zh": "核心指标", "en": "Headline KPIs"},
    "overview.ranking": {"zh": "{level}排名", "en": "{level} ranking"},
    "overview.composite": {"zh": "{level}综合考评（红黑榜）",
                           "en": "{level} composite score (red and black lists)"},
    "rank.caption": {"zh": "按综合考评方案加权计分（满分 100）；排名变化与上期相比。",
                     "en": "Weighted score under the scoring scheme (out of 100); rank change "
                           "against the previous period."},
    "rank.rank": {"zh": "排名", "en": "Rank"},
    "rank.score": {"zh": "得分", "en": "Score"},
    "rank.status": {"zh": "等次", "en": "Colour"},
    "rank.change": {"zh": "排名变化", "en": "Change"},
    "rank.board": {"zh": "榜单", "en": "List"},
    "rank.note": {"zh": "说明", "en": "Note"},
    "rank.new": {"zh": "新", "en": "new"},
    "rank.board.top": {"zh": "红榜", "en": "red list (top)"},
    "rank.board.bottom": {"zh": "黑榜", "en": "black list (bottom)"},
    "rank.colour.blue": {"zh": "蓝", "en": "blue"},
    "rank.colour.yellow": {"zh": "黄", "en": "yellow"},
    "rank.colour.red": {"zh": "红", "en": "red"},
    "rank.redistributed": {"zh": "部分指标样本不足，权重已重新分配",
                           "en": "some KPIs below their minimum sample: weight shared out"},
    "nav.targets": {"zh": "目标管理", "en": "Area targets"},
    "targets.title": {"zh": "目标管理", "en": "Area targets"},
    "targets.caption": {"zh": "为街道、社区按年度设定指标目标和预警值；未设定的沿用全区默认目标"
                              "（计数类指标在街道、社区不设默认目标）。每次修改都保留版本并记入审计日志。",
                        "en": "Targets and warning thresholds per street or community and year; "
                              "without one the district default applies (counts have none below "
                              "the district). Every change is kept as a version and audited."},
    "targets.kpi": {"zh": "指标", "en": "KPI"},
    "targets.area": {"zh": "区域", "en": "Area"},
    "targets.year": {"zh": "年度", "en": "Year"},
    "targets.target": {"zh": "目标值", "en": "Target"},
    "targets.warning": {"zh": "预警值", "en": "Warning"},
    "targets.default": {"zh": "全区默认", "en": "District default"},
    "targets.version": {"zh": "版本", "en": "Version"},
    "targets.by": {"zh": "设置人", "en": "Set by"},
    "targets.at": {"zh": "设置时间", "en": "Set at"},
    "targets.note": {"zh": "说明", "en": "Note"},
    "targets.value_help": {"zh": "比率可写 0.9 或 90%", "en": "Ratios as 0.9 or 90%"},
    "targets.save": {"zh": "保存目标", "en": "Save target"},
    "targets.clear": {"zh": "恢复全区默认", "en": "Back to the district default"},
    "targets.need_target": {"zh": "请填写目标值。", "en": "Enter a target."},
    "targets.failed": {"zh": "未能保存：{detail}", "en": "Not saved: {detail}"},
    "targets.saved": {"zh": "已保存（第 {version} 版）。", "en": "Saved (version {version})."},
    "targets.leaders_only": {"zh": "仅区领导可修改目标；下表为本区域的目标。",
                             "en": "Only district leaders change targets; below are your area's."},
    "targets.history": {"zh": "显示历史版本", "en": "Show every version"},
    "targets.none": {"zh": "尚未设定区域目标。", "en": "No area targets yet."},
    "targets.cleared": {"zh": "已恢复默认", "en": "cleared"},
    "nav.bulletins": {"zh": "月度通报", "en": "Monthly bulletin"},
    "bulletin.title": {"zh": "月度通报", "en": "Monthly bulletin"},
    "bulletin.caption": {"zh": "按指标口径自动生成通报（Word 可在 WPS 中编辑，PDF 用于存档）；"
                               "每次生成和下载均记入审计日志。",
                         "en": "The bulletin generated from the KPI definitions (Word to edit, "
                               "PDF to archive); every generation and download is audited."},
    "bulletin.format": {"zh": "格式", "en": "Format"},
    "bulletin.generate": {"zh": "生成{area} {period} 通报", "en": "Generate {area} {period}"},
    "bulletin.working": {"zh": "正在生成通报…", "en": "Generating…"},
    "bulletin.done": {"zh": "已生成并归档：{name}", "en": "Generated and archived: {name}"},
    "bulletin.download_new": {"zh": "下载刚生成的通报", "en": "Download it"},
    "bulletin.archive": {"zh": "通报归档", "en": "Archive"},
    "bulletin.none": {"zh": "暂无归档的通报。", "en": "No archived bulletins yet."},
    "bulletin.made": {"zh": "{at} 由 {by} 生成", "en": "made {at} by {by}"},
    "bulletin.download": {"zh": "下载", "en": "Download"},
    "overview.ranking_chart": {"zh": "{level}排名图", "en": "{level} ranking chart"},
    "overview.board": {"zh": "红黄蓝三色榜（{level} × 指标）",
                       "en": "Three-colour board ({level} × KPIs)"},
    "overview.board_none": {"zh": "灰色：样本不足或不设目标，不评色。",
                            "en": "Grey: sample too small or no target, so no colour."},
    "overview.board_empty": {"zh": "当前范围内没有社区数据。",
                             "en": "No community data in this area."},
    # domain pages
    "domain.kpis": {"zh": "指标", "en": "KPIs"},
    "domain.kpi_pick": {"zh": "查看指标", "en": "KPI to chart"},
    "domain.trend": {"zh": "近 12 个月走势（虚线为目标）",
                     "en": "Last 12 months (dashed line: target)"},
    "domain.heatmap": {"zh": "{level} × 月 热力图", "en": "{level} × month heatmap"},
    "domain.ranking": {"zh": "{level}排名", "en": "{level} ranking"},
    "domain.table": {"zh": "{level}指标对比", "en": "KPIs by {level}"},
    "domain.section_by": {"zh": "按{level}", "en": "By {level}"},
    "domain.no_trend": {"zh": "该指标没有按月走势。", "en": "This KPI has no monthly trend."},
    "domain.no_data": {"zh": "当前筛选下没有数据。", "en": "No data for this filter."},
    "domain.section": {"zh": "明细数据", "en": "Detail rows"},
    # the map (dashboard/components/geomap.py)
    "map.section": {"zh": "{level}地图（点击区域下钻）",
                    "en": "Map by {level} (click to drill down)"},
    "map.level": {"zh": "着色层级", "en": "Colour by"},
    "map.show_events": {"zh": "显示事件分布（网格事件按六边形汇总）",
                        "en": "Show events (grid events counted in hexagons)"},
    "map.target": {"zh": "目标", "en": "Target"},
    "map.rank": {"zh": "排名", "en": "Rank"},
    "map.events": {"zh": "事件数", "en": "Events"},
    "map.no_shapes": {"zh": "尚未导入{level}边界（geo 数据源）。",
                      "en": "No {level} boundaries loaded yet (a geo source)."},
    "map.note": {"zh": "边界说明：{note}（版本 {vintage}）",
                 "en": "Boundaries: {note} (vintage {vintage})"},
    "map.basemap_missing": {"zh": "底图未显示：环境变量 {names} 未设置。",
                            "en": "No basemap: the environment variable {names} is not set."},
    "domain.detail_of": {"zh": "明细类别", "en": "Detail of"},
    # a page's "top values" section (semantic layer: pages.<page>.top)
    "top.none": {"zh": "本期没有记录。", "en": "No rows in this period."},
    "top.value": {"zh": "类别", "en": "Category"},
    "top.rows": {"zh": "件数", "en": "Count"},
    # detail table and exports
    "detail.count": {"zh": "共 {n} 条记录（按时间倒序）", "en": "{n} rows (newest first)"},
    "detail.page": {"zh": "页码（共 {pages} 页）", "en": "Page (of {pages})"},
    "detail.not_applicable": {"zh": "该数据按社区记录，无法细分到网格。",
                              "en": "This data is kept per community, not per grid."},
    "export.xlsx": {"zh": "导出 Excel", "en": "Export Excel"},
    "export.csv": {"zh": "导出 CSV", "en": "Export CSV"},
    "export.help": {"zh": "导出当前筛选下的全部明细（不止本页）。",
                    "en": "Exports every row of the current filter (not only this page)."},
    "export.capped": {"zh": "共 {n} 条，超过导出上限 {cap} 条：只导出最新的 {cap} 条，"
                            "请缩小筛选范围。",
                      "en": "{n} rows exceed the export cap of {cap}: only the newest {cap} are "
                            "exported; narrow the filter."},
    "export.empty": {"zh": "没有可导出的数据。", "en": "Nothing to export."},
    # data and runs
    "data.title": {"zh": "数据与运行", "en": "Data and runs"},
    "data.freshness": {"zh": "各数据源新鲜度", "en": "Freshness per source"},
    "data.runs": {"zh": "运行记录", "en": "Run log"},
    "data.quarantine": {"zh": "隔离区（未入库的行及原因）",
                        "en": "Quarantine (rows kept out, with reasons)"},
    "data.run_now": {"zh": "立即运行", "en": "Run now"},
    "data.run_now_help": {"zh": "向调度进程（gongzhi schedule）提交运行请求；"
                                "数据加载不在看板内进行。",
                          "en": "Asks the scheduler process (gongzhi schedule) to run the source; "
                                "the dashboard never loads data itself."},
    "data.run_source": {"zh": "数据源", "en": "Source"},
    "data.requested": {"zh": "已提交运行请求 #{id}（{source}），调度进程会尽快执行。",
                       "en": "Run request #{id} for {source} sent; the scheduler will pick it up."},
    "data.pending": {"zh": "运行请求", "en": "Run requests"},
    "data.no_runs": {"zh": "还没有运行记录。", "en": "No runs yet."},
    "data.no_quarantine": {"zh": "隔离区为空。", "en": "The quarantine is empty."},
    "data.filter_source": {"zh": "按数据源", "en": "Source"},
    "data.filter_reason": {"zh": "按原因", "en": "Reason"},
    "data.filter_run": {"zh": "按运行编号", "en": "Run id"},
    "data.all": {"zh": "全部", "en": "All"},
    "data.page": {"zh": "页码", "en": "Page"},
    "data.never": {"zh": "从未成功", "en": "never succeeded"},
    "data.no_input": {"zh": "数据源 {source} 最近一次运行未找到输入（{m}），数据未更新。",
                      "en": "Source {source} found no input in its latest run ({m}); its data "
                            "was not updated."},
    "data.no_input_short": {"zh": "未找到输入", "en": "no input"},
    "data.no_data_yet": {"zh": "尚未到达", "en": "none yet"},
    "data.age_hours": {"zh": "{h:.1f} 小时前", "en": "{h:.1f} h ago"},
    "data.manual": {"zh": "仅手动", "en": "manual only"},
    "data.version": {"zh": "数据版本 {v}（每次有数据变化的运行加一）",
                     "en": "Data version {v} (one more with every run that changes data)"},
    "data.updated": {"zh": "数据最近更新于 {when}（{ago}）",
                     "en": "Data last updated {when} ({ago})"},
    "data.never_loaded": {"zh": "尚未加载任何数据", "en": "No data loaded yet"},
    # the holiday calendar behind 按期 deadlines (metrics/calendar.py)
    "calendar.missing": {
        "zh": "尚未载入 {year} 年节假日安排（{notice}）：{year} 年的按期指标暂按周一至周五为工作日"
              "计算。请将通知整理为 holiday_calendar 数据源载入（见 config/calendar/README.md）。",
        "en": "The {year} holiday arrangement ({notice}) is not loaded: on-time (按期) KPIs in "
              "{year} count Monday–Friday as working days. Load the notice as a "
              "holiday_calendar source (see config/calendar/README.md)."},
    "calendar.years": {"zh": "节假日安排：{years}", "en": "Holiday calendar: {years}"},
    "calendar.sep": {"zh": "；", "en": "; "},
    "calendar.year_notice": {"zh": "{year} 年（已载入通知，{sources}）",
                             "en": "{year} (loaded notice, {sources})"},
    "calendar.year_package": {"zh": "{year} 年（chinese-calendar）",
                              "en": "{year} (chinese-calendar)"},
    "calendar.year_none": {"zh": "{year} 年（未载入）", "en": "{year} (not loaded)"},
    "data.reprocess": {"zh": "重新校验隔离行", "en": "Reprocess quarantined rows"},
    "data.reprocess_help": {
        "zh": "把隔离区的行重新校验一遍：通过的入库，其余继续留在隔离区。默认只处理因引用缺失"
              "（街道、社区、网格代码不存在）而隔离的行；选择原因可强制处理其他行。"
              "由调度进程（gongzhi schedule）执行。",
        "en": "Runs quarantined rows through validation again: those that pass load, the rest "
              "stay. By default only rows kept out for a missing reference (unknown street, "
              "community or grid code); pick a reason to retry others. Done by the scheduler "
              "process (gongzhi schedule)."},
    "data.reprocess_default": {"zh": "引用缺失（默认）", "en": "missing reference (default)"},
    "data.reprocess_run": {"zh": "仅此运行编号（0 = 全部）", "en": "Only this run (0 = all)"},
    "data.reprocess_requested": {"zh": "已提交重新校验请求 #{id}，调度进程会尽快执行。",
                                 "en": "Reprocess request #{id} sent; the scheduler will pick "
                                       "it up."},
    "data.reprocess_requests": {"zh": "重新校验请求", "en": "Reprocess requests"},
    # quarantine reasons (every code of core.reasons; a test checks)
    "reason.missing_value": {"zh": "缺少必填值", "en": "required value missing"},
    "reason.bad_date": {"zh": "日期时间无法识别", "en": "not a date or time"},
    "reason.no_local_time": {"zh": "该时刻在来源时区不存在（夏令时调整）",
                             "en": "time skipped by a clock change in the source's zone"},
    "reason.bad_number": {"zh": "数字无法识别", "en": "not a number"},
    "reason.bad_boolean": {"zh": "是/否无法识别", "en": "not yes/no"},
    "reason.bad_code": {"zh": "代码不在取值表中", "en": "code not in its list"},
    "reason.bad_format": {"zh": "格式不正确", "en": "wrong format"},
    "reason.out_of_range": {"zh": "数值超出合理范围", "en": "value out of range"},
    "reason.unknown_district": {"zh": "区县代码不存在", "en": "unknown district"},
    "reason.unknown_street": {"zh": "街道代码不存在", "en": "unknown street"},
    "reason.unknown_community": {"zh": "社区代码不存在", "en": "unknown community"},
    "reason.unknown_grid": {"zh": "网格代码不存在", "en": "unknown grid"},
    "reason.unknown_building": {"zh": "楼栋代码不存在", "en": "unknown building"},
    "reason.outside_area": {"zh": "代码不属于所填上级区域", "en": "code outside the area given"},
    "reason.invalid_id_number": {"zh": "身份证号无效（校验位或出生日期错误）",
                                 "en": "invalid ID number (check digit or birth date)"},
    "reason.invalid_phone": {"zh": "电话号码无效", "en": "invalid phone number"},
    "reason.bad_encoding": {"zh": "编码错误（文件混用编码）", "en": "bad encoding"},
    "reason.bad_text": {"zh": "含不可见控制字符", "en": "control characters in text"},
    "reason.bad_geometry": {"zh": "边界图形无效（不闭合、自相交或无面积）",
                            "en": "invalid boundary geometry"},
    "reason.too_long": {"zh": "超出字段长度上限", "en": "longer than the column allows"},
    # column headers
    "col.area": {"zh": "区域", "en": "Area"},
    "col.kpi": {"zh": "指标", "en": "KPI"},
    "col.value": {"zh": "数值", "en": "Value"},
    "col.month": {"zh": "月份", "en": "Month"},
    "col.status": {"zh": "状态", "en": "Status"},
    "col.sample": {"zh": "样本", "en": "Sample"},
    "col.source": {"zh": "数据源", "en": "Source"},
    "col.plugin": {"zh": "插件", "en": "Plugin"},
    "col.table": {"zh": "数据表", "en": "Table"},
    "col.schedule": {"zh": "计划", "en": "Schedule"},
    "col.cron": {"zh": "cron 表达式", "en": "cron"},
    "col.last_success": {"zh": "最近成功", "en": "Last success"},
    "col.last_data": {"zh": "数据最近到达", "en": "Data last arrived"},
    "col.warning": {"zh": "提醒", "en": "Warning"},
    "col.age": {"zh": "距今", "en": "Age"},
    "col.run_id": {"zh": "运行编号", "en": "Run"},
    "col.trigger": {"zh": "触发", "en": "Trigger"},
    "col.run_status": {"zh": "结果", "en": "Result"},
    "col.started": {"zh": "开始", "en": "Started"},
    "col.finished": {"zh": "结束", "en": "Finished"},
    "col.read": {"zh": "读取", "en": "Read"},
    "col.loaded": {"zh": "入库", "en": "Loaded"},
    "col.quarantined": {"zh": "隔离", "en": "Quarantined"},
    "col.duplicates": {"zh": "重复", "en": "Duplicates"},
    "col.error": {"zh": "错误", "en": "Error"},
    "col.origin": {"zh": "来源位置", "en": "Origin"},
    "col.row": {"zh": "行号", "en": "Row"},
    "col.column": {"zh": "列", "en": "Column"},
    "col.reason": {"zh": "原因", "en": "Reason"},
    "col.message": {"zh": "说明", "en": "Message"},
    "col.raw": {"zh": "原始数据", "en": "Raw row"},
    "col.requested": {"zh": "请求时间", "en": "Requested"},
    "col.requested_by": {"zh": "请求人", "en": "By"},
    "col.picked": {"zh": "调度接收", "en": "Picked up"},
    "col.outcome": {"zh": "结果", "en": "Outcome"},
    # errors
    "err.no_data": {"zh": "还没有数据，请先运行 gongzhi ingest。",
                    "en": "No data yet: run gongzhi ingest first."},
    "err.config": {"zh": "配置有误：{detail}", "en": "Configuration problem: {detail}"},
    "err.warehouse": {"zh": "无法读取数据仓库：{detail}",
                      "en": "Cannot read the warehouse: {detail}"},
    "err.unreachable": {"zh": "暂时无法连接{where}，页面无法显示数据。原因已写入服务器日志；"
                              "连接恢复后本页会自动刷新。",
                        "en": "The {where} cannot be reached just now, so no figures can be "
                              "shown. The reason is in the server log; this page refreshes by "
                              "itself once the connection is back."},
    "err.where_standby": {"zh": "数据库只读副本", "en": "database standby"},
    "err.where_warehouse": {"zh": "数据仓库", "en": "warehouse"},
    "card.unreachable": {"zh": "⚠ 暂时无法连接{where}：卡片显示的是上次读取的数据（见各卡片的"
                               "更新时间），恢复后自动刷新。",
                         "en": "⚠ The {where} cannot be reached just now: the cards show the "
                               "figures last read (see each card's freshness) and refresh once "
                               "it is back."},
    "err.page": {"zh": "页面出错（{kind}），详细信息已写入服务器日志。",
                 "en": "The page failed ({kind}); the details are in the server log."},
    "err.access": {"zh": "无权查看该区域的数据。", "en": "You may not see this area's data."},
    "err.areas": {"zh": "链接中的{inner_level}「{inner}」不在{outer_level}「{outer}」内（它属于"
                        "「{actual}」），两者不能同时选择。请在左侧重新选择区域。",
                  "en": "The link names {inner_level} “{inner}”, which is not in "
                        "{outer_level} “{outer}” (it is in “{actual}”): they cannot be chosen "
                        "together. Choose the area again on the left."},
    # the 首屏 big screen (dashboard/screens/screen.py)
    "nav.screen": {"zh": "首屏", "en": "Big screen"},
    "screen.title": {"zh": "{area}基层治理", "en": "{area} governance"},
    "screen.period": {"zh": "统计期 {period}", "en": "Period {period}"},
    "screen.domain": {"zh": "{domain} {i}/{n}", "en": "{domain} {i}/{n}"},
    "screen.cards": {"zh": "{domain} · 核心指标", "en": "{domain} · KPIs"},
    "screen.ranking": {"zh": "{level}排名 · {kpi}", "en": "{level} ranking · {kpi}"},
    "screen.rank": {"zh": "名次", "en": "Rank"},
    "screen.value": {"zh": "数值", "en": "Value"},
    "screen.colour": {"zh": "状态", "en": "Status"},
    "screen.status": {"zh": "{level} × 指标 三色分布", "en": "{level} × KPI colours"},
    "screen.count.blue": {"zh": "达标", "en": "On target"},
    "screen.count.yellow": {"zh": "预警", "en": "Warning"},
    "screen.count.red": {"zh": "落后", "en": "Lagging"},
    "screen.count.none": {"zh": "不评色", "en": "No colour"},
    "screen.ticker": {"zh": "最新动态", "en": "Latest"},
    "screen.kind.grid_event": {"zh": "网格事件", "en": "Grid event"},
    "screen.kind.service_case": {"zh": "政务办件", "en": "Service case"},
    "screen.kind.run": {"zh": "数据更新", "en": "Data run"},
    "screen.state.open": {"zh": "处置中", "en": "open"},
    "screen.state.closed": {"zh": "已结案", "en": "closed"},
    "screen.state.accepted": {"zh": "已受理", "en": "accepted"},
    "screen.state.completed": {"zh": "已办结", "en": "completed"},
    "screen.state.rejected": {"zh": "不予受理", "en": "rejected"},
    "screen.state.withdrawn": {"zh": "已撤回", "en": "withdrawn"},
    "screen.state.succeeded": {"zh": "成功", "en": "succeeded"},
    "screen.state.failed": {"zh": "失败", "en": "failed"},
    "screen.state.skipped": {"zh": "跳过", "en": "skipped"},
    "screen.state.running": {"zh": "运行中", "en": "running"},
    "screen.state.interrupted": {"zh": "中断", "en": "interrupted"},
    "screen.map": {"zh": "{level}分布 · {kpi}", "en": "{kpi} by {level}"},
    "screen.red_black": {"zh": "{level}综合考评 · 红黑榜",
                         "en": "{level} composite · top and bottom"},
    "screen.board": {"zh": "榜单", "en": "List"},
    "screen.board.top": {"zh": "红榜", "en": "Top"},
    "screen.board.bottom": {"zh": "黑榜", "en": "Bottom"},
    "screen.score": {"zh": "得分", "en": "Score"},
    "screen.tasks": {"zh": "督办中 {open} 项 · 已逾期 {overdue} 项",
                     "en": "Tasks: {open} open · {overdue} overdue"},
    "screen.due": {"zh": "期限 {due}", "en": "due {due}"},
    "screen.alerts": {"zh": "最新预警", "en": "Latest alerts"},
    "screen.unavailable": {"zh": "暂时无法读取数据，稍后自动重试。",
                           "en": "Figures unavailable just now; retrying by itself."},
    # drill-through, breakdowns and A-vs-B (issue 12 item 6)
    "nav.drill": {"zh": "明细核查", "en": "Rows behind a figure"},
    "drill.open": {"zh": "查看明细", "en": "See the rows"},
    "drill.kpi": {"zh": "指标", "en": "KPI"},
    "drill.part": {"zh": "口径", "en": "Part"},
    "drill.part.numerator": {"zh": "分子", "en": "Numerator"},
    "drill.part.denominator": {"zh": "分母", "en": "Denominator"},
    "drill.part.measure": {"zh": "计数对象", "en": "Counted rows"},
    "drill.part.gap": {"zh": "未达标（分母减分子）", "en": "Shortfall (denominator − numerator)"},
    "drill.caption": {"zh": "{kpi} · {part} · {area} · {period}",
                      "en": "{kpi} · {part} · {area} · {period}"},
    "drill.figure": {"zh": "指标值 {value}（分子 {num} / 分母 {den}）",
                     "en": "Value {value} (numerator {num} / denominator {den})"},
    "drill.figure_one": {"zh": "指标值 {value}", "en": "Value {value}"},
    "drill.count": {"zh": "共 {n} 条记录（按时间倒序）", "en": "{n} rows (newest first)"},
    "drill.dim": {"zh": "按分类筛选", "en": "Only one group"},
    "drill.dim_none": {"zh": "不筛选", "en": "All rows"},
    "drill.key": {"zh": "分类值", "en": "Group"},
    "drill.blank": {"zh": "（未填）", "en": "(none)"},
    "drill.not_applicable": {"zh": "该指标在此区域层级没有明细。",
                             "en": "This KPI has no rows at this level of area."},
    "drill.definition": {"zh": "口径：{text}", "en": "Definition: {text}"},
    "breakdown.section": {"zh": "分类统计", "en": "Breakdown"},
    "breakdown.by": {"zh": "分类维度", "en": "Break down by"},
    "breakdown.none": {"zh": "该指标的数据没有可细分的类别、部门、渠道或事项。",
                       "en": "This KPI's data has no category, department, channel or item."},
    "dim.category": {"zh": "类别", "en": "Category"},
    "dim.department": {"zh": "部门", "en": "Department"},
    "dim.channel": {"zh": "渠道", "en": "Channel"},
    "dim.item": {"zh": "事项", "en": "Item"},
    "dim.mechanism": {"zh": "议事形式", "en": "Mechanism"},
    # 议事协商 by mechanism and 两委三色研判 (dashboard/components/committees.py)
    "mechanism.section": {"zh": "议事协商按形式", "en": "Consultation by mechanism"},
    "mechanism.topics": {"zh": "议题数", "en": "Topics"},
    "mechanism.resolved": {"zh": "已解决", "en": "Resolved"},
    "mechanism.rate": {"zh": "解决率", "en": "Resolution rate"},
    "mechanism.note": {"zh": "议事形式按语义层词表归并（如“夜话”归入“幸福夜话”），词表未收录的形式"
                             "按原名单列，不丢失。",
                       "en": "Mechanisms are folded by the semantic layer's vocabulary; names it "
                             "does not know are listed as given, never dropped."},
    "committees.section": {"zh": "两委班子三色研判（各社区最近一次）",
                           "en": "Committee three-colour assessment (latest per community)"},
    "committees.none": {"zh": "期末前没有三色研判记录。",
                        "en": "No assessment up to the period's end."},
    "committees.counts": {"zh": "红色 {red} 个 · 黄色 {yellow} 个 · 蓝色 {blue} 个 · "
                                "提级管理 {escalated} 个",
                          "en": "red {red} · yellow {yellow} · blue {blue} · "
                                "escalated {escalated}"},
    "committees.board": {"zh": "两委三色研判", "en": "Committee assessment"},
    "committees.period": {"zh": "研判期次", "en": "Period"},
    "committees.colour": {"zh": "研判结果", "en": "Colour"},
    "committees.score": {"zh": "综合得分", "en": "Score"},
    "committees.escalated": {"zh": "提级管理", "en": "Escalated"},
    "committees.rectification": {"zh": "整改情况", "en": "Rectification"},
    "committees.reasons": {"zh": "研判理由", "en": "Reasons"},
    "committees.red": {"zh": "红色", "en": "Red"},
    "committees.yellow": {"zh": "黄色", "en": "Yellow"},
    "committees.blue": {"zh": "蓝色", "en": "Blue"},
    "col.community": {"zh": "社区", "en": "Community"},
    "word.yes": {"zh": "是", "en": "Yes"},
    "word.no": {"zh": "否", "en": "No"},
    "rectification.not_needed": {"zh": "无需整改", "en": "Not needed"},
    "rectification.pending": {"zh": "未整改", "en": "Pending"},
    "rectification.in_progress": {"zh": "整改中", "en": "In progress"},
    "rectification.done": {"zh": "已整改", "en": "Done"},
    "col.numerator": {"zh": "分子", "en": "Numerator"},
    "col.denominator": {"zh": "分母", "en": "Denominator"},
    "col.rows_link": {"zh": "明细", "en": "Rows"},
    "col.change": {"zh": "变化", "en": "Change"},
    "versus.section": {"zh": "两期对比", "en": "Two periods side by side"},
    "versus.b": {"zh": "对比期", "en": "Compare with"},
    # 督办 tasks and 预警 alerts
    "nav.tasks": {"zh": "督办", "en": "Tasks"},
    "nav.alerts": {"zh": "预警记录", "en": "Alert log"},
    "tasks.title": {"zh": "督办任务", "en": "Supervision tasks"},
    "tasks.mine": {"zh": "我的任务", "en": "My tasks"},
    "tasks.issued": {"zh": "我发起的", "en": "Tasks I issued"},
    "tasks.all": {"zh": "全部任务", "en": "All tasks"},
    "tasks.none": {"zh": "暂无督办任务。", "en": "No tasks."},
    "tasks.denied": {"zh": "无权查看该督办任务（不在您的辖区内，或不存在）。",
                     "en": "You may not see this task (outside your area, or no such task)."},
    "tasks.counts": {"zh": "督办任务：督办中 {open} 项 · 待审核 {answered} 项",
                     "en": "Tasks: {open} open · {answered} awaiting review"},
    "tasks.counts_overdue": {"zh": "已逾期 {n} 项", "en": "{n} overdue"},
    "tasks.button": {"zh": "督办", "en": "Supervise"},
    "tasks.dialog": {"zh": "发起督办", "en": "Open a task"},
    "tasks.unit": {"zh": "责任单位：{area}", "en": "Responsible unit: {area}"},
    "tasks.figure": {"zh": "{kpi}（{period}）：{value}，目标 {target}",
                     "en": "{kpi} ({period}): {value}, target {target}"},
    "tasks.definition": {"zh": "口径：{text}", "en": "Definition: {text}"},
    "tasks.due_days": {"zh": "办理期限（工作日）", "en": "Due in (working days)"},
    "tasks.note": {"zh": "督办要求", "en": "What is asked"},
    "tasks.submit_open": {"zh": "确认发起", "en": "Open the task"},
    "tasks.opened": {"zh": "已发起督办任务 #{id}，办理期限 {due}。",
                     "en": "Task #{id} opened, due {due}."},
    "tasks.pick_cell": {"zh": "对红色指标发起督办", "en": "Open a task on a red figure"},
    "tasks.pick_none": {"zh": "当前没有红色指标。", "en": "No red figures here."},
    "tasks.status.open": {"zh": "待签收", "en": "to acknowledge"},
    "tasks.status.acknowledged": {"zh": "已签收", "en": "acknowledged"},
    "tasks.status.answered": {"zh": "已反馈，待审核", "en": "answered, to review"},
    "tasks.status.returned": {"zh": "已退回，待重新反馈", "en": "sent back"},
    "tasks.status.closed": {"zh": "已办结", "en": "closed"},
    "tasks.overdue": {"zh": "已逾期", "en": "overdue"},
    "tasks.meta": {"zh": "#{id} · {area} · 状态：{status} · 办理期限：{due} · 交办人：{by}",
                   "en": "#{id} · {area} · status: {status} · due {due} · issued by {by}"},
    "tasks.request": {"zh": "督办要求：{text}", "en": "Asked: {text}"},
    "tasks.answer_shown": {"zh": "反馈（{by}）：{text}", "en": "Answer ({by}): {text}"},
    "tasks.returned_shown": {"zh": "退回理由：{text}", "en": "Sent back: {text}"},
    "tasks.ack": {"zh": "签收", "en": "Acknowledge"},
    "tasks.answer": {"zh": "整改说明", "en": "Rectification note"},
    "tasks.attach": {"zh": "附件（可选）", "en": "Attachment (optional)"},
    "tasks.submit_answer": {"zh": "提交反馈", "en": "Send the answer"},
    "tasks.close": {"zh": "办结", "en": "Close"},
    "tasks.reason": {"zh": "退回理由", "en": "Why it goes back"},
    "tasks.send_back": {"zh": "退回", "en": "Send back"},
    "tasks.get_attachment": {"zh": "下载附件：{name}", "en": "Download: {name}"},
    "tasks.prepare_attachment": {"zh": "准备附件下载", "en": "Prepare the attachment"},
    "tasks.done": {"zh": "已完成：{what}", "en": "Done: {what}"},
    "tasks.failed": {"zh": "未能完成：{why}", "en": "Not done: {why}"},
    "alerts.title": {"zh": "预警记录", "en": "Alert log"},
    "alerts.caption": {"zh": "每次数据运行后和定时检查时生成；"
                             "同一规则、区域、指标、期间只预警一次。",
                       "en": "Made after every run and on a schedule; one alert per rule, area, "
                             "KPI and period."},
    "alerts.none": {"zh": "暂无预警。", "en": "No alerts yet."},
    "alerts.col.when": {"zh": "时间", "en": "When"},
    "alerts.col.level": {"zh": "级别", "en": "Level"},
    "alerts.col.rule": {"zh": "规则", "en": "Rule"},
    "alerts.col.title": {"zh": "预警内容", "en": "Alert"},
    "alerts.col.status": {"zh": "发送状态", "en": "Delivery"},
    "alerts.col.to": {"zh": "发送对象", "en": "Sent to"},
    "alerts.col.task": {"zh": "督办任务", "en": "Task"},
    "alerts.level.red": {"zh": "红色预警", "en": "red"},
    "alerts.level.yellow": {"zh": "黄色预警", "en": "yellow"},
    "alerts.status.pending": {"zh": "待发送", "en": "to send"},
    "alerts.status.held": {"zh": "免打扰时段暂存", "en": "held (quiet hours)"},
    "alerts.status.sent": {"zh": "已发送", "en": "sent"},
    "alerts.status.failed": {"zh": "发送失败，将重试", "en": "failed, retrying"},
    "alerts.status.logged": {"zh": "仅记录", "en": "logged only"},

}


class Markdown(str):
    """Text that is safe to render as Markdown: our own strings, or data through :func:`md`."""

    __slots__ = ()


_PUNCTUATION = frozenset(string.punctuation)  # CommonMark lets any of these be escaped


def md(text: Any) -> Markdown:
    """``text`` as Markdown that shows exactly its characters (data, not markup): every ASCII
    punctuation character is backslash-escaped and line breaks become spaces (a newline
    would start a heading, a list or a new paragraph). Already-safe text is returned as is."""
    if isinstance(text, Markdown):
        return text
    out = []
    for ch in str(text):
        if ch in "\r\n":
            out.append(" ")
        elif ch in _PUNCTUATION:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return Markdown("".join(out))


def lang() -> str:
    """The language of this session: the switch's value, else Chinese."""
    value = st.session_state.get(LANG_KEY)
    return value if value in LANGS else DEFAULT_LANG


def t(key: str, /, **values: Any) -> Markdown:
    """The string ``key`` in the session's language, with ``values`` filled in; text values
    are escaped for Markdown (:func:`md`), numbers keep their format specs."""
    text = STRINGS[key][lang()]
    if not values:
        return Markdown(text)
    safe = {k: md(v) if isinstance(v, str) else v for k, v in values.items()}
    return Markdown(text.format(**safe))


def pick(zh: str, en: str) -> str:
    """One of two catalogue labels (KPI, domain) by the session's language."""
    return en if lang() == "en" else zh
