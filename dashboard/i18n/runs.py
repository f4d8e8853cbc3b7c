"""Labels of 数据与运行: runs, freshness, the holiday calendar and the quarantine reasons."""

STRINGS: dict[str, dict[str, str]] = {
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
}
