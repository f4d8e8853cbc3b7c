"""What a bulletin says, computed from the KPI definitions of record (no layout here).

One :class:`Bulletin` per period and area (the district's, one street's, or one
community's version): the headline figures against target with the change on last period, the
composite ranking (红榜 / 黑榜), the three-colour table of communities, each red item with its
definition and the areas responsible, the open 督办 tasks, and a summary paragraph written from
those figures. A community's version names no other community: its ranking table and board
hold its own row only, its place among its street's communities is stated in words. The
Word and PDF writers lay out the same object, so both hold the same numbers as
``gongzhi kpi --format json``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Engine

from core.bulletin_settings import BulletinSettings
from core.divisions import code_at
from core.divisions import prefix as division_prefix
from metrics import format as fmt
from metrics.compiler import Scope
from metrics.periods import Period
from metrics.ranking import Ranking, compute_ranking
from metrics.scoring import Scheme
from metrics.service import Metrics
from metrics.views import headline_ids

STATUS_WORD = {"blue": "● 蓝", "yellow": "▲ 黄", "red": "■ 红", None: "—"}  # print-safe
CN_DIGITS = "〇一二三四五六七八九"


@dataclass
class Figure:
    """One KPI of the area: the numbers and how they are shown."""

    kpi: str
    label: str
    unit: str
    value: float | None
    target: float | None
    status: str | None
    delta_prev: float | None
    prev_value: float | None
    definition: str
    direction: str = "higher"

    @property
    def shown(self) -> str:
        return fmt.value(self.value, self.unit)

    @property
    def shown_target(self) -> str:
        return fmt.value(self.target, self.unit) if self.target is not None else "—"

    @property
    def shown_delta(self) -> str:
        return fmt.delta(self.delta_prev, self.unit)


@dataclass
class RedItem:
    """A figure that lags its target, and the areas one level down where it is red too."""

    figure: Figure
    areas: list[str]


@dataclass
class Bulletin:
    """Everything one bulletin shows."""

    period: Period
    scope: Scope
    settings: BulletinSettings
    issued: dt.date
    figures: list[Figure]
    ranking: Ranking
    board_kpis: list[tuple[str, str, str]]  # (kpi, label, unit)
    board: list[dict[str, Any]]  # community, street, then per KPI: (value, status)
    red_items: list[RedItem]
    tasks: list[dict[str, Any]]
    summary: str
    #: the area's own place when the ranking is of its peers: (rank, previous rank, score)
    street_place: tuple[int | None, int | None, float | None] | None = None
    #: a community's version: how many communities of its street are ranked (its peers)
    peers: int | None = None
    charts: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def title(self) -> str:
        p = self.period
        return self.settings.title.format(year=p.start.year, month=p.start.month,
                                          period=p.label)

    @property
    def period_text(self) -> str:
        """2025年5月 (or the period's label for other grains)."""
        p = self.period
        return f"{p.start.year}年{p.start.month}月" if p.grain == "month" else p.label

    @property
    def number(self) -> str:
        return self.settings.number.format(year=self.issued.year)

    @property
    def issued_text(self) -> str:
        return chinese_date(self.issued)


def chinese_date(d: dt.date) -> str:
    """二〇二六年十二月一日 (the 落款 date of an official document)."""
    def num(n: int) -> str:
        if n < 10:
            return CN_DIGITS[n]
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")
    year = "".join(CN_DIGITS[int(c)] for c in str(d.year))
    return f"{year}年{num(d.month)}月{num(d.day)}日"


def definition(description: str) -> str:
    """The Chinese sentence of a KPI's description (its definition of record)."""
    text = " ".join(description.split())
    m = re.match(r"(.+?[。])", text)
    return m.group(1) if m else text


def open_supervision_tasks(engine: Engine, scope: Scope, period: Period) -> list[dict[str, Any]]:
    """Open 督办 tasks of ``scope`` (a street: with its communities') to list in the bulletin,
    oldest due first: each a dict with ``title``, ``unit`` (the responsible area), ``due``
    (date) and ``overdue``. The tasks are the data layer's (warehouse.cycle); the bulletin of a
    street goes to that street only, so its tasks may be listed in it."""
    from warehouse import cycle

    return [{"title": t["title"], "unit": t["area_name"], "due": t["due_date"],
             "overdue": bool(t["overdue"])}
            for t in cycle.open_tasks_of_area(engine, scope.code)]


def build(m: Metrics, scheme: Scheme, period: Period, settings: BulletinSettings,
          street: Scope | None = None, issued: dt.date | None = None) -> Bulletin:
    """The bulletin of the district (or of ``street``: a street or a community) for
    ``period``."""
    scope = street or m.district()
    ids = _figure_ids(m, scheme, scope.level)
    frame = m.compute(ids, scope, period)
    figures = [_figure(m, r) for r in frame.to_dicts()]
    streets = compute_ranking(m, scheme, "street", period)
    board_ids = [p.kpi for p in scheme.level("community").parts]
    board_kpis = [(k, m.catalog.get(k).label.zh, str(m.catalog.get(k).unit)) for k in board_ids]
    board = _board(m, board_ids, scope, period)
    child = {"district": "street", "street": "community"}.get(scope.level)
    red = _red_items(m, figures, scope, period, child)
    peers = None
    if scope.level == "district":
        ranking, place = streets, None
    elif scope.level == "community":
        # its rank among the district's communities (the ranks a street's version shows);
        # the table holds its own row only
        among = compute_ranking(m, scheme, "community", period)
        ranking = among.within("community", scope.code)
        own = next(iter(ranking.rows), None)
        place = (own.rank, own.prev_rank, own.score) if own else None
        peers = sum(1 for r in among.rows if r.rank is not None)
    else:
        ranking = compute_ranking(m, scheme, "community", period).within("street", scope.code)
        own = next((r for r in streets.rows if r.code == scope.code), None)
        place = (own.rank, own.prev_rank, own.score) if own else None
    b = Bulletin(period=period, scope=scope, settings=settings,
                 issued=issued or dt.date.today(), figures=figures, ranking=ranking,
                 board_kpis=board_kpis, board=board, red_items=red,
                 tasks=open_supervision_tasks(m.engine, scope, period), summary="",
                 street_place=place, peers=peers)
    b.summary = summary(b)
    return b


def _figure_ids(m: Metrics, scheme: Scheme, level: str) -> list[str]:
    """The headline KPIs, then the scheme's (for the area's level) not among them."""
    ids = [k for k in headline_ids(m) if level in m.catalog.get(k).scopes]
    lv = "street" if level == "district" else level
    for p in scheme.level(lv if lv in scheme.levels else "street").parts:
        if p.kpi not in ids and level in m.catalog.get(p.kpi).scopes:
            ids.append(p.kpi)
    return ids


def _figure(m: Metrics, r: dict[str, Any]) -> Figure:
    kpi = m.catalog.get(r["kpi"])
    return Figure(kpi=kpi.id, label=kpi.label.zh, unit=kpi.unit, value=r["value"],
                  target=r["target"], status=r["status"], delta_prev=r["delta_prev"],
                  prev_value=r["prev_value"], definition=definition(kpi.description),
                  direction=kpi.direction)


def _board(m: Metrics, ids: list[str], scope: Scope, period: Period) -> list[dict[str, Any]]:
    """Communities of the area × the scheme's community KPIs: value and colour."""
    frame = m.compute(ids, scope, period, "community", compare=False)
    d = m.divisions()
    prefix = division_prefix(scope.code, scope.level)
    comm = d.filter((pl.col("level") == "community") & pl.col("active")
                    & ~pl.col("placeholder").fill_null(False)
                    & pl.col("code").str.starts_with(prefix))
    names = dict(zip(d["code"], d["short_name"].fill_null(d["name"]), strict=True))
    cells: dict[str, dict[str, tuple[float | None, str | None]]] = {}
    for r in frame.to_dicts():
        if r["key"] is not None:
            cells.setdefault(r["key"], {})[r["kpi"]] = (r["value"], r["status"])
    rows = []
    for c in comm["code"].to_list():
        if c not in cells:
            continue  # a community without any figure this period is not listed
        rows.append({"code": c, "community": names.get(c, c),
                     "street": names.get(code_at(c, "street"), ""),
                     **{k: cells[c].get(k, (None, None)) for k in ids}})
    return rows


def _red_items(m: Metrics, figures: list[Figure], scope: Scope, period: Period,
               child: str | None) -> list[RedItem]:
    red = [f for f in figures if f.status == "red"]
    if not red:
        return []
    if child is None:  # a community's version: the community itself is responsible
        return [RedItem(f, [scope.name]) for f in red]
    frame = m.compute([f.kpi for f in red], scope, period, child,  # type: ignore[arg-type]
                      compare=False)
    d = m.divisions()
    names = dict(zip(d["code"], d["short_name"].fill_null(d["name"]), strict=True))
    where: dict[str, list[str]] = {}
    for r in frame.sort("key").to_dicts():
        if r["status"] == "red" and r["key"] is not None:
            where.setdefault(r["kpi"], []).append(names.get(r["key"], r["key"]))
    return [RedItem(f, where.get(f.kpi, [])) for f in red]


def summary(b: Bulletin) -> str:
    """一、总体情况's paragraph, written from the figures."""
    p = b.period
    when = f"{p.start.year}年{p.start.month}月" if p.grain == "month" else p.label
    coloured = [f for f in b.figures if f.status]
    n = {s: sum(1 for f in coloured if f.status == s) for s in ("blue", "yellow", "red")}
    up = sum(1 for f in b.figures if f.delta_prev is not None and f.delta_prev != 0
             and (f.delta_prev > 0) == (f.direction == "higher"))
    down = sum(1 for f in b.figures if f.delta_prev is not None and f.delta_prev != 0
               and (f.delta_prev > 0) != (f.direction == "higher"))
    parts = [f"{when}，{b.scope.name}纳入通报的{len(b.figures)}项重点指标中，"
             f"{len(coloured)}项设有目标：达标（蓝色）{n['blue']}项、预警（黄色）{n['yellow']}项、"
             f"落后（红色）{n['red']}项。与上月相比，{up}项向好、{down}项下滑。"]
    rows = [r for r in b.ranking.rows if r.rank is not None]
    if b.street_place is not None:
        rank, prev, score = b.street_place
        if rank is not None:
            was = f"（上月第{prev}位）" if prev is not None else ""
            among = (f"在全区{b.peers}个社区综合考评中" if b.scope.level == "community"
                     else "在全区街道综合考评中")
            parts.append(f"{among}得{score:.2f}分，排第{rank}位{was}。")
    elif rows:
        top = "、".join(r.name for r in rows if r.board == "top")
        bottom = "、".join(r.name for r in rows if r.board == "bottom")
        parts.append(f"综合考评红榜：{top or '无'}；黑榜：{bottom or '无'}。")
    if b.red_items:
        parts.append("落后指标：" + "、".join(i.figure.label for i in b.red_items) + "。")
    return "".join(parts)


def status_word(status: str | None) -> str:
    return STATUS_WORD.get(status, "—")
