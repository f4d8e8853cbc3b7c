"""The governance cycle's tables and states: the 预警 alert log and its deliveries, the 督办
tasks, and the audit actions on tasks. On the app's state (``schema.app_metadata``), with
the rest of :mod:`warehouse.cycle`."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from warehouse.schema import OPERATIONAL, app_metadata

# -- tables ------------------------------------------------------------------------------------

# alert status: pending (to send), held (quiet hours), sent, failed (a destination refused;
# retried), logged (no destination: only the alert log shows it)
PENDING, HELD, SENT, FAILED, LOGGED = "pending", "held", "sent", "failed", "logged"

alert_log = Table(
    "alert_log",
    app_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", String(64), nullable=False),
    Column("rule", String(32), nullable=False),
    Column("severity", String(16), nullable=False),  # red | yellow (红色 / 黄色预警)
    Column("subject_level", String(16), nullable=False),  # district|street|community|source
    Column("subject_code", String(64), nullable=False),  # a division code or a source id
    Column("subject_name", String(128), nullable=False),
    Column("kpi", String(64), nullable=False, default=""),  # "" for source rules
    Column("period", String(32), nullable=False),  # 2026-11; a day for sources; task:N
    Column("value", Float),
    Column("target", Float),
    Column("unit", String(16)),
    Column("title", String(256), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("sent_at", DateTime),
    Column("task_id", Integer),  # the 督办 task the alert opened
    # one alert per rule × area × KPI × period: re-runs find it and send nothing again
    UniqueConstraint("rule_id", "subject_code", "kpi", "period", name="uq_alert_once"),
    Index("ix_alert_log_created", "created_at"),
    info={"kind": OPERATIONAL},
)

alert_deliveries = Table(
    "alert_deliveries",
    app_metadata,
    Column("alert_id", Integer, ForeignKey("alert_log.id"), primary_key=True),
    # SHA-256 of the destination URL: which destination, without keeping its token
    Column("dest_key", String(64), primary_key=True),
    Column("dest", String(256), nullable=False),  # the URL with its secrets masked
    Column("status", String(16), nullable=False),  # pending | held | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_try_at", DateTime),
    Column("sent_at", DateTime),
    Index("ix_alert_deliveries_due", "status", "next_try_at"),
    info={"kind": OPERATIONAL},
)

# task status: open → acknowledged (签收) → answered (反馈) → closed (办结), or returned (退回)
# to the unit, which answers again
OPEN, ACKNOWLEDGED, ANSWERED, RETURNED, CLOSED = (
    "open", "acknowledged", "answered", "returned", "closed")
TASK_STATUSES = (OPEN, ACKNOWLEDGED, ANSWERED, RETURNED, CLOSED)
WITH_UNIT = (OPEN, ACKNOWLEDGED, RETURNED)  # the unit's move: these can be overdue
NOT_CLOSED = (OPEN, ACKNOWLEDGED, ANSWERED, RETURNED)

tasks = Table(
    "tasks",
    app_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("area_code", String(32), nullable=False),
    Column("area_level", String(16), nullable=False),  # street | community
    Column("area_name", String(128), nullable=False),
    Column("title", String(256), nullable=False),
    Column("kpi", String(64)),
    Column("kpi_label", String(128)),
    Column("definition", Text),  # the KPI's definition of record, as it was when opened
    Column("period", String(32)),
    Column("value", Float),
    Column("target", Float),
    Column("unit", String(16)),
    Column("figure_status", String(16)),  # the figure's colour when opened
    Column("note", Text),  # the issuer's request
    Column("origin", String(16), nullable=False),  # card | cell | ranking | alert | cli
    Column("alert_id", Integer),
    Column("status", String(16), nullable=False),
    Column("due_date", Date, nullable=False),  # the last working day to answer
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("acknowledged_by", String(128)),
    Column("acknowledged_at", DateTime),
    Column("answered_by", String(128)),
    Column("answered_at", DateTime),
    Column("answer", Text),
    Column("attachment_name", String(256)),  # as uploaded (shown); never used as a path
    Column("attachment_file", String(128)),  # the stored file's own name
    Column("attachment_size", Integer),
    Column("closed_by", String(128)),
    Column("closed_at", DateTime),
    Column("returned_reason", Text),
    Column("returns", Integer, nullable=False, default=0),
    Index("ix_tasks_area_status", "area_code", "status"),
    Index("ix_tasks_created_by", "created_by"),
    info={"kind": OPERATIONAL},
)

TASK_OPEN, TASK_ACK, TASK_ANSWER, TASK_CLOSE, TASK_RETURN, TASK_ATTACHMENT = (
    "task_open", "task_ack", "task_answer", "task_close", "task_return", "task_attachment")
