"""How runs go: ``[scheduler]`` (the ``gongzhi schedule`` process), ``[ingest]`` (rows read at a
time) and ``[calendar]`` (the holiday calendar behind 按期 deadlines)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.errors import Problem
from core.timezone import LOCAL_TZ


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


def parse_scheduler(raw: Any, place: str, problems: list[Problem]) -> SchedulerSettings:
    """The ``[scheduler]`` section; every problem is added to ``problems``."""
    sched = SchedulerSettings()
    for key, value in (raw or {}).items():
        if not hasattr(sched, key):
            problems.append(Problem(place, f"unknown scheduler key '{key}'"))
            continue
        if key in _SCHEDULER_CHECKS:
            ok, want = _SCHEDULER_CHECKS[key]
            if isinstance(value, bool) or not ok(value):
                problems.append(Problem(place, f"'{key}' must be {want}, not {value!r}"))
                continue
        try:
            setattr(sched, key, type(getattr(sched, key))(value))
        except (TypeError, ValueError):
            problems.append(Problem(place, f"'{key}' has a bad value {value!r}"))
    return sched


@dataclass
class IngestSettings:
    """``[ingest]``: how runs read their sources."""

    #: rows read, cast, quarantined and staged at a time: a run's memory follows this, not the
    #: size of the source (a file is hashed and read in pieces of about this many rows)
    chunk_rows: int = 250_000
    #: sources a batch (``gongzhi ingest``) runs at once, in worker processes, on
    #: PostgreSQL; ``gongzhi ingest --jobs N`` overrides it. 1: one after another
    parallel_runs: int = 1
    #: memory (MB) a run may spend telling whether a chunk repeats keys of earlier chunks when
    #: its export is not in key order: 8 bytes a key (320 MB: 40M keys), about twice that
    #: at peak while its sorted arrays merge. Past it, every later chunk out of key order
    #: is taken as a repeat (staged, de-duplicated and merged: slower); 0: only the key-range
    #: test. On PostgreSQL; SQLite runs always de-duplicate.
    key_memory_mb: int = 320


#: the most ``key_memory_mb`` accepts (64 GB: 8,000M keys)
MAX_KEY_MEMORY_MB = 65_536
#: the most ``parallel_runs`` accepts: each run is a process with a warehouse connection or
#: three (COPY feeders), and more runs than cores only share them
MAX_PARALLEL_RUNS = 32


def check_parallel_runs(value: Any) -> str | None:
    """What is wrong with ``value`` as a number of runs at once (None: nothing); one home for
    the rule the config key and the ``--jobs`` flag share."""
    if isinstance(value, bool) or not isinstance(value, int) or not (
            1 <= value <= MAX_PARALLEL_RUNS):
        return (f"must be a whole number of runs from 1 to {MAX_PARALLEL_RUNS}, "
                f"not {value!r}")
    return None


def parse_ingest(raw: Any, place: str, problems: list[Problem]) -> IngestSettings:
    """The ``[ingest]`` section; every problem is added to ``problems``."""
    out = IngestSettings()
    if raw is None:
        return out
    if not isinstance(raw, dict):
        problems.append(Problem(place, "'ingest' must be a table ([ingest])"))
        return out
    for key, value in raw.items():
        if key == "parallel_runs":
            wrong = check_parallel_runs(value)
            if wrong:
                problems.append(Problem(place, f"'parallel_runs' {wrong}"))
            else:
                out.parallel_runs = value
        elif key == "key_memory_mb":
            if isinstance(value, bool) or not isinstance(value, int) or not (
                    0 <= value <= MAX_KEY_MEMORY_MB):
                problems.append(Problem(place, "'key_memory_mb' must be a whole number of MB "
                                        f"from 0 to {MAX_KEY_MEMORY_MB}, not {value!r}"))
            else:
                out.key_memory_mb = value
        elif key != "chunk_rows":
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


def parse_calendar(raw: Any, place: str, problems: list[Problem]) -> CalendarSettings:
    """The ``[calendar]`` section; every problem is added to ``problems``."""
    calendar = CalendarSettings()
    cal_cfg = raw or {}
    if not isinstance(cal_cfg, dict):
        problems.append(Problem(place, "'calendar' must be a table ([calendar])"))
        cal_cfg = {}
    for key, value in cal_cfg.items():
        if key != "warn_days_ahead":
            problems.append(Problem(place, f"unknown calendar key '{key}'"))
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 366:
            problems.append(Problem(place, "'warn_days_ahead' must be a whole "
                                    f"number of days from 0 to 366, not {value!r}"))
        else:
            calendar.warn_days_ahead = value
    return calendar
