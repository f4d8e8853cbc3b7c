"""目标管理 Area targets: leaders set a KPI's target and warning threshold for a street or
community and year (each change a new version, audited); everyone sees the targets of their
own area. The YAML target stays the district default."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import data, i18n, state
from dashboard.i18n import t
from metrics import format as fmt
from metrics import targets as area_targets


def _shown(v: float | None, unit: str | None) -> str:
    return fmt.value(v, unit or "count", i18n.lang()) if v is not None else "—"


def editor() -> None:
    """The form (leaders only): KPI, area, year, target, warning; set or clear."""
    view = state.current()
    m = data.metrics()
    kpis = [k for k in m.catalog.kpis.values()
            if "street" in k.scopes or "community" in k.scopes]
    units = data.units(view.key).filter(pl.col("level").is_in(["street", "community"]))
    areas = dict(zip(units["code"], units["label"], strict=True))
    with st.form("target_form", border=True):
        c1, c2 = st.columns(2)
        labels = {k.id: f"{i18n.pick(k.label.zh, k.label.en)} ({k.id})" for k in kpis}
        kid = c1.selectbox(t("targets.kpi"), list(labels), key="target_kpi",
                           format_func=lambda i: labels.get(i, i))
        code = c2.selectbox(t("targets.area"), list(areas), key="target_area",
                            format_func=lambda c: areas.get(c, c))
        c3, c4, c5 = st.columns(3)
        year = c3.number_input(t("targets.year"), min_value=2000, max_value=2100, step=1,
                               value=int(view.period[:4]), key="target_year")
        target = c4.text_input(t("targets.target"), key="target_value",
                               help=t("targets.value_help"))
        warning = c5.text_input(t("targets.warning"), key="target_warning",
                                help=t("targets.value_help"))
        note = st.text_input(t("targets.note"), key="target_note")
        b1, b2 = st.columns(2)
        save = b1.form_submit_button(t("targets.save"), type="primary")
        clear = b2.form_submit_button(t("targets.clear"))
    if not (save or clear):
        return
    kpi = m.catalog.get(kid)
    level = str(units.filter(pl.col("code") == code)["level"][0])
    try:
        change = area_targets.TargetChange(
            kpi=kid, level=level, code=code, year=int(year),
            target=None if clear else area_targets.parse_value(target, kpi),
            warning=None if clear else area_targets.parse_value(warning, kpi),
            note=note or None)
        if save and change.target is None:
            st.error(t("targets.need_target"))
            return
        version = area_targets.apply(m, view.user, change)
    except Exception as e:  # a clear message in the page; the audit has the denial
        st.error(t("targets.failed", detail=str(e)))
        return
    st.success(t("targets.saved", version=version))


def main() -> None:
    view = state.current()
    st.title(t("targets.title"))
    st.caption(t("targets.caption"))
    if view.user.role == "leader":
        editor()
    else:
        st.info(t("targets.leaders_only"))
    history = st.toggle(t("targets.history"), key="targets_history")
    rows = area_targets.listing(data.metrics(), view.user, None, history)
    if not rows:
        st.info(t("targets.none"))
        return
    st.dataframe(pl.DataFrame([{
        t("targets.kpi"): r["label"], t("targets.area"): r["name"] or r["code"],
        t("targets.year"): str(r["year"]),
        t("targets.target"): t("targets.cleared") if r["cleared"]
        else _shown(r["target"], r["unit"]),
        t("targets.warning"): _shown(r["warning"], r["unit"]),
        t("targets.default"): _shown(r["default"], r["unit"]),
        t("targets.version"): r["version"], t("targets.by"): r["set_by"],
        t("targets.at"): fmt.fresh(r["set_at"], i18n.lang())} for r in rows]), hide_index=True)


main()
