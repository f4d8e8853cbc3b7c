"""Shared pieces of the demo generator: the run context, the working-day calendar, time
arithmetic in local seconds, and writers for the file shapes district offices produce.

All timestamps are whole seconds of Asia/Shanghai wall time counted from the calendar's first
day, held in numpy int64 arrays; they become text (``2024-03-05 09:30:00``, no zone) only when
a file is written, because the source systems the demo imitates store local time without a zone.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

DAY = 86_400
# The seed article's date: its counts of people (3万余名志愿者, 5000余名党员 …) hold on this day,
# and registers grow from there, whatever span and scale the demo is written for.
SEED_DATE = dt.date(2023, 8, 14)
TS_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_FILE_ROWS = 1_000_000  # big facts are split so that no file holds more rows than this
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class SourceEntry:
    """One ``[[sources]]`` entry of the generated config (schedule is added by config.py)."""

    id: str
    plugin: str
    table: str | None
    options: dict[str, Any]
    columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    comment: str = ""


@dataclass(frozen=True)
class Planted:
    """A deliberately bad row: where it was written and which reason the quarantine should give."""

    source: str
    file: str
    reason: str
    what: str


class WorkCalendar:
    """Working days on the official Chinese holiday calendar, weekends where it has no data.

    Day indexes count from ``day0``; ``cum[i]`` is the number of working days on or before day
    ``i`` and ``workdays`` lists the indexes of working days, so the Nth working day after day
    ``d`` (that day not counted) is ``workdays[cum[d] + N - 1]``, the rule of ``gov.on_time_rate``.
    """

    def __init__(self, first: dt.date, last: dt.date):
        import chinese_calendar

        self.day0 = first
        n = (last - first).days + 1
        work = np.zeros(n, dtype=bool)
        self.official = True
        for i in range(n):
            day = first + dt.timedelta(days=i)
            try:
                work[i] = chinese_calendar.is_workday(day)
            except NotImplementedError:  # years the package has no holiday data for yet
                work[i] = day.weekday() < 5
                self.official = False
        self.is_work = work
        self.cum = np.cumsum(work)
        self.workdays = np.flatnonzero(work)
        self.epoch = (first - dt.date(1970, 1, 1)).days * DAY

    def index(self, day: dt.date) -> int:
        return (day - self.day0).days

    def date(self, index: int) -> dt.date:
        return self.day0 + dt.timedelta(days=int(index))

    def nth_workday_after(self, days: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Day index of the end of the Nth working day after each day (N = 0: the day itself)."""
        pos = self.cum[days] + np.maximum(n, 1) - 1
        pos = np.minimum(pos, len(self.workdays) - 1)
        return np.where(n <= 0, days, self.workdays[pos])


@dataclass
class DemoContext:
    """Everything the domain generators share for one ``write_demo`` call."""

    root: Path
    scale: float
    seed: int
    start: dt.date
    end: dt.date
    cal: WorkCalendar
    log: Callable[[str], None]
    planted: list[Planted] = field(default_factory=list)
    # what one writer hands to a later one (the help-desk cases the 帮办团 log refers to)
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def sources(self) -> Path:
        return self.root / "sources"

    @property
    def first_day(self) -> int:
        return self.cal.index(self.start)

    @property
    def last_day(self) -> int:
        return self.cal.index(self.end)

    @property
    def end_secs(self) -> int:
        """The last second of the span: nothing happened after it."""
        return (self.last_day + 1) * DAY - 1

    def rng(self, domain: str, part: int = 0) -> np.random.Generator:
        """An independent, reproducible stream per domain (and per file part), so that adding
        rows to one domain never changes another's."""
        return np.random.default_rng([self.seed, zlib.crc32(domain.encode()), part])

    def volume(self, base: int, minimum: int) -> int:
        """Rows of a fact table that grows linearly with ``scale``."""
        return max(minimum, round(base * self.scale))

    def rel(self, path: Path) -> str:
        """A path as written in the config: relative to the config folder, with slashes."""
        return path.relative_to(self.root).as_posix()

    def plant(self, source: str, file: Path, reason: str, what: str) -> None:
        """Record a deliberately bad row written into ``file``."""
        self.plant_at(source, self.rel(file), reason, what)

    def plant_at(self, source: str, where: str, reason: str, what: str) -> None:
        self.planted.append(Planted(source, where, reason, what))


# -- time arithmetic ---------------------------------------------------------------------------

def office_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds into the day within office hours (08:30–12:00, 14:30–17:30)."""
    s = rng.integers(0, 6 * 3600 + 1800, n)
    return np.where(s < 3 * 3600 + 1800, 8 * 3600 + 1800 + s, 14 * 3600 + 1800 + s - 12600)


# Online applications: a morning peak, an afternoon peak and an evening one after work.
_ONLINE_HOURS = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 3, 6, 9, 9, 8, 5, 5, 7, 8, 8, 7, 5, 5,
                          7, 8, 6, 3], dtype=float)


def online_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds into the day for online activity."""
    hours = rng.choice(24, n, p=_ONLINE_HOURS / _ONLINE_HOURS.sum())
    return hours * 3600 + rng.integers(0, 3600, n)


def daytime_seconds(rng: np.random.Generator, n: int, lo_h: float, hi_h: float) -> np.ndarray:
    return rng.integers(int(lo_h * 3600), int(hi_h * 3600), n)


def sample_days(rng: np.random.Generator, n: int, days: np.ndarray,
                weights: np.ndarray) -> np.ndarray:
    """``n`` day indexes drawn from ``days`` with the given relative weights."""
    if n == 0 or len(days) == 0:
        return np.zeros(n, dtype=np.int64)
    p = weights / weights.sum()
    return days[rng.choice(len(days), n, p=p)]


def allocate(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder), each
    at least ``minimum``; the parts always sum to ``total``."""
    weights = np.asarray(weights, dtype=float)
    free = total - minimum * len(weights)
    if free < 0:
        raise ValueError("total is smaller than the minimum per part")
    exact = free * weights / weights.sum()
    parts = np.floor(exact).astype(np.int64)
    rest = free - int(parts.sum())
    order = np.argsort(-(exact - parts), kind="stable")
    parts[order[:rest]] += 1
    return parts + minimum


def chunk_bounds(n: int, max_rows: int | None = None) -> list[tuple[int, int]]:
    """Row ranges that split ``n`` rows into near-equal parts of at most ``max_rows``
    (default :data:`MAX_FILE_ROWS`)."""
    parts = max(1, -(-n // (max_rows or MAX_FILE_ROWS)))
    edges = np.linspace(0, n, parts + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def quarters(first: dt.date, last: dt.date) -> Iterator[tuple[str, dt.date, dt.date]]:
    """(label like ``2024q1``, first day, last day) of each calendar quarter in the span."""
    y, q = first.year, (first.month - 1) // 3
    while True:
        q_first = dt.date(y, 3 * q + 1, 1)
        nxt = dt.date(y + (q == 3), (3 * q + 3) % 12 + 1, 1)
        a, b = max(first, q_first), min(last, nxt - dt.timedelta(days=1))
        if a > last:
            return
        yield f"{y}q{q + 1}", a, b
        y, q = (y + 1, 0) if q == 3 else (y, q + 1)


# -- text columns -------------------------------------------------------------------------------

def ts_text(cal: WorkCalendar, secs: np.ndarray, valid: np.ndarray | None = None,
            fmt: str = TS_FORMAT) -> pl.Series:
    """Local wall-time text for seconds since the calendar's first day; null where not valid."""
    s = pl.from_epoch(pl.Series(np.asarray(secs, dtype=np.int64) + cal.epoch), time_unit="s")
    text = s.dt.strftime(fmt)
    if valid is not None:
        text = pl.select(pl.when(pl.Series(valid)).then(text)).to_series()
    return text


def date_text(cal: WorkCalendar, days: np.ndarray) -> pl.Series:
    return ts_text(cal, np.asarray(days, dtype=np.int64) * DAY, fmt="%Y-%m-%d")


def seq_ids(prefix: str, start: int, n: int, width: int) -> pl.Series:
    """``prefix`` + zero-padded sequence numbers, e.g. ``V0000001``."""
    nums = pl.Series(np.arange(start, start + n, dtype=np.int64)).cast(pl.String)
    return (prefix + nums.str.zfill(width)) if prefix else nums.str.zfill(width)


def pick(labels: Sequence[str | None] | np.ndarray, idx: np.ndarray) -> pl.Series:
    """Labels by index, as a string series (vectorised lookup)."""
    return pl.Series(np.asarray(labels, dtype=object)[idx], dtype=pl.String)


def yes_no(mask: np.ndarray, yes: str = "是", no: str = "否") -> pl.Series:
    return pl.Series(np.where(mask, yes, no), dtype=pl.String)


def bool_text(mask: np.ndarray) -> pl.Series:
    return pl.Series(np.where(mask, "true", "false"), dtype=pl.String)


# -- writers -------------------------------------------------------------------------------------

WRITE_SLICE_ROWS = 200_000  # rows encoded at a time by write_csv's non-bulk path


def write_csv(path: Path, frame: pl.DataFrame, *, encoding: str = "utf-8",
              title: Sequence[str] = ()) -> Path:
    """Write a CSV the way the office's export would: ``encoding`` is ``utf-8``, ``utf-8-sig``
    (with a BOM) or ``gb18030``; ``title`` lines (a report name, a date line) go above the
    header, as spreadsheet exports often have them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if encoding == "utf-8" and not title:
        frame.write_csv(path)  # the bulk path: straight to disk, no Python string
        return path
    codec = "gb18030" if encoding == "gb18030" else "utf-8"
    with path.open("wb") as out:
        if encoding == "utf-8-sig":
            out.write(UTF8_BOM)
        out.write("".join(f"{line}\n" for line in title).encode(codec))
        # in row slices: a city-scale export (millions of rows) held whole as one Python
        # string and its encoding took several times its size in memory
        for at in range(0, max(frame.height, 1), WRITE_SLICE_ROWS):
            part = frame.slice(at, WRITE_SLICE_ROWS)
            out.write(part.write_csv(include_header=at == 0).encode(codec))
    return path


def insert_rows(frame: pl.DataFrame, rows: list[tuple[int, dict[str, str | None]]]
                ) -> pl.DataFrame:
    """Insert string rows at the given positions (positions refer to the original frame)."""
    if not rows:
        return frame
    parts, prev = [], 0
    for pos, row in sorted(rows, key=lambda r: r[0]):
        parts.append(frame.slice(prev, pos - prev))
        parts.append(pl.DataFrame({c: [row.get(c)] for c in frame.columns},
                                  schema=frame.schema))
        prev = pos
    parts.append(frame.slice(prev))
    return pl.concat(parts)


def row_at(frame: pl.DataFrame, i: int) -> dict[str, str | None]:
    return dict(frame.row(i, named=True))


def write_sqlite(db: Path, ddl: str, table: str, frame: pl.DataFrame) -> None:
    """Create ``table`` with the source system's own DDL (if missing) and append ``frame``.

    ADBC's bulk ingest keeps millions of rows to seconds; the DDL is ours, not ADBC's, so the
    column types are the ones the source system declares.
    """
    import sqlite3

    import adbc_driver_sqlite.dbapi as adbc

    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(db)
    try:
        con.executescript(ddl)
        con.commit()
    finally:
        con.close()
    if frame.is_empty():
        return
    with adbc.connect(str(db)) as acon:
        cur = acon.cursor()
        cur.adbc_ingest(table, frame.to_arrow(), mode="append")
        cur.close()
        acon.commit()
