"""``[warehouse]``: where the warehouse is (``url``), where the dashboards read
(``read_url``, a hot standby), how a new PostgreSQL warehouse is laid out (``partition``) and
how many connections one KPI computation uses at once (``query_threads``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.errors import Problem


def parse_warehouse(wh: dict[str, Any], base_dir: Path, place: str, problems: list[Problem]
                    ) -> tuple[str, str | None, str, int | None]:
    """The ``[warehouse]`` section as (url, read_url, partition, query_threads); every
    problem is added to ``problems``. The environment (``GONGZHI_WAREHOUSE_URL``,
    ``…_READ_URL``) wins."""
    url = os.environ.get("GONGZHI_WAREHOUSE_URL") or wh.get("url") or "sqlite:///var/gongzhi.db"
    try:
        url = _resolve_sqlite_url(url, base_dir)
    except ArgumentError as e:
        problems.append(Problem(place, f"warehouse url is not valid: {e}"))

    read_url = _read_url(wh, url, place, problems)
    partition = wh.get("partition", "month")
    if partition not in ("month", "none"):
        problems.append(Problem(place, f"'partition' must be \"month\" or "
                                       f"\"none\", not {partition!r}"))
        partition = "month"
    return url, read_url, partition, _query_threads(wh, place, problems)


MAX_QUERY_THREADS = 16


def _query_threads(wh: dict[str, Any], place: str, problems: list[Problem]) -> int | None:
    """``query_threads``: connections one KPI computation's independent statements use at
    once (:mod:`metrics.parallel`); None: the engine's default (2 on PostgreSQL, 1 on
    SQLite)."""
    raw = wh.get("query_threads")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_QUERY_THREADS:
        problems.append(Problem(place, f"'query_threads' must be a whole number from 1 to "
                                       f"{MAX_QUERY_THREADS}, not {raw!r}"))
        return None
    return raw


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
