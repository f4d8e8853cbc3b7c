"""Candidates of the alert rules: the figures, sources and 督办 tasks a rule fires on, each
with the title and message an alert sends (see :mod:`metrics.alerts.evaluate`).

KPI figures come from the same :class:`metrics.service.Metrics` as every page (rollups, one
grouped query per KPI family); sources from the run log; tasks from the 督办 table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Engine

from core.alertconfig import AlertRule
from metrics import format as fmt
from metrics.catalog import Catalog
from metrics.periods import Period
from metrics.service import Metrics
from warehouse import cycle, runlog

RULE_WORDS = {"kpi_red": "指标红色", "kpi_drop": "指标下滑", "source_failed": "数据源运行失败",
              "source_stale": "数据源未更新", "task_overdue": "督办任务逾期"}
SEVERITY_WORDS = {"red": "红色预警", "yellow": "黄色预警"}
LEVEL_WORDS = {"district": "区", "street": "街道", "community": "社区", "source": "数据源"}


@dataclass
class Candidate:
    """A figure or a source that a rule fires on (recorded once per key)."""

    rule: AlertRule
    subject_level: str
    subject_code: str
    subject_name: str
    period: str
    kpi: str = ""
    value: float | None = None
    target: float | None = None
    unit: str | None = None
    title: str = ""
    message: str = ""
    figure: cycle.Figure | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.rule.id, self.subject_code, self.kpi, self.period)


def _names(m: Metrics) -> dict[str, str]:
    d = m.divisions()
    return dict(zip(d["code"].to_list(),
                    d["short_name"].fill_null(d["name"]).to_list(), strict=True))


def kpi_candidates(m: Metrics, rules: Sequence[AlertRule], period: Period,
                   only: set[str] | None = None) -> list[Candidate]:
    """Candidates of the KPI rules: one grouped computation per level for all their KPIs
    (those in ``only`` when given)."""
    catalog = m.catalog
    # per level: every KPI watched, and those whose previous period is needed (kpi_drop)
    by_level: dict[str, tuple[set[str], set[str]]] = {}
    for r in rules:
        ids, prev = by_level.setdefault(r.level, (set(), set()))
        ids.update(_rule_kpis(r, catalog, only))
        if r.rule == "kpi_drop":
            prev.update(_rule_kpis(r, catalog, only))
    out: list[Candidate] = []
    if not by_level:
        return out
    district = m.district()
    names = _names(m)
    for level, (ids, prev_ids) in by_level.items():
        if not ids:
            continue
        group: Any = None if level == "district" else level
        # the current period for all, the previous one only for the drop rules' KPIs: a
        # third of the work of compare=True (which adds the same period last year)
        frame = m.compute(sorted(ids), district, period, group, compare=False)
        if frame.is_empty():
            continue
        before: dict[tuple[str, Any], Any] = {}
        if prev_ids:
            pf = m.compute(sorted(prev_ids), district, period.previous(), group, compare=False)
            before = dict(zip(zip(pf["kpi"].to_list(), pf["key"].to_list(), strict=True),
                              pf["value"].to_list(), strict=True))
        # only what a rule can raise (a red figure, or a KPI a drop rule watches), and only
        # the columns the candidates read: turning thousands of rows of every column into
        # dicts was a fifth of the evaluation
        rows = frame.filter(pl.col("value").is_not_null()
                            & ((pl.col("status") == "red")
                               | pl.col("kpi").is_in(sorted(prev_ids)))).select(
            "kpi", "key", "value", "unit", "target", "status", "sample").to_dicts()
        for row in rows:
            pv = before.get((row["kpi"], row["key"]))
            if pv is None and row["kpi"] in prev_ids and catalog.kpis[row["kpi"]].is_ratio:
                pv = None  # a ratio without a denominator last period: no change to judge
            row["prev_value"] = pv
            row["delta_prev"] = None if pv is None else row["value"] - pv
        for r in rules:
            if r.level != level:
                continue
            wanted = set(_rule_kpis(r, catalog, only))
            for row in rows:
                if row["kpi"] not in wanted:
                    continue
                code = district.code if level == "district" else row["key"]
                if code is None:
                    continue
                c = _kpi_candidate(r, row, level, code, names.get(code, code), period,
                                   catalog)
                if c is not None:
                    out.append(c)
    return out


def _rule_kpis(rule: AlertRule, catalog: Catalog, only: set[str] | None = None) -> list[str]:
    ids = ([k for k in rule.kpis if k in catalog.kpis] if rule.kpis else
           [k.id for k in catalog.kpis.values() if k.target is not None and k.periodic])
    return ids if only is None else [k for k in ids if k in only]


def _kpi_candidate(rule: AlertRule, row: dict[str, Any], level: str, code: str, name: str,
                   period: Period, catalog: Catalog) -> Candidate | None:
    kpi = catalog.kpis[row["kpi"]]
    unit = row["unit"]
    if rule.rule == "kpi_red":
        if row["status"] != "red":
            return None
        why = (f"未达目标（目标{'≥' if kpi.direction == 'higher' else '≤'}"
               f"{fmt.value(row['target'], unit)}）")
    else:  # kpi_drop: worsened by more than `points` against the previous period
        delta = row["delta_prev"]
        if delta is None or rule.points is None:
            return None
        worse = -delta if kpi.direction == "higher" else delta
        limit = rule.points / 100 if unit == "ratio" else rule.points
        if worse <= limit + 1e-12:
            return None
        size = fmt.value(abs(delta), unit) if unit != "ratio" else f"{abs(delta) * 100:.1f}个百分点"
        why = f"较上期{'下降' if kpi.direction == 'higher' else '上升'}{size}"
    label = kpi.label.zh
    title = (f"【{SEVERITY_WORDS[rule.severity]}】{name} {label} {period.label} "
             f"{fmt.value(row['value'], unit)}，{why}")
    lines = [f"规则：{rule.id}（{RULE_WORDS[rule.rule]}）",
             f"区域：{name}（{code}）",
             f"指标：{label}（{kpi.id}）",
             f"期间：{period.label}",
             f"数值：{fmt.value(row['value'], unit)}",
             f"目标：{fmt.value(row['target'], unit) if row['target'] is not None else '—'}",
             f"上期：{fmt.value(row['prev_value'], unit)}"
             f"（环比 {fmt.delta(row['delta_prev'], unit)}）",
             f"样本：{row['sample']}",
             f"口径：{' '.join(kpi.description.split())}"]
    figure = cycle.Figure(kpi=kpi.id, kpi_label=label, definition=kpi.description.strip(),
                          period=period.label, value=row["value"], target=row["target"],
                          unit=unit, status=row["status"])
    return Candidate(rule, level, code, name, period.label, kpi.id, row["value"],
                     row["target"], unit, title, "\n".join(lines), figure)


def source_candidates(engine: Engine, rules: Sequence[AlertRule], source_ids: Sequence[str],
                      scheduled: set[str], now: dt.datetime, tz: ZoneInfo) -> list[Candidate]:
    """Candidates of source_failed and source_stale from the run log."""
    states = runlog.source_states(engine)
    out: list[Candidate] = []
    today = local_time(now, tz).date().isoformat()
    for r in rules:
        if r.rule == "source_failed":
            for sid in r.sources or source_ids:
                st = states.get(sid)
                if not st or st["status"] != runlog.FAILED:
                    continue
                when = local_time(st["at"] or now, tz)
                err = " ".join(str(st["message"] or "").split())[:300]
                out.append(Candidate(
                    r, "source", sid, sid, when.date().isoformat(),
                    title=f"【{SEVERITY_WORDS[r.severity]}】数据源 {sid} 运行失败",
                    message="\n".join([f"规则：{r.id}（{RULE_WORDS[r.rule]}）",
                                       f"数据源：{sid}", f"时间：{when:%Y-%m-%d %H:%M}",
                                       f"原因：{err or '—'}"])))
        elif r.rule == "source_stale" and r.hours is not None:
            for sid in r.sources or sorted(scheduled):
                st = states.get(sid)
                if not st:  # never run yet (a new installation): nothing to be stale against
                    continue
                last = st.get("checked")
                age = None if last is None else (now - last).total_seconds() / 3600
                if age is not None and age <= r.hours:
                    continue
                since = "从未成功运行" if last is None else \
                    f"上次成功：{local_time(last, tz):%Y-%m-%d %H:%M}（{age:.0f} 小时前）"
                out.append(Candidate(
                    r, "source", sid, sid, today,
                    title=f"【{SEVERITY_WORDS[r.severity]}】数据源 {sid} 超过 "
                          f"{r.hours:g} 小时未更新",
                    message="\n".join([f"规则：{r.id}（{RULE_WORDS[r.rule]}）",
                                       f"数据源：{sid}", since])))
    return out


def task_candidates(engine: Engine, rules: Sequence[AlertRule], today: dt.date
                    ) -> list[Candidate]:
    """Candidates of task_overdue: 督办 tasks more than the rule's ``days`` past due."""
    out: list[Candidate] = []
    rules = [r for r in rules if r.rule == "task_overdue"]
    if not rules:
        return out
    for t in cycle.overdue_tasks(engine, today):
        late = (today - t["due_date"]).days
        for r in rules:
            if late <= r.days:  # every task, whatever the rule's level
                continue
            out.append(Candidate(
                r, t["area_level"], t["area_code"], t["area_name"], f"task:{t['id']}",
                kpi=t["kpi"] or "", value=t["value"], target=t["target"], unit=t["unit"],
                title=f"【{SEVERITY_WORDS[r.severity]}】督办任务 #{t['id']} 逾期 {late} 天："
                      f"{t['area_name']} {t['title']}",
                message="\n".join([f"规则：{r.id}（{RULE_WORDS[r.rule]}）",
                                   f"任务：#{t['id']} {t['title']}",
                                   f"责任单位：{t['area_name']}（{t['area_code']}）",
                                   f"办理期限：{t['due_date']:%Y-%m-%d}（已逾期 {late} 天）",
                                   f"交办人：{t['created_by']}"])))
    return out


def local_time(t: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """A stored naive-UTC (or aware) time in the local zone."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(tz)
