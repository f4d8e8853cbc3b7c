"""Labels of the app frame: navigation, sign-in, filters, levels, cards and errors."""

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
}
