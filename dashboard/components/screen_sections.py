"""The sections of the 首屏 big screen, each a small function registered in :data:`SECTIONS`.

A section gets the :class:`Frame` (who, where, when, which domain is on the wall) and returns
a drawer, or None when it has nothing to show (no boundaries, no ranking scheme, no open
tasks or alerts, no data for this area). A section that returns None is simply
not on the wall: no placeholder box. :mod:`dashboard.components.bigscreen` lays out what is
left in the title bar, three columns (left, centre, right) and the ticker at the foot.

Every figure comes from :mod:`dashboard.data` (cached per data version and viewer); text is
drawn with native components, data escaped (:func:`dashboard.i18n.md`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
import streamlit as st

from core import divisions
from core.errors import ConfigError
from core.screen_settings import ScreenSettings
from core.timezone import to_local
from dashboard import data, i18n
from dashboard.components import cards, geomap, screen_style
from dashboard.i18n import Markdown, md, t
from dashboard.state import View
from metrics import format as fmt
from metrics import geo, views
from metrics.compiler import NotApplicable

Slot = Literal["left", "centre", "right", "bottom"]
# draws the section; the argument is the share of the wall's width its column has
Drawer = Callable[[float], None]
RANK_ROWS = 10  # rows of the ranking that fit beside the cards at 28 px (1080p)
SHORT = {"blue": "screen.count.blue", "yellow": "screen.count.yellow",
         "red": "screen.count.red", None: "screen.count.none"}


@dataclass(frozen=True)
class Frame:
    """What the wall shows now: the viewer's view (the hall's area), the period, and the
    domain in rotation with its page frames."""

    view: View
    period: str
    domain: str
    page: views.DomainPage
    names: dict[str, str]
    settings: ScreenSettings


@dataclass(frozen=True)
class Section:
    """A named section, where it goes, and how it is built."""

    name: str
    slot: Slot
    build: Callable[[Frame], Drawer | None]


# -- helpers -----------------------------------------------------------------------------------


def domain_label(domain: str) -> str:
    d = data.catalog().domains[domain]
    return i18n.pick(d.label.zh, d.label.en)


def kpi_label(kpi_id: str) -> str:
    k = data.catalog().get(kpi_id)
    return i18n.pick(k.label.zh, k.label.en)


def ordered_kpis(f: Frame) -> list[dict[str, Any]]:
    """The domain's KPIs for the wall's area: headline KPIs first, then catalogue order."""
    rows = data.applicable(f.page.kpis, f.view.scope.level).to_dicts()
    cat = data.catalog()
    return sorted(rows, key=lambda r: not cat.get(r["kpi"]).headline)


def tone(status: str | None) -> str:
    return status if status in ("blue", "yellow", "red") else "grey"


def head(name: str, text: Markdown) -> None:
    """A panel's title line."""
    with st.container(key=f"screen_head_{name}"):
        st.markdown(md(text))  # already Markdown: md() keeps it as it is


def dense_rank(values: list[float], higher: bool) -> list[int]:
    """Competition ranks (1, 1, 3): ties share a rank, best first."""
    order = sorted(values, reverse=higher)
    return [order.index(v) + 1 for v in values]


# -- sections that exist on today's main -------------------------------------------------------


def headline_cards(f: Frame) -> Drawer | None:
    """The domain's KPI cards: value, change on the previous period, target and colour."""
    rows = ordered_kpis(f)[:f.settings.cards_per_domain]
    if not rows or all(r["value"] is None for r in rows):
        return None
    lang = f.view.lang

    def draw(share: float) -> None:
        per_row = 2 if share < 0.45 else 3
        with st.container(key="screen_panel_cards"):
            head("cards", t("screen.cards", domain=domain_label(f.domain)))
            for start in range(0, len(rows), per_row):
                cols = st.columns(per_row, gap="small")
                for col, row in zip(cols, rows[start:start + per_row], strict=False):
                    with col:
                        _card(row, lang)

    return draw


def _card(row: dict[str, Any], lang: str) -> None:
    delta = row["delta_prev"]
    flat = delta is None or delta == 0
    key = f"screencard_{tone(row['status'])}_{row['kpi'].replace('.', '_')}"
    with st.container(key=key):
        st.metric(
            label=md(i18n.pick(row["label"], row["label_en"])),
            value=fmt.value(row["value"], row["unit"], lang),
            delta=None if delta is None else fmt.delta(delta, row["unit"], lang),
            delta_color="off" if flat else ("normal" if row["direction"] == "higher"
                                            else "inverse"),
            delta_arrow="off" if flat else "auto",
        )
        st.caption(f"{cards.target_text(row, lang)} · {cards.status_label(row)}")


def lead_kpi(f: Frame, ranked: pl.DataFrame) -> str | None:
    """The KPI the ranking shows: the domain's first (headline first) with ranked areas."""
    have = set(ranked["kpi"].to_list())
    for r in ordered_kpis(f):
        if r["kpi"] in have:
            return str(r["kpi"])
    return None


def street_ranking(f: Frame) -> Drawer | None:
    """The areas one level down by the domain's lead KPI, best first (as the overview's
    ranking; ties share a rank)."""
    level = f.view.child_level
    if level is None:
        return None
    ranked = f.page.ranking.filter(pl.col("key").is_not_null() & pl.col("value").is_not_null())
    kpi = lead_kpi(f, ranked)
    if kpi is None:
        return None
    higher = data.catalog().get(kpi).direction == "higher"
    rows = ranked.filter(pl.col("kpi") == kpi).sort("value", descending=higher).to_dicts()
    ranks = dense_rank([r["value"] for r in rows], higher)
    lang = f.view.lang

    coloured = any(r["status"] is not None for r in rows)  # no target at this level: none

    def draw(share: float) -> None:
        lines = [f"| {t('screen.rank')} | {t(f'level.{level}')} | {t('screen.value')} |"
                 + (f" {t('screen.colour')} |" if coloured else ""),
                 "|:-:|:--|--:|" + (":-:|" if coloured else "")]
        for rank, r in list(zip(ranks, rows, strict=True))[:RANK_ROWS]:
            lines.append(f"| {rank} | {md(f.names.get(r['key'], r['key']))} | "
                         f"{md(fmt.value(r['value'], r['unit'], lang))} |"
                         + (f" {cards.MARK[r['status']]} {t(SHORT[r['status']])} |"
                            if coloured else ""))
        with st.container(key="screen_panel_ranking"):
            head("ranking", t("screen.ranking", level=t(f"level.{level}"), kpi=kpi_label(kpi)))
            st.markdown(_lines(lines))

    return draw


def board_level(f: Frame) -> str | None:
    """The level the three-colour counts are about (targets hold for communities)."""
    return {"district": "community", "street": "community", "community": "grid"}.get(
        f.view.scope.level)


def status_counts(f: Frame) -> dict[str | None, int]:
    """How many (community × KPI of the domain) figures are blue, yellow, red or without
    colour (sample too small), as the overview's board counts them."""
    board = data.domain_board(f.view.key, f.domain, f.view.scope, f.period)
    rows = board.filter(pl.col("key").is_not_null()) if board.height else board
    out: dict[str | None, int] = {"blue": 0, "yellow": 0, "red": 0, None: 0}
    for s in rows["status"].to_list():
        out[s if s in out else None] += 1
    return out


def three_colours(f: Frame) -> Drawer | None:
    """The three-colour counts of the domain's figures by community."""
    level = board_level(f)
    if level is None:
        return None
    counts = status_counts(f)
    if not sum(counts.values()):
        return None

    def draw(share: float) -> None:
        with st.container(key="screen_panel_status"):
            head("status", t("screen.status", level=t(f"level.{level}")))
            for col, status in zip(st.columns(4, gap="small"), ("blue", "yellow", "red", None),
                                   strict=True):
                with col, st.container(key=f"screen_count_{status or 'none'}"):
                    st.markdown(f"**{md(str(counts[status]))}**")
                    st.caption(t(SHORT[status]))

    return draw


TICKER_KINDS = ("grid_event", "service_case", "run")


def _lines(parts: list[str], sep: str = "\n") -> Markdown:
    """Lines (or items) each built from our strings and escaped data, joined."""
    return Markdown(sep.join(parts))


def ticker_items(f: Frame) -> list[str]:
    """One short line per latest event, the kinds taking turns, newest first in each."""
    n = f.settings.ticker_items
    ev = data.latest_events(f.view.key, f.view.scope, n)
    by_kind = {k: ev.filter(pl.col("kind") == k).to_dicts() for k in TICKER_KINDS}
    out: list[str] = []
    for i in range(n):
        for k in TICKER_KINDS:
            if i < len(by_kind[k]) and len(out) < n:
                out.append(_item(by_kind[k][i], f.names))
    return out


def _item(r: dict[str, Any], names: dict[str, str]) -> str:
    when = to_local(r["at"]).strftime("%m-%d %H:%M") if r["at"] is not None else ""
    state_key = f"screen.state.{r['state']}"
    state = t(state_key) if state_key in i18n.STRINGS else md(r["state"] or "")
    where = md(names.get(r["area"], r["area"])) if r["area"] else ""
    kind = t("screen.kind." + r["kind"])
    parts = [f"【{kind}】{when}", where, md(r["what"] or ""), state]
    return " ".join(p for p in parts if p)


def ticker(f: Frame) -> Drawer | None:
    """A ticker of the latest events at the foot of the wall."""
    if f.settings.ticker_items <= 0:
        return None
    items = ticker_items(f)
    if not items:
        return None
    length = sum(len(i) for i in items)

    def draw(share: float) -> None:
        screen_style.ticker_speed(max(20, length // 12))  # ~12 characters a second
        with st.container(key="screen_ticker"):
            st.markdown(t("screen.ticker") + "：" + _lines(items, "　｜　"))

    return draw


# -- the map, the 红黑榜, 督办 and 预警 (each through the viewer-scoped loaders) -----------------

MAP_HEIGHT = 0.62  # the map's height for its width (the centre column, 16:9 wall)
BOARD_ROWS = 5  # rows of each of the 红榜 and 黑榜 at most (the scheme sets how many are on it)
TASK_ROWS = 5  # the latest open 督办 tasks listed under the counts
ALERT_ROWS = 5  # the latest 预警
BOARD_WORDS = {"top": "screen.board.top", "bottom": "screen.board.bottom"}


def _prefix(f: Frame) -> str:
    """The wall's area as a code prefix (tasks and alerts of the area and below)."""
    return divisions.prefix(f.view.scope.code, f.view.scope.level)


def map_centre(f: Frame) -> Drawer | None:
    """The map at the centre: the domain's lead KPI by the areas one level down, in the three
    status colours (no event bins: the payload stays small for a wall that redraws all day)."""
    level = geo.default_level(f.view.scope.level)
    kpi = next((str(r["kpi"]) for r in ordered_kpis(f) if r["value"] is not None), None)
    if level is None or kpi is None:
        return None
    payload = geomap.map_payload(f.view.key, kpi, level, f.view.scope, f.period, f.view.lang,
                                 f.names, events=False)
    if not payload.features:  # no boundaries loaded: the other sections take the room
        return None

    def draw(share: float) -> None:
        width = max(360, int(1800 * share))
        spec = geomap.map_chart(payload, kpi_label(kpi), width=width,
                                height=int(width * MAP_HEIGHT),
                                basemap=geomap.basemap_template()[0])
        with st.container(key="screen_panel_map"):
            head("map", t("screen.map", level=t(f"level.{level}"), kpi=kpi_label(kpi)))
            st.vega_lite_chart(spec, width="content")

    return draw


def board_rows(f: Frame) -> tuple[str, list[dict[str, Any]]] | None:
    """The level below the wall's area and its 红榜 then 黑榜 rows of the 综合考评 (the
    default scheme, as ``gongzhi rank``); staff get their own area's rows only."""
    level = {"district": "street", "street": "community"}.get(f.view.scope.level)
    if level is None:
        return None
    within = f.view.scope.code if f.view.scope.level == "street" else ""
    try:
        ranked = data.ranking(f.view.key, level, f.period, within)
    except (NotApplicable, ConfigError):  # no scheme for the level, or no figures yet
        return None
    rows = [r for b in ("top", "bottom")
            for r in ranked.filter(pl.col("board") == b).sort("rank").to_dicts()[:BOARD_ROWS]]
    return (level, rows) if rows else None


def red_black_list(f: Frame) -> Drawer | None:
    """The 红黑榜: the top and bottom of the 综合考评 score of the level below."""
    found = board_rows(f)
    if found is None:
        return None
    level, rows = found

    def draw(share: float) -> None:
        lines = [f"| {t('screen.board')} | {t('screen.rank')} | {t(f'level.{level}')} | "
                 f"{t('screen.score')} |", "|:-:|:-:|:--|--:|"]
        for r in rows:
            score = "—" if r["score"] is None else f"{r['score']:.1f}"
            lines.append(f"| {t(BOARD_WORDS[r['board']])} | {md(str(r['rank']))} | "
                         f"{md(r['name'])} | {md(score)} |")
        with st.container(key="screen_panel_red_black"):
            head("red_black", t("screen.red_black", level=t(f"level.{level}")))
            st.markdown(_lines(lines))

    return draw


def open_tasks(f: Frame) -> Drawer | None:
    """Open 督办 tasks of the area: the counts, then the latest, overdue first."""
    viewer = f.view.key.viewer
    counts = data.task_counts(viewer)
    if not counts["open"]:
        return None
    rows = [r for r in data.tasks_for(viewer, "all", _prefix(f)) if r["status"] != "closed"]
    if not rows:  # open tasks elsewhere in the leader's district, none in this area
        return None
    rows = sorted(rows, key=lambda r: not r["overdue"])[:TASK_ROWS]

    def draw(share: float) -> None:
        items = [f"- {'🔴 ' + str(t('tasks.overdue')) + ' · ' if r['overdue'] else ''}"
                 f"{md(r['area_name'])} · {md(r['title'])} · "
                 f"{t('screen.due', due=r['due_date'].isoformat())}" for r in rows]
        with st.container(key="screen_panel_tasks"):
            head("tasks", t("screen.tasks", open=counts["open"], overdue=counts["overdue"]))
            st.markdown(_lines(items))

    return draw


def alerts(f: Frame) -> Drawer | None:
    """The latest 预警 of the area (red first among them), newest first."""
    prefix = _prefix(f)
    rows = [r for r in data.alert_log(f.view.key.viewer, limit=50)
            if r["subject_level"] == "source" or str(r["subject_code"]).startswith(prefix)]
    rows = sorted(rows[:ALERT_ROWS], key=lambda r: r["severity"] != "red")
    if not rows:
        return None

    def draw(share: float) -> None:
        items = [f"- {cards.MARK.get(r['severity'], '')} "
                 f"{to_local(r['created_at']).strftime('%m-%d %H:%M')} {md(r['title'])}"
                 for r in rows]
        with st.container(key="screen_panel_alerts"):
            head("alerts", t("screen.alerts"))
            st.markdown(_lines(items))

    return draw


SECTIONS: list[Section] = [
    Section("cards", "left", headline_cards),
    Section("map", "centre", map_centre),
    Section("ranking", "right", street_ranking),
    Section("status", "right", three_colours),
    Section("red_black", "right", red_black_list),
    Section("tasks", "right", open_tasks),
    Section("alerts", "right", alerts),
    Section("ticker", "bottom", ticker),
]
