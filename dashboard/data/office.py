"""The office cycle: monthly bulletins (月度通报), 督办 tasks and the alert log.

Never cached: every bulletin is a generation of record, and tasks move between data versions.
"""

from __future__ import annotations

from typing import Any

from dashboard.data.base import config_path, metrics, scoring_schemes, settings
from metrics import periods
from metrics.access import Viewer
from metrics.compiler import Scope

# -- 月度通报 ---------------------------------------------------------------------------------


def generate_bulletin(viewer: Viewer, period: str, street: Scope | None, fmt: str) -> Any:
    """Generate (archive, audit) a bulletin as ``viewer``: never cached, every click is a
    generation of record."""
    from bulletin import archive
    from core.timezone import to_local
    from metrics.scoring import pick
    from warehouse.engine import utcnow

    s = settings()
    conf = s.bulletin
    scheme = pick(scoring_schemes(config_path()), conf.scheme)
    return archive.generate(metrics(), scheme, periods.parse(period), conf, viewer,
                            street=street, fmt=fmt, trigger="dashboard",
                            issued=to_local(utcnow()).date())


def bulletin_archive(viewer: Viewer) -> list[dict[str, Any]]:
    """Archived bulletins the viewer may download (never cached: new ones appear at once)."""
    from bulletin import archive

    return archive.listing(metrics(), viewer)


# -- 督办 tasks and the alert log (warehouse.cycle enforces the viewer's area) ----------------
# Not cached: tasks move between data versions, and each person's list is small.

def task_counts(viewer: Viewer) -> dict[str, int]:
    from warehouse import cycle

    return cycle.open_counts(metrics().engine, viewer)


def tasks_for(viewer: Viewer, mine: str, area_prefix: str | None = None) -> list[dict[str, Any]]:
    from warehouse import cycle

    return cycle.list_tasks(metrics().engine, viewer, mine=mine, area_prefix=area_prefix)


def task(viewer: Viewer, task_id: int) -> dict[str, Any]:
    from warehouse import cycle

    return cycle.get_task(metrics().engine, viewer, task_id)


def task_move(viewer: Viewer, move: str, task_id: int, *args: Any) -> dict[str, Any]:
    """acknowledge | answer | close | send_back, as ``viewer`` (audited in the data layer)."""
    from warehouse import cycle

    fn: Any = {"acknowledge": cycle.acknowledge, "answer": cycle.answer,
               "close": cycle.close, "send_back": cycle.send_back}[move]
    return fn(metrics().engine, viewer, task_id, *args)


def open_task(viewer: Viewer, level: str, code: str, kpi: str | None, period: str,
              note: str, due_days: int, origin: str) -> int:
    """A leader opens a task about a figure of a street or community."""
    from metrics.alerts.tasks import open_for_figure

    return open_for_figure(metrics(), viewer, level=level, code=code,
                           period=periods.parse(period), kpi_id=kpi, due_days=due_days,
                           note=note, origin=origin)


def store_attachment(name: str, content: bytes) -> Any:
    from warehouse import cycle

    conf = settings().tasks
    return cycle.store_attachment(conf.attachments, name, content,
                                  max_bytes=int(conf.max_attachment_mb * 1_000_000),
                                  types=conf.attachment_types)


def read_attachment(viewer: Viewer, task_id: int) -> tuple[str, bytes]:
    from warehouse import cycle

    return cycle.read_attachment(metrics().engine, viewer, task_id, settings().tasks.attachments)


def alert_log(viewer: Viewer, limit: int = 200) -> list[dict[str, Any]]:
    """The alert log; staff see the alerts about their own area only."""
    from warehouse import cycle

    prefix = None if viewer.role == "leader" else viewer.prefix
    return cycle.alert_entries(metrics().engine, limit=limit, prefix=prefix)
