"""What a KPI computation asks the warehouse for: one job per measure, scope, period and
grouping (:class:`Job`), the keys its results are filed and memoised under, and the plan of
periods a result row compares (:mod:`metrics.service` runs the jobs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metrics import rollup
from metrics.compiler import Group, Scope
from metrics.model import Measure
from metrics.periods import Period, month_parts


@dataclass(frozen=True)
class Job:
    """One measure to fetch for one scope, period and grouping."""

    measure: Measure
    scope: Scope
    period: Period | None
    group: Group
    # rollup.measure_key(measure) (a hash of its JSON), worked out once per measure: a
    # 12-month trend would otherwise ask for it a few thousand times
    rkey: str = field(default="", compare=False)

    @property
    def measure_key(self) -> str:
        return self.rkey or rollup.measure_key(self.measure)


# (measure, period tag: cur | prev | ly, the plan row: None or a month with --by month)
JobKey = tuple[str, str, Any]
MISSING: Any = object()  # not memoised (None is a memoised "not applicable")


def mkey(m: Measure, rkey: str | None = None) -> str:
    return f"{m.table}|{m.time}|{m.window}|{m.via}|{rkey or rollup.measure_key(m)}"


def memo_key(job: Job, version: int) -> tuple[Any, ...]:
    """Where a fact-table measure's result is memoised (one per data version, measure,
    scope, period and grouping)."""
    return (version, mkey(job.measure), job.scope.key(), job.period, job.group)


def period_plan(period: Period | None, group: Group, compare: bool
                ) -> list[tuple[Any, dict[str, Period | None]]]:
    """The result's rows before grouping, each with its periods by tag (cur, prev, ly):
    one row for the period, or with ``--by month`` one per month it touches."""
    if group == "month" and period is not None:
        plan: list[tuple[Any, dict[str, Period | None]]] = []
        for month, part, prev, ly in month_parts(period):
            spans_m: dict[str, Period | None] = {"cur": part}
            if compare:
                spans_m |= {"prev": prev, "ly": ly}
            plan.append((month, spans_m))
        return plan
    spans: dict[str, Period | None] = {"cur": period}
    if compare and period is not None:
        spans |= {"prev": period.previous(), "ly": period.last_year()}
    return [(None, spans)]


def consecutive(months: list[Period]) -> list[list[Period]]:
    """Split sorted month periods into runs of consecutive months."""
    runs: list[list[Period]] = []
    for p in months:
        if runs and runs[-1][-1].end == p.start:
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs


def rollup_columns(fam: rollup.Family | rollup.DistinctFamily, job: Job) -> tuple[str, str]:
    """The rollup columns of a job's measure: its value and rows (a distinct rollup's keys
    and their rows)."""
    if isinstance(fam, rollup.DistinctFamily):
        return "dkey", "n"
    rm = fam.measures[job.measure_key]
    return rm.value_col, rm.rows_col


def item_key(job: Job) -> tuple[str, str | None, Any]:
    return (job.measure_key, job.measure.window, job.period)
