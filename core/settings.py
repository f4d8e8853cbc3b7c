"""Loading ``gongzhi.toml``: every section as a typed value, validated in one pass.

Sections: ``[warehouse]`` (:mod:`core.warehouse_settings`), ``[[sources]]``
(:mod:`core.source_settings`), ``[scheduler]``, ``[ingest]`` (rows read at a time) and
``[calendar]`` (:mod:`core.run_settings`), ``[auth]`` (sign-in sessions and the OpenID Connect
provider), ``[dashboard]`` and ``[privacy]`` (:mod:`core.access_settings`), ``[bulletin]`` (the
monthly 通报: :mod:`core.bulletin_settings`), ``[map]`` (:mod:`core.mapsettings`), ``[screen]``
(:mod:`core.screen_settings`), and ``[alerting]``, ``[[alerts]]`` (预警 rules) and ``[tasks]``
(督办), typed in :mod:`core.alertconfig`. Each of those modules parses its sections; this one
is the single validation path: :func:`settings_from_dict` runs them all, collects every
problem and reports them at once with its place (file, line, source id, key), so a data
office fixes its config in one pass instead of one error per attempt. Plugin-specific checks
join the same report through ``validate_source`` (the ingest registry passes one).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import privacy
from core.access_settings import (
    AuthSettings,
    DashboardSettings,
    parse_auth,
    parse_dashboard,
    parse_privacy,
)
from core.alertconfig import AlertingSettings, TaskSettings
from core.alertconfig import parse as parse_alerting
from core.bulletin_settings import BulletinSettings, parse_bulletin
from core.errors import ConfigError, Problem
from core.mapsettings import MapSettings, parse_map
from core.run_settings import (
    CalendarSettings,
    IngestSettings,
    SchedulerSettings,
    parse_calendar,
    parse_ingest,
    parse_scheduler,
)
from core.screen_settings import ScreenSettings, parse_screen
from core.source_settings import DeleteFlag, SourceSpec, parse_source
from core.warehouse_settings import parse_warehouse

# Callers (the ingest plugins, the dashboard, the plugin kit) import these from here.
__all__ = ["AuthSettings", "DashboardSettings", "DeleteFlag", "Settings", "SourceSpec",
           "SourceValidator", "config_path", "load_settings", "settings_from_dict"]

DEFAULT_CONFIG = Path("config/gongzhi.toml")


# Sections a config may hold; [users] and [roles] are refused with a word on where they live.
SECTIONS = ("warehouse", "sources", "scheduler", "auth", "dashboard", "privacy", "calendar",
            "bulletin", "alerting", "alerts", "tasks", "map", "ingest", "screen")
NOT_HERE = {
    "users": "accounts live in the warehouse, not the config: use `gongzhi users add`",
    "roles": "the roles are fixed (leader, street_staff, community_staff) and each sees its "
             "own area; give an account its role with `gongzhi users add --role`",
}


@dataclass
class Settings:
    """The whole configuration of one Gongzhi installation."""

    path: Path | None
    base_dir: Path
    warehouse_url: str
    sources: list[SourceSpec]
    #: ``[warehouse] read_url``: where the dashboards read (a PostgreSQL hot standby); None:
    #: they read ``warehouse_url``. Writes (sign-in, audit, run-now) always go to the primary.
    warehouse_read_url: str | None = None
    #: ``[warehouse] partition``: ``"month"`` (default) range-partitions a new PostgreSQL
    #: warehouse's fact tables by month; ``"none"`` keeps them whole. Read when the warehouse
    #: is created; an existing one keeps its layout until ``gongzhi partition`` converts it.
    warehouse_partition: str = "month"
    #: ``[warehouse] query_threads``: connections one KPI computation uses at once (its
    #: independent statements side by side, :mod:`metrics.parallel`); None: 2 on PostgreSQL,
    #: 1 on SQLite.
    warehouse_query_threads: int | None = None
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    bulletin: BulletinSettings = field(default_factory=BulletinSettings)
    map: MapSettings = field(default_factory=MapSettings)
    screen: ScreenSettings = field(default_factory=ScreenSettings)  # [screen], the 首屏
    raw: dict[str, Any] = field(default_factory=dict)
    pseudonym_key_file: Path | None = None  # [privacy] key_file; the environment wins
    alerting: AlertingSettings = field(default_factory=AlertingSettings)  # [[alerts]] …
    tasks: TaskSettings = field(default_factory=TaskSettings)  # [tasks] (督办)

    def source(self, source_id: str) -> SourceSpec:
        for s in self.sources:
            if s.id == source_id:
                return s
        raise KeyError(source_id)


SourceValidator = Callable[[SourceSpec], list[Problem]]


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Which config file to use: ``--config``, then ``GONGZHI_CONFIG``, then the default."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("GONGZHI_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


def load_settings(
    path: str | os.PathLike[str] | None = None,
    validate_source: SourceValidator | None = None,
    kpi_ids: Collection[str] | None = None,
) -> Settings:
    """Read and validate the config; raise :class:`ConfigError` listing every problem.

    ``validate_source`` adds plugin-specific checks (the ingest registry passes one) so that
    they are reported in the same pass as the common ones; ``kpi_ids`` (the KPI catalogue's
    ids) lets alert rules naming an unknown KPI be reported in that pass too.
    """
    p = config_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(str(p), "config file not found")]) from None
    except UnicodeDecodeError as e:
        raise ConfigError([Problem(str(p), f"not UTF-8 text ({e.reason})")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([Problem(str(p), f"not valid TOML: {e}")]) from None
    return settings_from_dict(data, path=p, text=text, validate_source=validate_source,
                              check_schedules=True, kpi_ids=kpi_ids)


def settings_from_dict(
    data: dict[str, Any],
    *,
    path: Path | None = None,
    text: str = "",
    validate_source: SourceValidator | None = None,
    check_schedules: bool = False,
    kpi_ids: Collection[str] | None = None,
) -> Settings:
    """Validate an already parsed config (also used by tests and ``gongzhi demo``).

    ``check_schedules`` runs the full cron checks (:func:`core.cron.schedule_problems`: valid,
    fires at all, not too often); without it only the shape (5 or 6 fields) is checked, so
    settings built in code keep a bad schedule (the scheduler then skips it with a warning).
    """
    base_dir = (path.parent if path else Path(".")).resolve()
    fname = str(path) if path else "<config>"
    lines = _Lines(fname, text)
    problems: list[Problem] = []

    for key in sorted(set(data) - set(SECTIONS)):
        why = NOT_HERE.get(key)
        problems.append(Problem(lines.top(key), f"[{key}] is not read: {why}" if why
                                else f"unknown section '{key}'"))

    # each section's module adds its problems in this order: the report reads top to bottom
    url, read_url, partition, query_threads = parse_warehouse(
        data.get("warehouse", {}), base_dir, lines.top("warehouse"), problems)
    labels, key_file = parse_privacy(data.get("privacy"), base_dir, lines.top("privacy"),
                                     problems)
    sched = parse_scheduler(data.get("scheduler"), lines.top("scheduler"), problems)
    calendar = parse_calendar(data.get("calendar"), lines.top("calendar"), problems)
    ingest = parse_ingest(data.get("ingest"), lines.top("ingest"), problems)
    auth = parse_auth(data.get("auth"), lines.top("auth"), problems)
    dashboard = parse_dashboard(data.get("dashboard"), lines.top("dashboard"), problems)
    bulletin = parse_bulletin(data.get("bulletin"), base_dir, lines.top("bulletin"), problems,
                              check_schedule=check_schedules)
    map_settings, map_problems = parse_map(data.get("map"), lines.top("map"))
    problems += map_problems
    screen, screen_problems = parse_screen(data.get("screen"), lines.top("screen"))
    problems += screen_problems

    sources: list[SourceSpec] = []
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list):
        problems.append(Problem(fname, "'sources' must be an array of tables ([[sources]])"))
        raw_sources = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_sources):
        place = lines.source(i)
        spec, errs = parse_source(raw, place, base_dir, check_schedules)
        problems.extend(errs)
        if spec is None:
            continue
        if spec.id in seen:
            problems.append(Problem(place, f"duplicate source id '{spec.id}'"))
        seen.add(spec.id)
        if validate_source is not None and spec.plugin:
            problems.extend(validate_source(spec))
        sources.append(spec)

    alerting, tasks, errs = parse_alerting(data, fname=fname, text=text, base_dir=base_dir,
                                           kpi_ids=kpi_ids, source_ids=seen,
                                           check_schedules=check_schedules)
    problems.extend(errs)

    if problems:
        raise ConfigError(problems, header=f"configuration {fname} is invalid")
    privacy.configure(labels)
    return Settings(
        path=path, base_dir=base_dir, warehouse_url=url, warehouse_read_url=read_url,
        warehouse_partition=partition, warehouse_query_threads=query_threads,
        sources=sources, scheduler=sched,
        calendar=calendar, ingest=ingest, auth=auth, dashboard=dashboard, bulletin=bulletin,
        map=map_settings, screen=screen, raw=data, pseudonym_key_file=key_file,
        alerting=alerting, tasks=tasks,
    )


class _Lines:
    """Finds the line of a section or of the n-th ``[[sources]]`` entry for error places."""

    def __init__(self, fname: str, text: str):
        self.fname = fname
        self.lines = text.splitlines()
        self.source_lines = [
            i + 1 for i, line in enumerate(self.lines) if line.strip().startswith("[[sources]]")
        ]

    def top(self, key: str) -> str:
        for i, line in enumerate(self.lines):
            s = line.strip()
            if s.startswith(f"[{key}]") or s.startswith(f"{key} ") or s.startswith(f"{key}="):
                return f"{self.fname}:{i + 1}"
        return self.fname

    def source(self, index: int) -> str:
        if index < len(self.source_lines):
            return f"{self.fname}:{self.source_lines[index]} sources[{index}]"
        return f"{self.fname} sources[{index}]"
