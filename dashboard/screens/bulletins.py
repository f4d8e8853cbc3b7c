"""月度通报 Bulletins: generate this period's bulletin (Word or PDF) and download archived
ones. Leaders get every version; street staff their own street's, community staff their own
community's; every generation and download is audited (bulletin.archive)."""

from __future__ import annotations

import functools

import streamlit as st

from core.divisions import code_at
from dashboard import data, i18n, state
from dashboard.i18n import md, t
from metrics import format as fmt
from metrics.access import Viewer


def _download(viewer: Viewer, bulletin_id: int) -> bytes:
    """The file, read (and audited) only when the button is clicked."""
    from bulletin import archive

    return archive.download(data.metrics(), viewer, bulletin_id)[1]


def generate_form() -> None:
    view = state.current()
    user = view.user
    street = None
    if user.role == "community_staff":  # their own community's version
        street = data.unit_scope(view.key, user.area)
    elif view.scope.level != "district":
        code = code_at(view.scope.code, "street")
        street = data.unit_scope(view.key, code)
    area = street.name if street else view.scope.name
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    kind = c1.radio(t("bulletin.format"), ["docx", "pdf"], horizontal=True,
                    format_func=lambda f: "Word (.docx)" if f == "docx" else "PDF",
                    key="bulletin_format")
    if c2.button(t("bulletin.generate", area=area, period=view.period), type="primary",
                 key="bulletin_generate", icon=":material/description:"):
        with st.spinner(t("bulletin.working")):
            made = data.generate_bulletin(user, view.period, street, kind)
        st.success(t("bulletin.done", name=made.file_name))
        st.download_button(t("bulletin.download_new"), data=made.data, file_name=made.file_name,
                           mime=_mime(made.format), key="bulletin_new_dl", on_click="ignore")


def _mime(kind: str) -> str:
    from bulletin.archive import MEDIA

    return MEDIA[kind]


def archive_list() -> None:
    view = state.current()
    st.subheader(t("bulletin.archive"))
    rows = data.bulletin_archive(view.user)
    if not rows:
        st.info(t("bulletin.none"))
        return
    names = data.names(view.key)
    for r in rows[:50]:
        c1, c2, c3, c4 = st.columns([1.2, 2, 2, 1.2], vertical_alignment="center")
        c1.write(md(r["period"]))
        c2.write(f"{md(names.get(r['code'], r['code']))} · {md(r['format'].upper())}")
        c3.caption(t("bulletin.made", at=fmt.fresh(r["generated_at"], i18n.lang()),
                     by=r["generated_by"]))
        c4.download_button(t("bulletin.download"),
                           data=functools.partial(_download, view.user, r["id"]),
                           file_name=r["path"].rsplit("/", 1)[-1], mime=_mime(r["format"]),
                           key=f"bulletin_dl_{r['id']}", on_click="ignore")


def main() -> None:
    st.title(t("bulletin.title"))
    st.caption(t("bulletin.caption"))
    generate_form()
    archive_list()


main()
