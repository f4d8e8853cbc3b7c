"""The drawn combinations of the differential suite (KPI × scope × period × grouping) and the
comparison of rows against the oracle's, shared by every output path's check.

A mismatch names the seed and the draw, so ``GONGZHI_DIFF_SEED=<seed>`` reproduces it.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
from dataclasses import dataclass
from typing import Any

import polars as pl

from tests.differential import oracle as o
from tests.differential.world import World

SEED = int(os.environ.get("GONGZHI_DIFF_SEED", "20240531"))
# draws per engine; `make test-deep` raises it (and the data) for thousands of combinations
DRAWS = int(os.environ.get("GONGZHI_DIFF_DRAWS", "160"))
SCALE = float(os.environ.get("GONGZHI_DIFF_SCALE", "1"))
# `make test-deep` (GONGZHI_DEEP=1): the samples that CI takes a cross-section of, in full
DEEP = os.environ.get("GONGZHI_DEEP") == "1"
FIELDS = ("value", "numerator", "denominator", "sample", "prev_value", "ly_value",
          "delta_prev", "delta_yoy", "status", "target", "period")
GRAINS = ("day", "week", "month", "quarter", "year")
GROUPS = (None, "month", "street", "community", "grid")
# periods are drawn a little beyond the data on both sides: empty periods must say so
DRAW_FIRST, DRAW_LAST = dt.date(2022, 11, 1), dt.date(2026, 2, 28)


@dataclass(frozen=True)
class Draw:
    n: int
    kpis: tuple[str, ...]
    scope: o.Scope
    period: o.Span
    group: str | None

    def describe(self) -> str:
        return (f"seed {SEED} draw #{self.n}: {','.join(self.kpis)} {self.scope.level}:"
                f"{self.scope.code} {self.period.label} by {self.group}")


def scopes(w: World) -> dict[str, list[o.Scope]]:
    d = w.divisions
    district = d.filter(pl.col("level") == "district")["code"][0]
    streets = sorted({c[:9] + "000" for c in w.communities})
    # one street and one community without any rows: every KPI must say "no data" there
    other_street = next(s for s in d.filter(pl.col("level") == "street")["code"]
                        if s not in streets)
    empty_comm = next(c for c in d.filter(pl.col("level") == "community")["code"]
                      if c not in w.communities and c[:9] + "000" in streets)
    return {"district": [o.Scope("district", district)],
            "street": [o.Scope("street", s) for s in [*streets, other_street]],
            "community": [o.Scope("community", c) for c in [*w.communities, empty_comm]],
            "grid": [o.Scope("grid", g) for g in w.grids]}


def draws(w: World, count: int, seed: int = SEED) -> list[Draw]:
    """``count`` combinations; every KPI, level, grain and grouping comes round in turn so
    that even a small draw covers each of them, the rest is random."""
    r = random.Random(seed)
    by_level = scopes(w)
    kpis = sorted(o.KPIS)
    out = []
    for n in range(count):
        level = ("district", "street", "community", "grid")[n % 4]
        grain = GRAINS[(n // 4) % 5]
        group = GROUPS[r.randrange(5)] if n >= 25 else GROUPS[(n // 5) % 5]
        first = kpis[n % len(kpis)]
        extra = r.sample(kpis, r.choice([0, 0, 1, 2]))
        day = DRAW_FIRST + dt.timedelta(days=r.randint(0, (DRAW_LAST - DRAW_FIRST).days))
        out.append(Draw(n, tuple(dict.fromkeys([first, *extra])),
                        r.choice(by_level[level]), o.span(grain, day), group))
    return out


def close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def compare(expected: dict[Any, dict[str, Any]], got: dict[Any, dict[str, Any]], where: str,
            fields: tuple[str, ...] = FIELDS) -> list[str]:
    """Differences between expected and actual rows (by group key), as readable lines."""
    problems = []
    if set(expected) != set(got):
        problems.append(f"{where}: groups differ: expected {sorted(map(str, expected))} "
                        f"got {sorted(map(str, got))}")
    for key in sorted(set(expected) & set(got), key=str):
        for f in fields:
            if f not in got[key]:
                continue
            if not close(expected[key][f], got[key][f]):
                problems.append(f"{where} [{key}] {f}: expected {expected[key][f]!r}, "
                                f"got {got[key][f]!r}")
    return problems


def frame_rows(frame: pl.DataFrame, kpi: str) -> dict[Any, dict[str, Any]]:
    return {r["key"]: r for r in frame.filter(pl.col("kpi") == kpi).to_dicts()}


def report(problems: list[str], limit: int = 25) -> str:
    head = "\n".join(problems[:limit])
    more = f"\n… and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"{len(problems)} differences:\n{head}{more}"
