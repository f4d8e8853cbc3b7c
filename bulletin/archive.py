"""Generating, archiving and handing out bulletins, with access control and audit.

A bulletin is generated for the district or one street, as .docx or .pdf, into the archive
folder (``[bulletin] archive``/<period>/), listed in ``bulletins`` (warehouse.office) and
audited (``bulletin_generate``); a download is audited too (``bulletin_download``). Leaders
get every version; street staff their own street's only; community staff their own
community's only (a version that names no other community: bulletin.content).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulletin import charts, content
from core.bulletin_settings import BulletinSettings
from metrics.access import AccessDenied, Viewer
from metrics.compiler import Scope
from metrics.periods import Period
from metrics.scoring import Scheme
from metrics.service import Metrics
from warehouse import audit, office

GENERATE, DOWNLOAD = "bulletin_generate", "bulletin_download"
MEDIA = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "pdf": "application/pdf"}


@dataclass
class Generated:
    """One generated bulletin: its archive row id, file and bytes."""

    id: int
    path: Path
    data: bytes
    format: str
    file_name: str


def allowed_scope(m: Metrics, viewer: Viewer, street: Scope | None) -> Scope | None:
    """The area whose bulletin the viewer may have (None: the district's; ``street`` may
    name a street or a community). Raises :class:`AccessDenied` (audited) otherwise."""
    if viewer.role == "leader":
        return street
    own = {"street_staff": "street", "community_staff": "community"}.get(viewer.role)
    if own is not None and (street is None or street.code == viewer.area):
        return m.scope(own, viewer.area)
    wanted = street.code if street else "district"
    audit.record(m.engine, username=viewer.username, role=viewer.role, action=audit.DENIED,
                 target="bulletin", filters={"area": wanted}, row_count=0)
    raise AccessDenied(f"{viewer.username} ({viewer.role}) may not have the bulletin of "
                       f"{wanted}: staff get their own area's version only")


def file_name(period: Period, scope: Scope, fmt: str) -> str:
    safe = re.sub(r"[^\w\u4e00-\u9fff-]+", "_", scope.name)
    return f"{period.label}_{scope.code}_{safe}_通报.{fmt}"


def generate(m: Metrics, scheme: Scheme, period: Period, settings: BulletinSettings,
             viewer: Viewer, *, street: Scope | None = None, fmt: str = "docx",
             trigger: str = "cli", issued: dt.date | None = None) -> Generated:
    """Build, write into the archive, list and audit one bulletin."""
    scope = allowed_scope(m, viewer, street)
    b = content.build(m, scheme, period, settings, street=scope, issued=issued)
    b.charts = charts.charts(b)
    if fmt == "pdf":
        from bulletin.pdf_writer import write_pdf

        data = write_pdf(b)
    else:
        from bulletin.docx_writer import write_docx

        data = write_docx(b)
    folder = settings.archive / period.label
    folder.mkdir(parents=True, exist_ok=True)
    name = file_name(period, b.scope, fmt)
    path = folder / name
    tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a reader never sees half a file
    digest = hashlib.sha256(data).hexdigest()
    bid = office.record_bulletin(m.engine, period=period.label, level=b.scope.level,
                                 code=b.scope.code, format=fmt, path=str(path), sha256=digest,
                                 bytes=len(data), generated_by=viewer.username,
                                 trigger=trigger)
    audit.record(m.engine, username=viewer.username, role=viewer.role, action=GENERATE,
                 target=f"bulletin:{bid}", filters={"period": period.label,
                                                    "area": b.scope.code, "format": fmt,
                                                    "trigger": trigger}, row_count=1)
    return Generated(bid, path, data, fmt, name)


def listing(m: Metrics, viewer: Viewer) -> list[dict[str, Any]]:
    """Archived bulletins the viewer may download, newest first."""
    rows = office.archived(m.engine)
    if viewer.role == "leader":
        return rows
    own = {"street_staff": "street", "community_staff": "community"}.get(viewer.role)
    return [r for r in rows if r["level"] == own and r["code"] == viewer.area]


def download(m: Metrics, viewer: Viewer, bulletin_id: int) -> tuple[str, bytes]:
    """(file name, bytes) of an archived bulletin; checked, verified and audited."""
    row = office.bulletin(m.engine, bulletin_id)
    if row is None:
        raise FileNotFoundError(f"no bulletin {bulletin_id}")
    if not any(r["id"] == bulletin_id for r in listing(m, viewer)):
        audit.record(m.engine, username=viewer.username, role=viewer.role,
                     action=audit.DENIED, target=f"bulletin:{bulletin_id}",
                     filters={"area": row["code"]}, row_count=0)
        raise AccessDenied(f"{viewer.username} ({viewer.role}) may not download bulletin "
                           f"{bulletin_id}")
    data = Path(row["path"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != row["sha256"]:
        raise OSError(f"archived bulletin {row['path']} was changed after it was generated")
    audit.record(m.engine, username=viewer.username, role=viewer.role, action=DOWNLOAD,
                 target=f"bulletin:{bulletin_id}", filters={"period": row["period"],
                                                            "area": row["code"],
                                                            "format": row["format"]},
                 row_count=1)
    return Path(row["path"]).name, data


def scheduled(m: Metrics, scheme: Scheme, settings: BulletinSettings,
              today: dt.date) -> list[Generated]:
    """What the schedule generates: last month's bulletin of the district and, with
    ``streets``, of every street, in every configured format."""
    from metrics.periods import latest_complete

    period = latest_complete("month", today)
    robot = Viewer("scheduler", "leader", m.district().code)
    scopes: list[Scope | None] = [None]
    if settings.streets:
        d = m.divisions()
        for r in d.filter((d["level"] == "street") & d["active"]
                          & ~d["placeholder"].fill_null(False)).iter_rows(named=True):
            scopes.append(Scope("street", r["code"], r["short_name"] or r["name"]))
    return [generate(m, scheme, period, settings, robot, street=s, fmt=f, trigger="schedule",
                     issued=today) for s in scopes for f in settings.formats]
