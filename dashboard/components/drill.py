"""The drill-through page (明细核查): the rows behind a KPI's numerator or denominator, a page
at a time, with exports; and the links that open it from a card, a ranking row or a
breakdown row.

The page's own state is in the URL beside the filters: ``kpi``, ``part`` (numerator,
denominator, measure), and for one group of a breakdown ``dim`` and ``key`` (``key`` absent:
all rows of the figure; ``key=`` with ``blank=1``: rows without a value). Area and period are
the view's (the sidebar filters, themselves in the URL), so a staff member's link to another
area shows their own area, as every page does: the data layer refuses the rest.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import polars as pl
import streamlit as st

from dashboard import data, i18n, state
from dashboard.components import exports
from dashboard.i18n import md, t
from dashboard.state import KEYS, View
from metrics import format as fmt

PAGE_ROWS = 50
PARAMS = ("part", "dim", "key", "blank")


def link_params(view: View, kpi: str, part: str | None = None, *, area: tuple[str, str] | None
                = None, dim: str | None = None, key: Any = None) -> dict[str, str]:
    """The query parameters of a drill-through link: the view's filters (or ``area``, a
    ``(level, code)`` one level down), its period, and the figure."""
    params = {lv: st.session_state.get(KEYS[lv]) or "" for lv in state.LEVELS}
    if area is not None:
        level, code = area
        keep = state.LEVELS.index(level) if level in state.LEVELS else -1
        params = {lv: (params[lv] if i < keep else "") for i, lv in enumerate(state.LEVELS)}
        params[level] = code
    params |= {"period": view.period, "kpi": kpi}
    if part:
        params["part"] = part
    if dim:
        params["dim"] = dim
        if key is None:
            params["blank"] = "1"
        else:
            params["key"] = str(key)
    if view.lang != i18n.DEFAULT_LANG:
        params["lang"] = view.lang
    return {k: v for k, v in params.items() if v}


def url(view: View, kpi: str, **kw: Any) -> str:
    """A relative link to the drill page (for table link columns, which open a new tab)."""
    from urllib.parse import urlencode

    return "drill?" + urlencode(link_params(view, kpi, **kw))


def card_link(view: View, kpi: str) -> None:
    """The "see the rows" link under a KPI card."""
    st.page_link(state.page("screens/drill.py"), label=t("drill.open"),
                 icon=":material/table_rows:", query_params=link_params(view, kpi))


def render() -> None:
    """The drill-through page."""
    from metrics import drill

    view = state.current()
    cat = data.catalog()
    st.title(t("nav.drill"))
    ids = [k.id for k in cat.kpis.values() if view.scope.level in k.scopes]
    from dashboard.components import sections

    kpi_id = sections.kpi_picker(ids, "drill")
    kpi = cat.get(kpi_id)
    parts = drill.parts_of(kpi)
    skey = f"drill_part_{kpi_id}"
    if skey not in st.session_state:
        wanted = state.url_param("part")
        st.session_state[skey] = wanted if wanted in parts else parts[0]
    part = state.bound(st.segmented_control, t("drill.part"), parts, skey, required=True,
                       format_func=lambda p: t(f"drill.part.{p}"))
    state.set_param("part", part)
    dim = state.url_param("dim")
    key = state.url_param("key")
    if dim is not None and key is None and state.url_param("blank") != "1":
        dim = None
    label = i18n.pick(kpi.label.zh, kpi.label.en)
    st.caption(t("drill.caption", kpi=label, part=t(f"drill.part.{part}"), area=view.scope.name,
                 period=view.period) + (f" · {t(f'dim.{dim}')}: {md(key or t('drill.blank'))}"
                                        if dim else ""))
    st.caption(t("drill.definition", text=kpi.description))
    _figure_line(view, kpi_id, dim)
    total = data.drill_total(view.key, kpi_id, part, view.scope, view.period, dim, key)
    if total is None:
        st.info(t("drill.not_applicable"))
        return
    st.caption(t("drill.count", n=f"{total:,}"))
    if total == 0:
        st.info(t("export.empty"))
        return
    pages = max(1, math.ceil(total / PAGE_ROWS))
    number = st.number_input(t("detail.page", pages=pages), min_value=1, max_value=pages,
                             value=1, step=1,
                             key=f"drill_page_{kpi_id}_{part}_{view.scope.code}_{view.period}")
    offset = (int(number) - 1) * PAGE_ROWS
    rows = data.drill_page(view.key, kpi_id, part, view.scope, view.period, dim, key, offset,
                           PAGE_ROWS, view.lang)
    _audit_once(view, kpi_id, part, dim, key, offset, rows.height)
    st.dataframe(rows, hide_index=True, key="drill_rows")
    if total > data.EXPORT_CAP:
        st.warning(t("export.capped", n=f"{total:,}", cap=f"{data.EXPORT_CAP:,}"))
    exports.buttons(functools.partial(data.drill_export, view.key, kpi_id, part, view.scope,
                                      view.period, dim, key, view.lang),
                    stem=f"gongzhi_{kpi_id}_{part}_{view.scope.code}_{view.period}",
                    key="drill_export")


def _figure_line(view: View, kpi_id: str, dim: str | None) -> None:
    """The figure being opened, as the cards show it (the whole area's)."""
    frame = data.domain_page(view.key, data.catalog().get(kpi_id).domain, view.scope,
                             view.period).kpis
    row = frame.filter(pl.col("kpi") == kpi_id)
    if row.is_empty():
        return
    r = row.row(0, named=True)
    value = fmt.value(r["value"], r["unit"], view.lang)
    if r["denominator"] is not None:
        st.markdown(t("drill.figure", value=value, num=f"{(r['numerator'] or 0):,.4g}",
                      den=f"{(r['denominator'] or 0):,.4g}"))
    else:
        st.markdown(t("drill.figure_one", value=value))


def _audit_once(view: View, kpi: str, part: str, dim: str | None, key: str | None,
                offset: int, rows: int) -> None:
    """One audit record per session and page of rows shown (a rerun is not a new view)."""
    seen: set[tuple[str, ...]] = st.session_state.setdefault("_audited_drill", set())
    mark = (kpi, part, view.scope.key(), view.period, str(dim), str(key), str(offset),
            str(view.key.version))
    if mark not in seen:
        data.audit_drill(view.key, kpi, part, view.scope, view.period, dim, key, offset, rows)
        seen.add(mark)
