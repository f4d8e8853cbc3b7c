"""Loading ``gongzhi.toml``: every section as a typed value, validated in one pass.

Sections: ``[warehouse]``, ``[[sources]]``, ``[scheduler]``, ``[calendar]``, ``[privacy]``,
``[auth]`` (sign-in sessions and the OpenID Connect provider), ``[dashboard]``,
``[bulletin]`` (the monthly 通报: core/bulletin_settings.py), and
``[alerting]``, ``[[alerts]]`` (预警 rules) and ``[tasks]`` (督办), typed in
:mod:`core.alertconfig`; ``[ingest]`` (rows read at a time). Every
problem is collected and reported at once with its place (file, line, source id, key), so a
data office fixes its config in one pass instead of one error per attempt. Plugin-specific
checks join the same report through ``validate_source`` (the ingest registry passes one).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core import privacy
from core.alertconfig import AlertingSettings, TaskSettings
from core.alertconfig import parse as parse_alerting
from core.bulletin_settings import BulletinSettings, parse_bulletin
from core.cron import schedule_problems
from core.errors import ConfigError, Problem
from core.mapsettings import MapSettings, parse_map
from core.screen_settings import ScreenSettings, parse_screen
from core.timezone import LOCAL_TZ

DEFAULT_CONFIG = Path("config/gongzhi.toml")
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


@dataclass
class SchedulerSettings:
    """Options of the ``gongzhi schedule`` process."""

    timezone: str = LOCAL_TZ
    misfire_grace_hours: float = 6.0
    poll_seconds: float = 5.0
    lease_seconds: float = 120.0
    nice: int = 19  # loads use spare CPU: the dashboard people are using comes first
    # a run the warehouse failed (server restarted, connection lost, disk full) is tried again
    # this many times, after retry_seconds, then twice that, …
    retries: int = 3
    retry_seconds: float = 60.0


# [scheduler] keys checked beyond their type: (accepts the value, what it must be)
_SCHEDULER_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "retries": (lambda v: isinstance(v, int) and v >= 0, "a whole number of tries (0 or more)"),
    "retry_seconds": (lambda v: isinstance(v, int | float) and v > 0,
                      "a number of seconds above 0"),
}


@dataclass
class IngestSettings:
    """``[ingest]``: how runs read their sources."""

    #: rows read, cast, quarantined and staged at a time: a run's memory follows this, not the
    #: size of the source (a file is hashed and read in pieces of about this many rows)
    chunk_rows: int = 250_000


def parse_ingest(raw: Any, place: str, problems: list[Problem]) -> IngestSettings:
    """The ``[ingest]`` section; every problem is added to ``problems``."""
    out = IngestSettings()
    if raw is None:
        return out
    if not isinstance(raw, dict):
        problems.append(Problem(place, "'ingest' must be a table ([ingest])"))
        return out
    for key, value in raw.items():
        if key != "chunk_rows":
            problems.append(Problem(place, f"unknown ingest key '{key}'"))
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1000:
            problems.append(Problem(place, "'chunk_rows' must be a whole number of rows, at "
                                    f"least 1000, not {value!r}"))
        else:
            out.chunk_rows = value
    return out


@dataclass
class CalendarSettings:
    """``[calendar]``: the holiday calendar behind 按期 deadlines (metrics/calendar.py)."""

    # warn on 数据与运行, `gongzhi runs` and `gongzhi sources` this many days before next year
    # when its holiday arrangement is not loaded yet (31: from 1 December on)
    warn_days_ahead: int = 31


@dataclass(frozen=True)
class AuthSettings:
    """``[auth]``: how long a dashboard sign-in lasts, and the OpenID Connect provider of
    ``st.login`` (secrets are never in the file: ``*_env`` name environment variables)."""

    session_minutes: float = 30.0  # idle time after which a sign-in ends
    session_max_hours: float = 12.0  # a sign-in ends after this long even when in use
    server_metadata_url: str | None = None  # set: single sign-on is offered
    client_id: str | None = None
    redirect_uri: str | None = None
    client_secret_env: str | None = None
    cookie_secret_env: str | None = None

    @property
    def oidc(self) -> bool:
        """Whether an OpenID Connect provider is configured."""
        return bool(self.server_metadata_url)


OIDC_KEYS = ("client_id", "redirect_uri", "client_secret_env", "cookie_secret_env")


@dataclass(frozen=True)
class DashboardSettings:
    """``[dashboard]``: ``sign_in = "open"`` lets everyone look as the district (the demo);
    ``"required"`` (the default) asks for an account."""

    sign_in: Literal["required", "open"] = "required"

    @property
    def open(self) -> bool:
        return self.sign_in == "open"


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

    wh = data.get("warehouse", {})
    url = os.environ.get("GONGZHI_WAREHOUSE_URL") or wh.get("url") or "sqlite:///var/gongzhi.db"
    try:
        url = _resolve_sqlite_url(url, base_dir)
    except ArgumentError as e:
        problems.append(Problem(lines.top("warehouse"), f"warehouse url is not valid: {e}"))

    read_url = _read_url(wh, url, lines.top("warehouse"), problems)
    partition = wh.get("partition", "month")
    if partition not in ("month", "none"):
        problems.append(Problem(lines.top("warehouse"), f"'partition' must be \"month\" or "
                                                         f"\"none\", not {partition!r}"))
        partition = "month"

    privacy_cfg = data.get("privacy") or {}
    for key in sorted(set(privacy_cfg) - {"key_file", "name_labels"}):
        problems.append(Problem(lines.top("privacy"), f"unknown [privacy] key '{key}'"))
    labels = privacy_cfg.get("name_labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) and x.strip() for x in labels):
        problems.append(Problem(lines.top("privacy"), "'name_labels' must be a list of words "
                                                      "after which a name follows (联系人 …)"))
        labels = []
    key_file: Path | None = None
    raw_key_file = privacy_cfg.get("key_file")
    if raw_key_file is not None:
        if not isinstance(raw_key_file, str):
            problems.append(Problem(lines.top("privacy"), "'key_file' must be a path"))
        else:  # a path to the secret (never the secret), relative to the config
            kf = Path(raw_key_file).expanduser()
            key_file = kf if kf.is_absolute() else base_dir / kf

    sched = SchedulerSettings()
    for key, value in (data.get("scheduler") or {}).items():
        if not hasattr(sched, key):
            problems.append(Problem(lines.top("scheduler"), f"unknown scheduler key '{key}'"))
            continue
        if key in _SCHEDULER_CHECKS:
            ok, want = _SCHEDULER_CHECKS[key]
            if isinstance(value, bool) or not ok(value):
                problems.append(Problem(lines.top("scheduler"),
                                        f"'{key}' must be {want}, not {value!r}"))
                continue
        try:
            setattr(sched, key, type(getattr(sched, key))(value))
        except (TypeError, ValueError):
            problems.append(Problem(lines.top("scheduler"), f"'{key}' has a bad value {value!r}"))

    calendar = CalendarSettings()
    cal_cfg = data.get("calendar") or {}
    if not isinstance(cal_cfg, dict):
        problems.append(Problem(lines.top("calendar"), "'calendar' must be a table ([calendar])"))
        cal_cfg = {}
    for key, value in cal_cfg.items():
        if key != "warn_days_ahead":
            problems.append(Problem(lines.top("calendar"), f"unknown calendar key '{key}'"))
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 366:
            problems.append(Problem(lines.top("calendar"), "'warn_days_ahead' must be a whole "
                                    f"number of days from 0 to 366, not {value!r}"))
        else:
            calendar.warn_days_ahead = value

    ingest = parse_ingest(data.get("ingest"), lines.top("ingest"), problems)
    auth = _auth(data.get("auth"), lines.top("auth"), problems)
    dashboard = _dashboard(data.get("dashboard"), lines.top("dashboard"), problems)
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
        spec, errs = _source_spec(raw, place, base_dir, check_schedules)
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
        warehouse_partition=partition,
        sources=sources, scheduler=sched,
        calendar=calendar, ingest=ingest, auth=auth, dashboard=dashboard, bulletin=bulletin,
        map=map_settings, screen=screen, raw=data, pseudonym_key_file=key_file,
        alerting=alerting, tasks=tasks,
    )


def _table(raw: Any, name: str, place: str, problems: list[Problem]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(Problem(place, f"'{name}' must be a table ([{name}])"))
        return {}
    return raw


def _auth(raw: Any, place: str, problems: list[Problem]) -> AuthSettings:
    """``[auth]``: durations of 0 or more (0: a sign-in ends at the next page); a provider
    needs every OIDC key."""
    cfg = _table(raw, "auth", place, problems)
    known = {f for f in AuthSettings.__dataclass_fields__}
    for key in sorted(set(cfg) - known):
        problems.append(Problem(place, f"unknown [auth] key '{key}' "
                                       f"(keys: {', '.join(sorted(known))})"))
    values: dict[str, Any] = {}
    for key in ("session_minutes", "session_max_hours"):
        if key not in cfg:
            continue
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
            problems.append(Problem(place, f"'{key}' must be a number (0 or more), not {v!r}"))
        else:
            values[key] = float(v)
    for key in ("server_metadata_url", *OIDC_KEYS):
        if key not in cfg:
            continue
        v = cfg[key]
        if not isinstance(v, str) or not v.strip():
            problems.append(Problem(place, f"'{key}' must be a non-empty text, not {v!r}"))
        else:
            values[key] = v
    auth = AuthSettings(**values)
    if auth.oidc:
        missing = [k for k in OIDC_KEYS if k not in values and k not in cfg]
        if missing:
            problems.append(Problem(place, "an OIDC provider (server_metadata_url) also needs "
                                           + ", ".join(missing)))
    return auth


def _dashboard(raw: Any, place: str, problems: list[Problem]) -> DashboardSettings:
    cfg = _table(raw, "dashboard", place, problems)
    for key in sorted(set(cfg) - {"sign_in"}):
        problems.append(Problem(place, f"unknown [dashboard] key '{key}' (keys: sign_in)"))
    sign_in = cfg.get("sign_in", "required")
    if sign_in not in ("required", "open"):
        problems.append(Problem(place, "'sign_in' must be \"required\" (accounts) or \"open\" "
                                       f"(everyone sees the district), not {sign_in!r}"))
        sign_in = "required"
    return DashboardSettings(sign_in=sign_in)


def _source_spec(raw: Any, place: str, base_dir: Path, check_schedules: bool = False
                 ) -> tuple[SourceSpec | None, list[Problem]]:
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


def _read_url(wh: dict[str, Any], url: str, place: str, problems: list[Problem]) -> str | None:
    """``[warehouse] read_url`` (or ``GONGZHI_WAREHOUSE_READ_URL``): a PostgreSQL standby of a
    PostgreSQL warehouse. SQLite has no replicas: its readers already never wait for a
    writer."""
    raw = os.environ.get("GONGZHI_WAREHOUSE_READ_URL") or wh.get("read_url")
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        problems.append(Problem(place, "'read_url' must be a database URL"))
        return None
    try:
        backend = make_url(raw).get_backend_name()
    except ArgumentError as e:
        problems.append(Problem(place, f"warehouse read_url is not valid: {e}"))
        return None
    try:
        primary = make_url(url).get_backend_name()
    except ArgumentError:
        primary = ""
    if backend != "postgresql" or primary != "postgresql":
        problems.append(Problem(place, "'read_url' (a hot standby for the dashboards) needs a "
                                       "PostgreSQL warehouse and a PostgreSQL standby "
                                       f"(url is {primary or '?'}, read_url is {backend})"))
        return None
    return raw


def _resolve_sqlite_url(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path relative to the config folder, as every other path is."""
    u = make_url(url)
    if (u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:"
            and not u.database.startswith("file:")):  # URI filenames are used as given
        db = Path(u.database)
        if not db.is_absolute():
            return str(u.set(database=str((base_dir / db).resolve())))
    return url


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
