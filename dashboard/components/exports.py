"""Exports of exactly the filtered detail rows: XLSX, and CSV in UTF-8 with a BOM (so Excel
opens Chinese text correctly). The files are made when a button is clicked, not on every run.
Text that a spreadsheet would run as a formula is neutralised (:mod:`core.spreadsheet`).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import polars as pl
import streamlit as st

from core.spreadsheet import safe_frame
from dashboard.i18n import t

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv"


def to_csv(frame: pl.DataFrame) -> bytes:
    """CSV, UTF-8 with a byte-order mark; no cell that a spreadsheet would run."""
    return safe_frame(frame).write_csv(include_bom=True).encode("utf-8")


def to_xlsx(frame: pl.DataFrame, sheet: str = "data") -> bytes:
    """An XLSX workbook of ``frame``; text cells are strings, never formulas."""
    buf = io.BytesIO()
    safe_frame(frame).write_excel(buf, worksheet=sheet, autofit=frame.height <= 5000)
    return buf.getvalue()


def buttons(make: Callable[[str], pl.DataFrame], stem: str, key: str) -> None:
    """Two download buttons whose files are built from ``make(format)`` when clicked."""
    c1, c2, _ = st.columns([1, 1, 3])
    c1.download_button(t("export.xlsx"), data=lambda: to_xlsx(make("xlsx")),
                       file_name=f"{stem}.xlsx",
                       mime=XLSX_MIME, key=f"{key}_xlsx", on_click="ignore", help=t("export.help"),
                       icon=":material/table_view:")
    c2.download_button(t("export.csv"), data=lambda: to_csv(make("csv")), file_name=f"{stem}.csv",
                       mime=CSV_MIME, key=f"{key}_csv", on_click="ignore", help=t("export.help"),
                       icon=":material/download:")
