"""Targets per area: a leader sets a KPI's target and warning threshold for one street or
community and year. The YAML target stays the district default; an area target wins for its
area and year (also for a count, whose district target is not shown below the district).

Every change is a new version (:mod:`warehouse.office`) and an audit record; only leaders
may change targets. Values are checked against the KPI: a ratio is a fraction (``90%`` is
read as 0.9), the warning lies on the lagging side of the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError, Problem
from metrics.access import AccessDenied, Viewer
from metrics.model import Kpi
from metrics.service import Metrics
from warehouse import audit, office

LEVELS = ("street", "community")
SET, CLEAR = "target_set", "target_clear"


@dataclass(frozen=True)
class TargetChange:
    """What a leader asks for: a target (or a clearing) of one KPI, area and year."""

    kpi: str
    level: str
    code: str
    year: int
    target: float | None  # None: clear (back to the district default)
    warning: float | None = None
    note: str | None = None


def parse_value(text: str | float | None, kpi: Kpi) -> float | None:
    """``"90%"`` → 0.9 for a ratio; numbers as they are; '' or None → None."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, int | float):
        return float(text)
    s = text.strip().replace(",", "")
    try:
        if s.endswith("%"):
            if kpi.unit != "ratio":
                raise ConfigError([Problem("--target", f"{kpi.id} is not a ratio: give a "
                                                       "number without %")])
            return float(s[:-1]) / 100
        return float(s)
    except ValueError:
        raise ConfigError([Problem("--target", f"not a number: {text!r}")]) from None


def check(m: Metrics, change: TargetChange) -> list[Problem]:
    """Every problem of ``change`` at once (empty: it may be written)."""
    problems: list[Problem] = []
    kpi = m.catalog.kpis.get(change.kpi)
    if kpi is None:
        problems.append(Problem("--kpi", f"unknown KPI '{change.kpi}'"))
    elif change.level not in kpi.scopes:
        problems.append(Problem("--kpi", f"{kpi.id} is not computed for a {change.level}"))
    if change.level not in LEVELS:
        problems.append(Problem("level", f"targets are set per street or community, not "
                                         f"{change.level}"))
    d = m.divisions()
    if d.filter((d["code"] == change.code) & (d["level"] == change.level)).is_empty():
        problems.append(Problem("area", f"no {change.level} with code {change.code}"))
    if not 2000 <= change.year <= 2100:
        problems.append(Problem("--year", f"not a plausible year: {change.year}"))
    t, w = change.target, change.warning
    if t is None and w is not None:
        problems.append(Problem("--warning", "a warning threshold needs a target"))
    if kpi is not None and t is not None:
        if kpi.unit == "ratio" and not 0 <= t <= 1:
            problems.append(Problem("--target", f"{kpi.id} is a ratio: the target must lie "
                                                f"in 0-1 (or 0%-100%), not {t:g}"))
        if t < 0:
            problems.append(Problem("--target", "a target cannot be negative"))
        if w is not None:
            if kpi.direction == "higher" and w > t:
                problems.append(Problem("--warning", f"{kpi.id}: higher is better, so the "
                                                     f"warning ({w:g}) must not exceed the "
                                                     f"target ({t:g})"))
            if kpi.direction == "lower" and w < t:
                problems.append(Problem("--warning", f"{kpi.id}: lower is better, so the "
                                                     f"warning ({w:g}) must not be below the "
                                                     f"target ({t:g})"))
    return problems


def apply(m: Metrics, viewer: Viewer, change: TargetChange) -> int:
    """Write ``change`` as the next version and audit it; returns the version. Leaders only
    (:class:`AccessDenied`, audited); problems raise :class:`ConfigError`, all at once."""
    action = CLEAR if change.target is None else SET
    filters: dict[str, Any] = {"kpi": change.kpi, "level": change.level, "code": change.code,
                               "year": change.year, "target": change.target,
                               "warning": change.warning}
    if viewer.role != "leader":
        audit.record(m.engine, username=viewer.username, role=viewer.role,
                     action=audit.DENIED, target=action, filters=filters, row_count=0)
        raise AccessDenied(f"{viewer.username} ({viewer.role}) may not change targets: "
                           "leaders only")
    problems = check(m, change)
    if problems:
        raise ConfigError(problems, header="the target cannot be set")
    version = office.write_target(m.engine, kpi=change.kpi, level=change.level,
                                  code=change.code, year=change.year, target=change.target,
                                  warning=change.warning, by=viewer.username, note=change.note)
    audit.record(m.engine, username=viewer.username, role=viewer.role, action=action,
                 target=f"area_targets:{change.kpi}:{change.code}:{change.year}",
                 filters=filters | {"version": version}, row_count=1)
    return version


def listing(m: Metrics, viewer: Viewer | None, year: int | None = None,
            history: bool = False) -> list[dict[str, Any]]:
    """Targets in force (or every version with ``history``) the viewer may see, with the
    KPI's label and the area's name."""
    d = m.divisions()
    names = dict(zip(d["code"], d["short_name"].fill_null(d["name"]), strict=True))
    if history:
        rows = office.history(m.engine, year=year)
    else:
        rows = [{"kpi": t.kpi, "level": t.level, "code": t.code, "year": t.year,
                 "target": t.target, "warning": t.warning, "version": t.version,
                 "set_by": t.set_by, "set_at": t.set_at, "cleared": False}
                for t in office.current(m.engine).values() if year is None or t.year == year]
    out = []
    for r in rows:
        if viewer is not None and not viewer.can_see(r["level"], r["code"]):
            continue
        kpi = m.catalog.kpis.get(r["kpi"])
        out.append({"kpi": r["kpi"], "label": kpi.label.zh if kpi else r["kpi"],
                    "level": r["level"], "code": r["code"], "name": names.get(r["code"]),
                    "year": r["year"], "target": r["target"], "warning": r["warning"],
                    "version": r["version"], "cleared": bool(r["cleared"]),
                    "set_by": r["set_by"], "set_at": r["set_at"],
                    "unit": kpi.unit if kpi else None,
                    "default": kpi.target if kpi else None})
    return sorted(out, key=lambda r: (r["year"], r["kpi"], r["code"], r["version"]))
