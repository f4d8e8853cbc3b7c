"""The act part of the governance cycle: the 预警 alert log and 督办 tasks.

Kept with the app's state (``schema.app_metadata``: on SQLite the ``-app.db`` beside the
warehouse), because people write them from the dashboard while an ingestion run may hold the
warehouse's write lock for minutes; new tables, created by ``create_all``, no migration.

Who may see and do what is decided here, in the data layer every page and command goes
through: a leader sees every task; staff see and act only on tasks of their own area (their
street and its communities, or their community); only a leader opens, closes or sends back a
task. Every change writes an audit record in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)

from core import divisions
from core.errors import GongzhiError
from core.timezone import LOCAL
from warehouse.cycle_tables import (
    ACKNOWLEDGED,
    ANSWERED,
    CLOSED,
    FAILED,
    HELD,
    LOGGED,  # noqa: F401  (re-exported, as are the other tables and states)
    NOT_CLOSED,
    OPEN,
    PENDING,
    RETURNED,
    SENT,  # noqa: F401
    TASK_ACK,
    TASK_ANSWER,
    TASK_ATTACHMENT,
    TASK_CLOSE,
    TASK_OPEN,
    TASK_RETURN,
    TASK_STATUSES,  # noqa: F401
    WITH_UNIT,
    alert_deliveries,
    alert_log,
    tasks,
)
from warehouse.engine import app_engine, utcnow, write_transaction
from warehouse.schema import audit_log

# -- who acts ----------------------------------------------------------------------------------

class Actor(Protocol):
    """Who reads or changes tasks (``metrics.access.Viewer`` is one)."""

    @property
    def username(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def prefix(self) -> str: ...


class TaskError(GongzhiError):
    """A task cannot be changed this way (wrong state, bad input)."""

    phase = "tasks"


class TaskDenied(TaskError):
    """The actor may not see or change this task (another area's, or not a leader's move)."""

    phase = "access"


def _is_leader(actor: Actor) -> bool:
    return actor.role == "leader"


def _visible(actor: Actor) -> Any:
    """The tasks ``actor`` may see: a leader all, staff those inside their own area."""
    if _is_leader(actor):
        return tasks.c.id.is_not(None)
    prefix = actor.prefix
    if not prefix or not re.fullmatch(r"[0-9]+", prefix):  # never a LIKE pattern from outside
        return tasks.c.id.is_(None)
    return tasks.c.area_code.startswith(prefix)


def _audit(conn: Connection, actor: Actor, action: str, task_id: int,
           details: dict[str, Any]) -> None:
    conn.execute(insert(audit_log).values(
        at=utcnow(), username=actor.username[:128], role=actor.role, action=action,
        target=f"task:{task_id}", row_count=1,
        filters=json.dumps(details, ensure_ascii=False, sort_keys=True, default=str)))


# -- opening and moving tasks ------------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    """The figure a task is about: KPI, its definition, the period and the numbers."""

    kpi: str | None = None
    kpi_label: str | None = None
    definition: str | None = None
    period: str | None = None
    value: float | None = None
    target: float | None = None
    unit: str | None = None
    status: str | None = None


def open_task(engine: Engine, actor: Actor, *, area_code: str, area_level: str, area_name: str,
              title: str, due_date: dt.date, figure: Figure = Figure(), note: str = "",
              origin: str = "cli", alert_id: int | None = None) -> int:
    """Open a task for a street or community (leaders only; audited). Returns its id."""
    if not _is_leader(actor):
        raise TaskDenied(f"{actor.username} ({actor.role}) may not open tasks: leaders only")
    if area_level not in ("street", "community"):
        raise TaskError(f"a task goes to a street or a community, not a {area_level}")
    if not title.strip():
        raise TaskError("a task needs a title")
    now = utcnow()
    with write_transaction(app_engine(engine)) as conn:
        task_id = int(conn.execute(insert(tasks).values(  # type: ignore[index]
            area_code=area_code, area_level=area_level, area_name=area_name,
            title=title.strip()[:256], kpi=figure.kpi, kpi_label=figure.kpi_label,
            definition=figure.definition, period=figure.period, value=figure.value,
            target=figure.target, unit=figure.unit, figure_status=figure.status,
            note=note.strip(), origin=origin, alert_id=alert_id, status=OPEN,
            due_date=due_date, created_by=actor.username, created_at=now, updated_at=now,
            returns=0)).inserted_primary_key[0])
        _audit(conn, actor, TASK_OPEN, task_id, {"area": area_code, "kpi": figure.kpi,
                                                 "period": figure.period, "due": due_date,
                                                 "origin": origin})
    return task_id


def _load(conn: Connection, actor: Actor, task_id: int) -> dict[str, Any]:
    row = conn.execute(select(tasks).where(tasks.c.id == task_id, _visible(actor))
                       ).mappings().first()
    if row is None:  # another area's task and a missing one look the same to staff
        raise TaskDenied(f"no task {task_id} in the area of {actor.username}")
    return dict(row)


def _move(engine: Engine, actor: Actor, task_id: int, action: str, allowed: Sequence[str],
          values: dict[str, Any], details: dict[str, Any], *, leader_only: bool = False
          ) -> dict[str, Any]:
    with write_transaction(app_engine(engine)) as conn:
        row = _load(conn, actor, task_id)
        if leader_only and not _is_leader(actor):
            raise TaskDenied(f"{actor.username} ({actor.role}) may not {action.split('_')[1]} "
                             "tasks: the issuing leader does")
        if row["status"] not in allowed:
            raise TaskError(f"task {task_id} is {row['status']}; cannot {action[5:]} it "
                            f"(only when {' or '.join(allowed)})")
        values = {**values, "updated_at": utcnow()}
        res = conn.execute(update(tasks).where(tasks.c.id == task_id,
                                               tasks.c.status == row["status"]).values(**values))
        if res.rowcount != 1:  # someone moved it meanwhile
            raise TaskError(f"task {task_id} changed meanwhile; look again")
        _audit(conn, actor, action, task_id, {"from": row["status"], **details})
        row.update(values)
    return row


def acknowledge(engine: Engine, actor: Actor, task_id: int) -> dict[str, Any]:
    """签收: the unit has seen the task."""
    return _move(engine, actor, task_id, TASK_ACK, (OPEN, RETURNED),
                 {"status": ACKNOWLEDGED, "acknowledged_by": actor.username,
                  "acknowledged_at": utcnow()}, {})


def answer(engine: Engine, actor: Actor, task_id: int, note: str,
           attachment: StoredFile | None = None) -> dict[str, Any]:
    """反馈: the unit says what it did (a rectification note, optionally with a file)."""
    if not note.strip():
        raise TaskError("an answer needs a rectification note")
    values: dict[str, Any] = {"status": ANSWERED, "answered_by": actor.username,
                              "answered_at": utcnow(), "answer": note.strip()}
    details: dict[str, Any] = {"chars": len(note.strip())}
    if attachment is not None:
        values.update(attachment_name=attachment.name, attachment_file=attachment.file,
                      attachment_size=attachment.size)
        details.update(attachment=attachment.name, size=attachment.size)
    return _move(engine, actor, task_id, TASK_ANSWER, (OPEN, ACKNOWLEDGED, RETURNED), values,
                 details)


def close(engine: Engine, actor: Actor, task_id: int) -> dict[str, Any]:
    """办结: the issuer accepts the answer."""
    return _move(engine, actor, task_id, TASK_CLOSE, (ANSWERED,),
                 {"status": CLOSED, "closed_by": actor.username, "closed_at": utcnow()}, {},
                 leader_only=True)


def send_back(engine: Engine, actor: Actor, task_id: int, reason: str) -> dict[str, Any]:
    """退回: the answer is not enough; the unit answers again."""
    if not reason.strip():
        raise TaskError("sending a task back needs a reason")
    return _move(engine, actor, task_id, TASK_RETURN, (ANSWERED,),
                 {"status": RETURNED, "returned_reason": reason.strip(),
                  "returns": tasks.c.returns + 1}, {"reason": reason.strip()},
                 leader_only=True)


# -- reading -------------------------------------------------------------------------------------

def is_overdue(row: dict[str, Any], today: dt.date) -> bool:
    """Overdue: the unit has not answered and the due date has passed."""
    return row["status"] in WITH_UNIT and row["due_date"] is not None \
        and _as_date(row["due_date"]) < today


def _as_date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v)[:10])


def list_tasks(engine: Engine, actor: Actor, *, mine: str = "all",
               statuses: Sequence[str] | None = None, area_prefix: str | None = None,
               today: dt.date | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """The tasks ``actor`` may see, newest first, each with ``overdue``.

    ``mine``: ``all``; ``assigned`` (我的任务: tasks of the actor's area); ``issued``
    (我发起的: tasks the actor opened). ``area_prefix`` narrows further (a URL's street)."""
    c = tasks.c
    stmt = select(tasks).where(_visible(actor))
    if mine == "issued":
        stmt = stmt.where(c.created_by == actor.username)
    if statuses:
        stmt = stmt.where(c.status.in_(list(statuses)))
    if area_prefix:
        if not re.fullmatch(r"[0-9]+", area_prefix):
            return []
        stmt = stmt.where(c.area_code.startswith(area_prefix))
    stmt = stmt.order_by(c.id.desc()).limit(limit)
    day = today or _local_today()
    with app_engine(engine).connect() as conn:
        rows = [dict(r) for r in conn.execute(stmt).mappings()]
    for r in rows:
        r["due_date"] = _as_date(r["due_date"])
        r["overdue"] = is_overdue(r, day)
    return rows


def get_task(engine: Engine, actor: Actor, task_id: int) -> dict[str, Any]:
    """One task (:class:`TaskDenied` when it is not in the actor's area)."""
    with app_engine(engine).connect() as conn:
        row = _load(conn, actor, task_id)
    row["due_date"] = _as_date(row["due_date"])
    row["overdue"] = is_overdue(row, _local_today())
    return row


def open_tasks_of_area(engine: Engine, area_code: str, *, today: dt.date | None = None
                       ) -> list[dict[str, Any]]:
    """The tasks of an area (a street: with its communities') not yet closed, oldest first,
    each with ``overdue``: what the monthly bulletin lists. The caller decides who may read
    it (the bulletin of a street goes to that street)."""
    prefix = _prefix(area_code)
    c = tasks.c
    stmt = (select(tasks).where(c.status.in_(NOT_CLOSED), c.area_code.startswith(prefix))
            .order_by(c.due_date, c.id))
    day = today or _local_today()
    with app_engine(engine).connect() as conn:
        rows = [dict(r) for r in conn.execute(stmt).mappings()]
    for r in rows:
        r["due_date"] = _as_date(r["due_date"])
        r["overdue"] = is_overdue(r, day)
    return rows


def open_counts(engine: Engine, actor: Actor, today: dt.date | None = None) -> dict[str, int]:
    """Counts for the overview: open (not closed), overdue, waiting for the leader."""
    c = tasks.c
    day = today or _local_today()
    stmt = select(
        func.count().filter(c.status.in_(NOT_CLOSED)),
        func.count().filter(and_(c.status.in_(WITH_UNIT), c.due_date < day)),
        func.count().filter(c.status == ANSWERED),
    ).where(_visible(actor))
    with app_engine(engine).connect() as conn:
        n_open, n_overdue, n_answered = conn.execute(stmt).one()
    return {"open": int(n_open or 0), "overdue": int(n_overdue or 0),
            "answered": int(n_answered or 0)}


def overdue_tasks(engine: Engine, today: dt.date) -> list[dict[str, Any]]:
    """Every task the unit has not answered by its due date (for the task_overdue alert)."""
    c = tasks.c
    stmt = select(tasks).where(c.status.in_(WITH_UNIT), c.due_date < today).order_by(c.id)
    with app_engine(engine).connect() as conn:
        rows = [dict(r) for r in conn.execute(stmt).mappings()]
    for r in rows:
        r["due_date"] = _as_date(r["due_date"])
    return rows


def _prefix(code: str) -> str:
    """The code prefix shared by an area and everything inside it."""
    code = code.strip()
    if not re.fullmatch(r"[0-9]{12}", code):
        raise TaskError(f"not a 12-digit division code: {code!r}")
    level = ("district" if code.endswith("000000") else "street" if code.endswith("000")
             else "community")
    return divisions.prefix(code, level)


def _local_today() -> dt.date:
    return dt.datetime.now(LOCAL).date()


# -- attachments ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredFile:
    """An attachment saved under the attachments folder."""

    name: str  # the uploaded name, cleaned (shown, never used as a path)
    file: str  # the stored file's own name: <uuid>.<ext>
    size: int


def store_attachment(folder: Path, name: str, content: bytes, *, max_bytes: int,
                     types: Sequence[str]) -> StoredFile:
    """Save an uploaded file safely: size and type checked, stored under a random name of
    its own (the uploaded name never becomes a path), readable by the owner only."""
    clean = re.sub(r"[\x00-\x1f/\\:*?\"<>|]", "_", Path(name.replace("\\", "/")).name).strip()
    clean = clean.lstrip(".") or "attachment"
    ext = clean.rsplit(".", 1)[-1].lower() if "." in clean else ""
    if ext not in types:
        raise TaskError(f"attachment type '.{ext}' is not accepted (accepted: "
                        f"{', '.join(types)})")
    if len(content) > max_bytes:
        raise TaskError(f"attachment is {len(content) / 1e6:.1f} MB; the limit is "
                        f"{max_bytes / 1e6:.1f} MB")
    if not content:
        raise TaskError("attachment is empty")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stored = f"{uuid.uuid4().hex}.{ext}"
    path = folder / stored
    with open(path, "xb") as f:  # never overwrites
        f.write(content)
    path.chmod(0o600)
    return StoredFile(clean[:256], stored, len(content))


def read_attachment(engine: Engine, actor: Actor, task_id: int, folder: Path
                    ) -> tuple[str, bytes]:
    """The attachment of a task the actor may see (audited): (name, content)."""
    row = get_task(engine, actor, task_id)
    if not row["attachment_file"]:
        raise TaskError(f"task {task_id} has no attachment")
    stored = str(row["attachment_file"])
    if not re.fullmatch(r"[0-9a-f]{32}\.[a-z0-9]{1,8}", stored):
        raise TaskError(f"task {task_id}: attachment name is not one Gongzhi stored")
    content = (folder / stored).read_bytes()
    with write_transaction(app_engine(engine)) as conn:
        _audit(conn, actor, TASK_ATTACHMENT, task_id, {"attachment": row["attachment_name"]})
    return str(row["attachment_name"]), content


# -- the alert log -------------------------------------------------------------------------------

def alert_entries(engine: Engine, *, limit: int = 200, prefix: str | None = None,
                  since: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The alert log, newest first, with the destinations' states (masked) per alert.

    ``prefix``: only alerts about areas inside it (staff); source alerts are the
    district's."""
    a = alert_log.c
    stmt = select(alert_log)
    if prefix is not None:
        if not re.fullmatch(r"[0-9]+", prefix):
            return []
        stmt = stmt.where(a.subject_code.startswith(prefix),
                          a.subject_level.in_(("district", "street", "community")))
    if since is not None:
        stmt = stmt.where(a.created_at >= since)
    stmt = stmt.order_by(a.id.desc()).limit(limit)
    with app_engine(engine).connect() as conn:
        rows = [dict(r) for r in conn.execute(stmt).mappings()]
        ids = [r["id"] for r in rows]
        dests: dict[int, list[dict[str, Any]]] = {}
        if ids:
            d = alert_deliveries.c
            for dr in conn.execute(select(alert_deliveries).where(d.alert_id.in_(ids))
                                  .order_by(d.alert_id, d.dest)).mappings():
                dests.setdefault(dr["alert_id"], []).append(dict(dr))
    for r in rows:
        r["deliveries"] = dests.get(r["id"], [])
    return rows


def due_deliveries(conn: Connection, now: dt.datetime) -> list[dict[str, Any]]:
    """Deliveries to try now: pending, held, or failed with their retry time reached."""
    d = alert_deliveries.c
    stmt = (select(alert_deliveries, alert_log.c.rule_id).join(
        alert_log, alert_log.c.id == d.alert_id)
        .where(or_(d.status.in_((PENDING, HELD)),
                   and_(d.status == FAILED, d.next_try_at <= now)))
        .order_by(d.alert_id))
    return [dict(r) for r in conn.execute(stmt).mappings()]
