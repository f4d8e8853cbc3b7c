"""Cells that a spreadsheet will not run: the one guard every CSV and XLSX we write goes
through (the dashboard's exports and ``gongzhi … --format csv``).

Excel, WPS and LibreOffice treat a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula (``=HYPERLINK(…)`` becomes a live link, ``=cmd|…`` once ran programs), and a leading
tab or carriage return hides such a start from naive checks. Text cells that start so get a
leading apostrophe, the spreadsheet convention for "this is text" (OWASP's advice for CSV
injection). Only text is touched: numbers, negative ones included, stay numbers in numeric
columns, so sums and sorting in the spreadsheet keep working.
"""

from __future__ import annotations

from typing import Any

import polars as pl

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PATTERN = r"^[=+\-@\t\r]"


def safe_cell(value: Any) -> Any:
    """``value`` with an apostrophe in front when it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column of ``frame`` through :func:`safe_cell`; other columns unchanged."""
    fixes = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
            col = pl.col(name).cast(pl.String)
            fixes.append(pl.when(col.str.contains(_PATTERN)).then(pl.lit("'") + col)
                         .otherwise(col).alias(name))
    return frame.with_columns(fixes) if fixes else frame


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """CSV in UTF-8 with a byte-order mark (Excel then reads Chinese text right); no cell
    that a spreadsheet would run."""
    return safe_frame(frame).write_csv(include_bom=True).encode("utf-8")


def xlsx_bytes(frame: pl.DataFrame, sheet: str = "data") -> bytes:
    """An XLSX workbook of ``frame``; text cells are strings, never formulas."""
    import io

    buf = io.BytesIO()
    safe_frame(frame).write_excel(buf, worksheet=sheet, autofit=frame.height <= 5000)
    return buf.getvalue()
