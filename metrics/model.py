"""KPI definitions as data (``config/kpis/*.yaml``), in the manner of MetricFlow.

A KPI is a ``measure`` or a ``numerator`` / ``denominator`` pair of measures over warehouse
tables, with structured filters (never SQL text), a time column, a unit, a direction, a target
and warning threshold, and the minimum sample below which no status is given.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.divisions import SCOPE_LEVELS, Level

Op = Literal["eq", "ne", "in", "not_in", "is_null", "not_null", "gt", "gte", "lt", "lte"]
Agg = Literal["count", "sum", "avg", "count_distinct"]
# period: the time column falls in the period; to_end: on or before its last day (a stock);
# none: no time filter; latest_year: the latest `year` not after the period (population).
Window = Literal["period", "to_end", "none", "latest_year"]
Unit = Literal["ratio", "count", "hours", "visits", "per_1000", "per_10000", "points",
               "households", "items", "per_team"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Label(_Strict):
    zh: str
    en: str


class Filter(_Strict):
    """``column op value``; with ``ref``, ``column op other_column``; with ``param``,
    ``column op`` the KPI's parameter of that name (``params``, e.g. response_hours: 24)."""

    column: str
    op: Op
    value: Any = None
    ref: str | None = None
    param: str | None = None

    @model_validator(mode="after")
    def _operand(self) -> Filter:
        needs = self.op not in ("is_null", "not_null")
        if needs and self.value is None and self.ref is None and self.param is None:
            raise ValueError(f"filter on '{self.column}' with op '{self.op}' needs a value, "
                             "ref or param")
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"op '{self.op}' needs a list value")
        return self


class Measure(_Strict):
    """One aggregate: ``count`` rows, or ``sum``/``avg``/``count_distinct`` of a column."""

    agg: Agg = Field("count", alias="measure")
    column: str | None = None
    table: str | None = None  # default: the KPI's table
    time: str | None = None  # default: the KPI's time column
    window: Window | None = None  # default: period if there is a time column, else none
    via: str | None = None  # "volunteers.volunteer_id": scope rows by the joined row's area
    filter: tuple[Filter, ...] = ()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _column(self) -> Measure:
        if self.agg != "count" and not self.column:
            raise ValueError(f"measure '{self.agg}' needs a column")
        return self


class Kpi(_Strict):
    """One governance KPI, resolved: every measure knows its table, time and window."""

    id: str = Field(pattern=r"^[a-z]+\.[a-z0-9_]+$")
    label: Label
    description: str
    table: str
    time: str | None = None
    measure: Measure | None = None
    numerator: Measure | None = None
    denominator: Measure | None = None
    scale: float = 1.0
    # named constants filters refer to (``param: response_hours``); a deployment changes them
    # here, and rollups follow (the resolved value is part of a measure's fingerprint)
    params: dict[str, float] = Field(default_factory=dict)
    unit: Unit
    direction: Literal["higher", "lower"]
    target: float | None = None
    warning: float | None = None
    # levels of area the target applies to; None: by the measure's kind (see target_levels)
    target_scopes: tuple[Level, ...] | None = None
    min_sample: int = 0
    scopes: tuple[Level, ...] = ("district", "street", "community")
    headline: bool = False
    periodic: bool = True  # False: a state, not a flow (the item catalogue)
    domain: str = ""
    source_file: str = ""
    source_line: int = 0

    @model_validator(mode="after")
    def _shape(self) -> Kpi:
        if (self.measure is None) == (self.numerator is None or self.denominator is None):
            raise ValueError("give either 'measure' or both 'numerator' and 'denominator'")
        if self.target is not None and self.warning is not None:
            if self.direction == "higher" and self.warning > self.target:
                raise ValueError("with direction 'higher' the warning must not exceed the target")
            if self.direction == "lower" and self.warning < self.target:
                raise ValueError("with direction 'lower' the warning must not be below the target")
        if self.target_scopes is not None:
            if self.target is None:
                raise ValueError("'target_scopes' says where the target applies, but there is "
                                 "no 'target'")
            if not self.target_scopes:
                raise ValueError("'target_scopes' must list at least one level (omit it for "
                                 "the default)")
            if len(set(self.target_scopes)) != len(self.target_scopes):
                raise ValueError("'target_scopes' lists a level twice")
        for m in (self.measure, self.numerator, self.denominator):
            for f in (m.filter if m is not None else ()):
                if f.param is not None and f.param not in self.params:
                    raise ValueError(f"filter on '{f.column}' names the parameter "
                                     f"'{f.param}', which 'params' does not define")
        return self

    @property
    def additive(self) -> bool:
        """A count or a sum: its size grows with the area (a ratio or an average does not)."""
        return self.measure is not None and self.measure.agg in ("count", "sum",
                                                                 "count_distinct")

    @property
    def target_levels(self) -> tuple[Level, ...]:
        """Levels of area the target applies to: ``target_scopes`` when given, else every
        level for ratios and averages, and the district alone for counts and sums (a district
        target of 5,000 says nothing about one community; per-area targets are set apart)."""
        if self.target is None:
            return ()
        if self.target_scopes is not None:
            return self.target_scopes
        return ("district",) if self.additive else SCOPE_LEVELS

    @property
    def is_ratio(self) -> bool:
        return self.measure is None

    def measures(self) -> dict[str, Measure]:
        """The KPI's measures by role, each resolved to its table, time and window."""
        roles = {"measure": self.measure} if self.measure is not None else {
            "numerator": self.numerator, "denominator": self.denominator}
        return {role: self.resolve(m) for role, m in roles.items() if m is not None}

    def resolve(self, m: Measure) -> Measure:
        table = m.table or self.table
        time = m.time if m.time is not None else (self.time if table == self.table else None)
        window = m.window or ("period" if time else "none")
        filters = tuple(f.model_copy(update={"value": self.params[f.param], "param": None})
                        if f.param is not None else f for f in m.filter)
        return m.model_copy(update={"table": table, "time": time, "window": window,
                                    "filter": filters})


class Domain(_Strict):
    """A file of KPIs: one domain (gov, grid, vol, party, civic) with its label."""

    domain: str
    label: Label
    kpis: tuple[Kpi, ...]
