"""``[[alerts]]`` (预警 rules), ``[alerting]`` and ``[tasks]`` (督办) in ``gongzhi.toml``.

The rule shape is fixed by DESIGN §7 (``id``, ``rule``, ``kpis``, ``level``, ``notify``,
``notify_env``); the rule parameters beside them are ``points`` (kpi_drop), ``hours``
(source_stale), ``sources`` (the source rules), ``days`` (task_overdue), ``quiet_hours``,
``severity``, ``open_task`` and ``due_days``. Every problem is reported at once with its file
and line, like the rest of the config. Self-contained (dataclasses + a parser) so that it can
move with the settings.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import divisions
from core.cron import schedule_problems
from core.errors import Problem
from core.timezone import LOCAL_TZ

RULES = ("kpi_red", "kpi_drop", "source_failed", "source_stale", "task_overdue")
KPI_RULES = ("kpi_red", "kpi_drop")
SOURCE_RULES = ("source_failed", "source_stale")
LEVELS = divisions.LEVELS[:3]  # a rule looks at districts, streets or communities (no grids)
SEVERITIES = ("red", "yellow")
DEFAULT_SEVERITY = {"kpi_red": "red", "kpi_drop": "yellow", "source_failed": "red",
                    "source_stale": "yellow", "task_overdue": "red"}
RULE_KEYS = {"id", "rule", "kpis", "level", "notify", "notify_env", "points", "hours",
             "sources", "days", "quiet_hours", "severity", "open_task", "due_days"}
RULE_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
QUIET = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
ATTACHMENT_TYPES = ("pdf", "doc", "docx", "wps", "xls", "xlsx", "et", "txt", "jpg", "jpeg",
                    "png", "zip")


@dataclass(frozen=True)
class QuietHours:
    """A daily window (local time) in which alerts are held and sent when it ends; it may
    cross midnight (22:00-07:00)."""

    start: dt.time
    end: dt.time

    def contains(self, t: dt.time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class AlertRule:
    """One ``[[alerts]]`` entry."""

    id: str
    rule: str
    kpis: tuple[str, ...] = ()  # empty: every KPI with a target
    level: str = "street"
    notify: tuple[str, ...] = ()  # apprise URLs without secrets
    notify_env: str | None = None  # an environment variable holding apprise URLs (tokens)
    points: float | None = None  # kpi_drop: percentage points for ratios, else the KPI's unit
    hours: float | None = None  # source_stale
    sources: tuple[str, ...] = ()  # source rules; empty: every source
    days: int = 0  # task_overdue: overdue by more than this many days
    quiet_hours: QuietHours | None = None  # None: the [alerting] default
    severity: str = "red"
    open_task: bool = False  # an alert on an area opens a 督办 task for it
    due_days: int | None = None  # that task's deadline in working days ([tasks] default)
    place: str = ""


@dataclass
class AlertingSettings:
    """``[alerting]``: when alerts are checked besides after every run, and how they are sent."""

    schedule: str = "*/15 * * * *"  # cron (Asia/Shanghai): stale sources, overdue tasks,
    # held and failed deliveries
    quiet_hours: QuietHours | None = None
    retry_minutes: float = 10.0
    max_attempts: int = 50
    send_timeout_seconds: float = 10.0  # a run waits at most this long for deliveries
    rules: list[AlertRule] = field(default_factory=list)


@dataclass
class TaskSettings:
    """``[tasks]``: 督办 defaults."""

    due_days: int = 5  # working days
    attachments: Path = Path("attachments")  # relative to the config's folder
    max_attachment_mb: float = 10.0
    attachment_types: tuple[str, ...] = ATTACHMENT_TYPES


def rule_lines(text: str) -> list[int]:
    """The line of each ``[[alerts]]`` header (1-based)."""
    return [i + 1 for i, line in enumerate(text.splitlines())
            if line.strip().startswith("[[alerts]]")]


def section_line(text: str, name: str) -> int | None:
    for i, line in enumerate(text.splitlines()):
        if line.strip().startswith(f"[{name}]"):
            return i + 1
    return None


def parse_quiet(value: Any) -> QuietHours | None:
    if not isinstance(value, str):
        return None
    m = QUIET.match(value)
    if not m:
        return None
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        return None
    end = dt.time(0, 0) if h2 == 24 else dt.time(h2, m2)
    return QuietHours(dt.time(h1, m1), end)


def parse(data: dict[str, Any], *, fname: str, text: str, base_dir: Path,
          kpi_ids: Collection[str] | None, source_ids: Collection[str],
          check_schedules: bool = False,
          ) -> tuple[AlertingSettings, TaskSettings, list[Problem]]:
    """The alerting and task settings of a parsed config, and every problem found.

    ``kpi_ids``: the catalogue's KPI ids (None: not checked here); ``check_schedules``: the
    ``[alerting] schedule`` gets the full cron checks of :func:`core.cron.schedule_problems`."""
    problems: list[Problem] = []
    alerting = _alerting(data.get("alerting"), fname, text, problems, check_schedules)
    tasks = _tasks(data.get("tasks"), fname, text, base_dir, problems)
    raw_rules = data.get("alerts", [])
    if not isinstance(raw_rules, list):
        problems.append(Problem(fname, "'alerts' must be an array of tables ([[alerts]])"))
        raw_rules = []
    lines = rule_lines(text)
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules):
        place = (f"{fname}:{lines[i]} alerts[{i}]" if i < len(lines)
                 else f"{fname} alerts[{i}]")
        rule = _rule(raw, place, kpi_ids, source_ids, problems)
        if rule is None:
            continue
        if rule.id in seen:
            problems.append(Problem(rule.place, f"duplicate alert id '{rule.id}'"))
        seen.add(rule.id)
        alerting.rules.append(rule)
    return alerting, tasks, problems


def _alerting(raw: Any, fname: str, text: str, problems: list[Problem],
              check_schedules: bool = False) -> AlertingSettings:
    out = AlertingSettings()
    line = section_line(text, "alerting")
    place = f"{fname}:{line} [alerting]" if line else f"{fname} [alerting]"
    if raw is None:
        return out
    if not isinstance(raw, dict):
        problems.append(Problem(place, "'alerting' must be a table"))
        return out
    for key in sorted(set(raw) - {"schedule", "quiet_hours", "retry_minutes", "max_attempts",
                                  "send_timeout_seconds"}):
        problems.append(Problem(place, f"unknown [alerting] key '{key}'"))
    if "schedule" in raw:
        s = raw["schedule"]
        if s in ("", None, False):
            out.schedule = ""
        elif isinstance(s, str) and len(s.split()) in (5, 6):
            out.schedule = s
            if check_schedules:  # bad or never firing: refused with every other problem
                problems += [Problem(f"{place} schedule", p)
                             for p in schedule_problems(s, LOCAL_TZ)]
        else:
            problems.append(Problem(place, f"'schedule' must be a cron expression like "
                                           f"'*/15 * * * *' (or \"\" for none): {s!r}"))
    if "quiet_hours" in raw:
        q = parse_quiet(raw["quiet_hours"])
        if q is None:
            problems.append(Problem(place, "'quiet_hours' must look like \"22:00-07:00\": "
                                           f"{raw['quiet_hours']!r}"))
        out.quiet_hours = q
    for key, kind, low in (("retry_minutes", float, 0.1), ("max_attempts", int, 1),
                           ("send_timeout_seconds", float, 0.5)):
        if key in raw:
            v = raw[key]
            if isinstance(v, bool) or not isinstance(v, int | float) or v < low \
                    or (kind is int and not isinstance(v, int)):
                problems.append(Problem(place, f"'{key}' must be a number ≥ {low}: {v!r}"))
            else:
                setattr(out, key, kind(v))
    return out


def _tasks(raw: Any, fname: str, text: str, base_dir: Path,
           problems: list[Problem]) -> TaskSettings:
    out = TaskSettings(attachments=base_dir / "attachments")
    line = section_line(text, "tasks")
    place = f"{fname}:{line} [tasks]" if line else f"{fname} [tasks]"
    if raw is None:
        return out
    if not isinstance(raw, dict):
        problems.append(Problem(place, "'tasks' must be a table"))
        return out
    for key in sorted(set(raw) - {"due_days", "attachments", "max_attachment_mb",
                                  "attachment_types"}):
        problems.append(Problem(place, f"unknown [tasks] key '{key}'"))
    if "due_days" in raw:
        v = raw["due_days"]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 250:
            problems.append(Problem(place, f"'due_days' must be working days 0-250: {v!r}"))
        else:
            out.due_days = v
    if "attachments" in raw:
        v = raw["attachments"]
        if not isinstance(v, str) or not v.strip():
            problems.append(Problem(place, "'attachments' must be a folder path"))
        else:
            p = Path(v).expanduser()
            out.attachments = p if p.is_absolute() else base_dir / p
    if "max_attachment_mb" in raw:
        v = raw["max_attachment_mb"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 200:
            problems.append(Problem(place, f"'max_attachment_mb' must be 0-200: {v!r}"))
        else:
            out.max_attachment_mb = float(v)
    if "attachment_types" in raw:
        v = raw["attachment_types"]
        if not isinstance(v, list) or not v or not all(
                isinstance(x, str) and re.fullmatch(r"[A-Za-z0-9]{1,8}", x) for x in v):
            problems.append(Problem(place, "'attachment_types' must be a list of file "
                                           "extensions such as [\"pdf\", \"docx\"]"))
        else:
            out.attachment_types = tuple(x.lower() for x in v)
    return out


def _rule(raw: Any, place: str, kpi_ids: Collection[str] | None, source_ids: Collection[str],
          problems: list[Problem]) -> AlertRule | None:
    if not isinstance(raw, dict):
        problems.append(Problem(place, "an alert rule must be a table"))
        return None
    rid = raw.get("id")
    if not isinstance(rid, str) or not RULE_ID.match(rid):
        problems.append(Problem(place, "'id' is required: lower-case letters, digits and _ "
                                       "(e.g. red_cards)"))
        rid = str(rid)
    else:
        place = f"{place} (id={rid})"
    for key in sorted(set(raw) - RULE_KEYS):
        problems.append(Problem(place, f"unknown alert setting '{key}' (known: "
                                       f"{', '.join(sorted(RULE_KEYS))})"))
    kind = raw.get("rule")
    if kind not in RULES:
        problems.append(Problem(place, f"unknown rule {kind!r}: one of {', '.join(RULES)}"))
        kind = ""
    level = raw.get("level", "street")
    if level not in LEVELS:
        problems.append(Problem(place, f"unknown level {level!r}: one of {', '.join(LEVELS)}"))
        level = "street"
    kpis = raw.get("kpis", [])
    if not isinstance(kpis, list) or not all(isinstance(k, str) for k in kpis):
        problems.append(Problem(place, "'kpis' must be a list of KPI ids"))
        kpis = []
    if kpis and kind and kind not in KPI_RULES:
        problems.append(Problem(place, f"'kpis' applies to {' and '.join(KPI_RULES)} only"))
    if kpi_ids is not None:
        for k in kpis:
            if k not in kpi_ids:
                problems.append(Problem(place, f"unknown KPI '{k}'"))
    notify = raw.get("notify", [])
    if isinstance(notify, str):
        notify = [notify]
    if not isinstance(notify, list) or not all(isinstance(u, str) and "://" in u
                                               for u in notify):
        problems.append(Problem(place, "'notify' must be a list of apprise URLs "
                                       "(\"json://host/path\", \"mailto://…\")"))
        notify = []
    notify_env = raw.get("notify_env")
    if notify_env is not None and (not isinstance(notify_env, str)
                                   or not ENV_NAME.match(notify_env)):
        problems.append(Problem(place, "'notify_env' must name an environment variable"))
        notify_env = None
    points = _number(raw, "points", place, problems)
    hours = _number(raw, "hours", place, problems)
    if kind == "kpi_drop" and points is None:
        problems.append(Problem(place, "kpi_drop needs 'points' (how far a KPI may fall, in "
                                       "percentage points for rates)"))
    if kind == "source_stale" and hours is None:
        problems.append(Problem(place, "source_stale needs 'hours' (how old the latest load "
                                       "may be)"))
    sources = raw.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        problems.append(Problem(place, "'sources' must be a list of source ids"))
        sources = []
    for s in sources:
        if s not in source_ids:
            problems.append(Problem(place, f"unknown source '{s}'"))
    days = raw.get("days", 0)
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        problems.append(Problem(place, f"'days' must be a whole number ≥ 0: {days!r}"))
        days = 0
    quiet = None
    if "quiet_hours" in raw:
        quiet = parse_quiet(raw["quiet_hours"])
        if quiet is None:
            problems.append(Problem(place, "'quiet_hours' must look like \"22:00-07:00\": "
                                           f"{raw['quiet_hours']!r}"))
    severity = raw.get("severity", DEFAULT_SEVERITY.get(kind or "", "red"))
    if severity not in SEVERITIES:
        problems.append(Problem(place, f"'severity' must be red or yellow: {severity!r}"))
        severity = "red"
    open_task = raw.get("open_task", False)
    if not isinstance(open_task, bool):
        problems.append(Problem(place, "'open_task' must be true or false"))
        open_task = False
    if open_task and kind and kind not in KPI_RULES:
        problems.append(Problem(place, "'open_task' applies to KPI rules (an area's figure)"))
    due = raw.get("due_days")
    if due is not None and (isinstance(due, bool) or not isinstance(due, int) or due < 0):
        problems.append(Problem(place, f"'due_days' must be working days ≥ 0: {due!r}"))
        due = None
    return AlertRule(id=rid, rule=kind or "", kpis=tuple(kpis), level=level,
                     notify=tuple(notify), notify_env=notify_env, points=points, hours=hours,
                     sources=tuple(sources), days=days, quiet_hours=quiet, severity=severity,
                     open_task=open_task, due_days=due, place=place)


def _number(raw: dict[str, Any], key: str, place: str, problems: list[Problem]) -> float | None:
    if key not in raw:
        return None
    v = raw[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
        problems.append(Problem(place, f"'{key}' must be a positive number: {v!r}"))
        return None
    return float(v)
