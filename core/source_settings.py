"""``[[sources]]``: one entry per source, its common keys typed and checked; the plugin's own
keys are kept in ``options`` for the plugin to check (``validate_source`` in
:func:`core.settings.load_settings`)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.cron import schedule_problems
from core.errors import Problem
from core.timezone import LOCAL_TZ

COMMON_SOURCE_KEYS = {"id", "plugin", "table", "schedule", "columns", "defaults", "required",
                      "frequent", "formats", "decimal_comma", "delete_flag", "timezone"}
DEFAULT_SOURCE_TZ = "Asia/Shanghai"  # a source timestamp without a zone is Shanghai time
SOURCE_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


# what a delete-flag column holds for a deleted row (compared trimmed, case-insensitively)
DELETED_VALUES = ("1", "y", "yes", "true", "是", "已删除", "deleted")


@dataclass(frozen=True)
class DeleteFlag:
    """A soft-delete marker in a source (``[sources.delete_flag]``): rows whose ``column``
    holds one of ``values`` were deleted in the source system and leave the warehouse."""

    column: str
    values: tuple[str, ...] = DELETED_VALUES


@dataclass
class SourceSpec:
    """One configured source: the common keys plus the plugin's own settings in ``options``."""

    id: str
    plugin: str
    table: str | None = None
    schedule: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    place: str = ""
    #: no input (nothing matched) fails the run instead of logging it as ``no_input``
    required: bool = False
    #: opt-in for a schedule firing more often than the scheduler's floor (every 5 minutes)
    frequent: bool = False
    delete_flag: DeleteFlag | None = None
    base_dir: Path = Path(".")
    # canonical column -> strptime format, or "excel_serial" (serial day numbers)
    formats: dict[str, str] = field(default_factory=dict)
    decimal_comma: bool = False  # "1,5" is 1.5 and "1.234,5" is 1234.5 in this source
    # the IANA zone of the source's timestamps without an offset (a US 311 feed:
    # "America/New_York"); stored times are UTC either way
    timezone: str = DEFAULT_SOURCE_TZ

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """A path from this source's settings, relative to the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)


def parse_source(raw: Any, place: str, base_dir: Path, check_schedules: bool = False
                 ) -> tuple[SourceSpec | None, list[Problem]]:
    """One ``[[sources]]`` entry at ``place`` (file:line sources[i]), with its problems; None
    when it is not a table at all."""
    problems: list[Problem] = []
    if not isinstance(raw, dict):
        return None, [Problem(place, "a source must be a table")]
    sid = raw.get("id")
    if not isinstance(sid, str) or not SOURCE_ID.match(sid):
        problems.append(
            Problem(place, "'id' is required: lower-case letters, digits and _ (e.g. gov_cases)")
        )
        sid = str(sid)
    else:
        place = f"{place} (id={sid})"
    plugin = raw.get("plugin")
    if not isinstance(plugin, str) or not plugin:
        problems.append(Problem(place, "'plugin' is required (e.g. files, rest, sql)"))
    table = raw.get("table")
    if table is not None and not isinstance(table, str):
        problems.append(Problem(place, "'table' must be a table name"))
    schedule = raw.get("schedule")
    if schedule is not None and (not isinstance(schedule, str)
                                 or len(schedule.split()) not in (5, 6)):
        problems.append(Problem(
            place, f"'schedule' must be a cron expression like '0 2 * * *': {schedule!r}"))
    elif isinstance(schedule, str) and check_schedules:
        # bad, never firing, or too frequent without `frequent = true`: refused here, with
        # every other problem, so the scheduler never meets one (core/cron.py)
        frequent = raw.get("frequent", False) is True
        problems += [Problem(f"{place} schedule", p)
                     for p in schedule_problems(schedule, LOCAL_TZ, frequent=frequent)]
    columns = raw.get("columns", {})
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        problems.append(Problem(place, "[sources.columns] must map source headers to column names"))
        columns = {}
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, dict):
        problems.append(Problem(place, "[sources.defaults] must be a table of column = value"))
        defaults = {}
    formats = raw.get("formats", {})
    if not isinstance(formats, dict) or not all(isinstance(v, str) and v for v in
                                                formats.values()):
        problems.append(Problem(place, "[sources.formats] must map column names to a strptime "
                                       "format (\"%d/%m/%Y %H:%M\") or \"excel_serial\""))
        formats = {}
    timezone = raw.get("timezone", DEFAULT_SOURCE_TZ)
    if not _known_zone(timezone):
        problems.append(Problem(place, f"'timezone' must be an IANA time zone such as "
                                       f"\"Asia/Shanghai\" or \"America/New_York\": {timezone!r}"))
        timezone = DEFAULT_SOURCE_TZ
    decimal_comma = raw.get("decimal_comma", False)
    if not isinstance(decimal_comma, bool):
        problems.append(Problem(place, "'decimal_comma' must be true or false"))
        decimal_comma = False
    flags: dict[str, bool] = {}
    for key in ("required", "frequent"):
        value = raw.get(key, False)
        if not isinstance(value, bool):
            problems.append(Problem(place, f"'{key}' must be true or false: {value!r}"))
            value = False
        flags[key] = value
    delete_flag, errs = _delete_flag(raw.get("delete_flag"), place)
    problems += errs
    options = {k: v for k, v in raw.items() if k not in COMMON_SOURCE_KEYS}
    spec = SourceSpec(
        id=sid,
        plugin=plugin if isinstance(plugin, str) else "",
        table=table if isinstance(table, str) else None,
        schedule=schedule if isinstance(schedule, str) else None,
        columns={str(k).strip(): v for k, v in columns.items()},
        defaults=dict(defaults),
        options=options,
        place=place,
        base_dir=base_dir,
        formats={str(k): v for k, v in formats.items()},
        decimal_comma=decimal_comma,
        timezone=timezone,
        **flags,
        delete_flag=delete_flag,
    )
    return spec, problems


def _known_zone(name: Any) -> bool:
    """Whether ``name`` is a time zone the tz database knows (tzdata is a dependency)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(name, str) or not name.strip() or name.startswith(("/", ".")):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _delete_flag(raw: Any, place: str) -> tuple[DeleteFlag | None, list[Problem]]:
    """``[sources.delete_flag]``: ``column`` (the source's header, e.g. SCBZ, 删除标志,
    is_deleted) and optional ``values`` meaning deleted (default: 1, Y, yes, true, 是 …)."""
    if raw is None:
        return None, []
    bad = [Problem(place, "[sources.delete_flag] needs column = \"<header>\" and optional "
                          "values = [\"1\", …]")]
    if not isinstance(raw, dict) or not isinstance(raw.get("column"), str) \
            or not raw["column"].strip() or set(raw) - {"column", "values"}:
        return None, bad
    values = raw.get("values", list(DELETED_VALUES))
    if not isinstance(values, list) or not values or not all(
            isinstance(v, str | int | bool) for v in values):
        return None, bad
    norm = tuple(str(v).strip().lower() if not isinstance(v, bool) else str(v).lower()
                 for v in values)
    return DeleteFlag(raw["column"].strip(), norm), []
