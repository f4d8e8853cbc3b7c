"""综合考评: composite scores, ranks, colours and the 红黑榜 of streets or communities.

The KPI values come from :class:`metrics.service.Metrics` in one grouped computation per
period (all areas of the level at once; the current and the previous period kept apart), so a
ranking of every community costs the same few aggregate queries as one KPI table. Scores:

- each KPI of the level's scheme gets 0-100 points by its rule (:mod:`metrics.scoring`):
  ``target``: attainment of the area's target capped at 100 (value / target, or target /
  value when lower is better); ``minmax``: the area's place between the worst and the best
  peer (all peers equal: 100 each);
- a KPI without a value, with a sample below its minimum or without a target gives no points
  and its weight is shared among the area's other KPIs (``redistributed``);
- score = Σ points × weight / Σ weight of the KPIs that gave points, rounded to 0.01; equal
  scores share a rank (1, 2, 2, 4); rank change = last period's rank − this period's (up > 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from core import divisions
from metrics.access import Viewer
from metrics.periods import Period
from metrics.scoring import LevelScheme, Part, Scheme
from metrics.service import Metrics

BLUE, YELLOW, RED = "blue", "yellow", "red"
TOP, BOTTOM = "top", "bottom"  # 红榜, 黑榜


@dataclass
class ScorePart:
    """One KPI's contribution to an area's score."""

    kpi: str
    label: str
    value: float | None
    target: float | None
    sample: int
    points: float | None  # None: the KPI gave no points (see ``note``)
    weight: float
    note: str | None = None  # no_value | small_sample | no_target


@dataclass
class RankRow:
    """One area in the ranking."""

    code: str
    name: str
    parent_code: str | None
    score: float | None
    rank: int | None
    status: str | None
    prev_rank: int | None
    rank_change: int | None
    board: str | None  # top (红榜) | bottom (黑榜) | None
    redistributed: bool
    parts: list[ScorePart] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The shape of DESIGN §7 (``rank``, ``code``, ``name``, ``score``, ``status``,
        ``rank_change``, ``parts``) plus the list (``board``) and the weight note."""
        return {"rank": self.rank, "code": self.code, "name": self.name, "score": self.score,
                "status": self.status, "rank_change": self.rank_change,
                "prev_rank": self.prev_rank, "board": self.board,
                "redistributed": self.redistributed,
                "parts": [{"kpi": p.kpi, "value": p.value, "points": p.points,
                           "weight": p.weight, "target": p.target, "sample": p.sample,
                           "note": p.note} for p in self.parts]}


@dataclass
class Ranking:
    """The ranking of one level for one period under one scheme."""

    scheme: Scheme
    level: str
    period: Period
    rows: list[RankRow]

    def within(self, level: str, code: str) -> Ranking:
        """Only the areas inside ``code`` of ``level`` (a street's communities, or one area),
        keeping the district's ranks."""
        inside = divisions.prefix(code, level)
        return Ranking(self.scheme, self.level, self.period,
                       [r for r in self.rows if r.code.startswith(inside)])


def points(rule: str, value: float, target: float | None, direction: str,
           lo: float | None, hi: float | None) -> float | None:
    """0-100 points of one value under ``rule`` (None when a target rule has no target)."""
    if rule == "target":
        if target is None:
            return None
        if direction == "higher":
            p = 100.0 if value >= target or target <= 0 else 100.0 * value / target
        else:
            p = 100.0 if value <= target else (100.0 * target / value if value > 0 else 100.0)
        return max(0.0, min(100.0, p))
    assert lo is not None and hi is not None
    if hi - lo <= 1e-12:
        return 100.0
    frac = (value - lo) / (hi - lo) if direction == "higher" else (hi - value) / (hi - lo)
    return max(0.0, min(100.0, 100.0 * frac))


def colour(score: float | None, ls: LevelScheme) -> str | None:
    if score is None:
        return None
    return BLUE if score >= ls.blue else YELLOW if score >= ls.yellow else RED


def compute_ranking(m: Metrics, scheme: Scheme, level: str, period: Period,
                    viewer: Viewer | None = None) -> Ranking:
    """Every active area of ``level`` in the district, scored, ranked and put on the lists.

    The ranking is the district's (peers are all areas of the level); a staff viewer gets
    their own area's rows only (:meth:`Ranking.within`)."""
    ls = scheme.level(level)
    areas = _areas(m, level)
    cur = _score_period(m, ls, level, period, areas)
    prev = _score_period(m, ls, level, period.previous(), areas)
    prev_rank = {r.code: r.rank for r in prev}
    for r in cur:
        r.prev_rank = prev_rank.get(r.code)
        if r.rank is not None and r.prev_rank is not None:
            r.rank_change = r.prev_rank - r.rank
    _boards(cur, ls)
    cur.sort(key=lambda r: (r.rank is None, r.rank or 0, r.code))
    ranking = Ranking(scheme, level, period, cur)
    if viewer is not None and viewer.level != "district":
        return ranking.within(viewer.level, viewer.area)
    return ranking


def _areas(m: Metrics, level: str) -> pl.DataFrame:
    d = m.divisions()
    return d.filter((pl.col("level") == level) & pl.col("active")
                    & ~pl.col("placeholder").fill_null(False))


def _score_period(m: Metrics, ls: LevelScheme, level: str, period: Period,
                  areas: pl.DataFrame) -> list[RankRow]:
    ids = [p.kpi for p in ls.parts]
    # one grouped computation: every KPI for every area of the level, this period only
    frame = m.compute(ids, m.district(), period, level, compare=False)  # type: ignore[arg-type]
    found: dict[tuple[str, str], dict[str, Any]] = {
        (r["kpi"], r["key"]): r for r in frame.to_dicts() if r["key"] is not None}
    labels = {p.kpi: m.catalog.get(p.kpi).label.zh for p in ls.parts}
    directions = {p.kpi: m.catalog.get(p.kpi).direction for p in ls.parts}

    def usable(part: Part, code: str) -> dict[str, Any] | None:
        r = found.get((part.kpi, code))
        if r is None or r["value"] is None or (r["sample"] or 0) < part.min_sample:
            return None
        return r

    bounds: dict[str, tuple[float | None, float | None]] = {}
    for part in ls.parts:
        vals = [float(u["value"]) for c in areas["code"]
                if (u := usable(part, c)) is not None]
        bounds[part.kpi] = (min(vals), max(vals)) if vals else (None, None)

    rows: list[RankRow] = []
    for a in areas.iter_rows(named=True):
        parts: list[ScorePart] = []
        for part in ls.parts:
            hit = found.get((part.kpi, a["code"]))
            value = None if hit is None or hit["value"] is None else float(hit["value"])
            target = None if hit is None or hit["target"] is None else float(hit["target"])
            sample = int(hit["sample"] or 0) if hit is not None else 0
            note: str | None = None
            pts: float | None = None
            if value is None:
                note = "no_value"
            elif sample < part.min_sample:
                note = "small_sample"
            else:
                lo, hi = bounds[part.kpi]
                pts = points(part.rule, value, target, directions[part.kpi], lo, hi)
                if pts is None:
                    note = "no_target"
            parts.append(ScorePart(part.kpi, labels[part.kpi], value, target, sample,
                                   None if pts is None else round(pts, 2), part.weight, note))
        scored = [p for p in parts if p.points is not None]
        w = sum(p.weight for p in scored)
        score = round(sum((p.points or 0) * p.weight for p in scored) / w, 2) if w else None
        rows.append(RankRow(code=a["code"], name=a["short_name"] or a["name"],
                            parent_code=a["parent_code"], score=score, rank=None,
                            status=colour(score, ls), prev_rank=None, rank_change=None,
                            board=None, redistributed=bool(scored) and len(scored) < len(parts),
                            parts=parts))
    assign_ranks(rows)
    return rows


def assign_ranks(rows: list[RankRow]) -> None:
    """Competition ranks by score, best first: equal scores share a rank (1, 2, 2, 4)."""
    scores = sorted((r.score for r in rows if r.score is not None), reverse=True)
    for r in rows:
        if r.score is not None:
            r.rank = 1 + sum(1 for s in scores if s > r.score)


def _boards(rows: list[RankRow], ls: LevelScheme) -> None:
    """红榜: rank ≤ top; 黑榜: fewer than ``bottom`` areas score strictly lower (ties in)."""
    scored = [r for r in rows if r.score is not None]
    for r in scored:
        below = sum(1 for o in scored if o.score is not None and r.score is not None
                    and o.score < r.score)
        if r.rank is not None and r.rank <= ls.top:
            r.board = TOP
        elif below < ls.bottom:
            r.board = BOTTOM
