"""Areas named together must nest: a community inside the street named with it, a grid inside
the community. ``--street 汉江街道 --community 鹿角门社区`` (a community of 屏襄门街道) is an
error naming both areas, never a silent answer for one of them. The CLI and the dashboard's
URL parameters both check through :func:`misfit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

import polars as pl

from core.errors import ConfigError, Problem
from metrics.compiler import Scope

if TYPE_CHECKING:
    from metrics.service import Metrics

NESTED = ("street", "community", "grid")  # outermost first


@dataclass(frozen=True)
class Misfit:
    """``inner`` does not lie in ``outer``; it lies in ``actual`` (None: in no area of that
    level, e.g. a code whose parent is missing from the division list)."""

    inner: Scope
    outer: Scope
    actual: Scope | None

    def __str__(self) -> str:
        where = (f"is in {self.actual.level} {self.actual.name} ({self.actual.code})"
                 if self.actual else f"is in no {self.outer.level} of the division list")
        return (f"{self.inner.level} {self.inner.name} ({self.inner.code}) {where}, "
                f"not in {self.outer.level} {self.outer.name} ({self.outer.code})")


class AreaMismatch(ConfigError):
    """Areas given together do not nest (exit 2 in the CLI, like other usage errors)."""

    def __init__(self, problem: Misfit):
        self.misfit = problem
        super().__init__([Problem(f"--{problem.inner.level}", str(problem))],
                         header="the areas given do not fit together")


def _scope(divisions: pl.DataFrame, code: str) -> Scope | None:
    row = divisions.filter(pl.col("code") == code)
    if row.is_empty():
        return None
    r = row.row(0, named=True)
    return Scope(r["level"], r["code"], r.get("short_name") or r["name"])


def ancestor(divisions: pl.DataFrame, code: str, level: str) -> str | None:
    """The code of the area of ``level`` that ``code`` lies in (itself when of that level)."""
    parent = dict(zip(divisions["code"], divisions["parent_code"], strict=True))
    levels = dict(zip(divisions["code"], divisions["level"], strict=True))
    seen: set[str] = set()
    current: str | None = code
    while current is not None and current not in seen:
        if levels.get(current) == level:
            return current
        seen.add(current)
        current = parent.get(current)
    return None


def misfit(divisions: pl.DataFrame, chosen: Sequence[Scope]) -> Misfit | None:
    """The first of ``chosen`` (outermost first) that does not lie in the one before it.

    ``divisions`` holds code, name, short_name, level and parent_code of every division."""
    for outer, inner in pairwise(chosen):
        actual = ancestor(divisions, inner.code, outer.level)
        if actual != outer.code:
            return Misfit(inner, outer, _scope(divisions, actual) if actual else None)
    return None


def resolve(m: Metrics, street: str | None = None, community: str | None = None,
            grid: str | None = None) -> Scope | None:
    """The deepest of the areas given (by name or code), checked to nest; None when none is
    given. Raises :class:`AreaMismatch` naming both areas when they do not."""
    refs = {"street": street, "community": community, "grid": grid}
    chosen = [m.scope(level, ref) for level in NESTED if (ref := refs[level])]
    problem = misfit(m.divisions(), chosen)
    if problem is not None:
        raise AreaMismatch(problem)
    return chosen[-1] if chosen else None
