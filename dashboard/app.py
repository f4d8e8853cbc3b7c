"""Gongzhi dashboard entry point (placeholder until the dashboard issue lands).

Shows the state of the warehouse so `make demo` has something to open.
"""

from __future__ import annotations

import streamlit as st

from ingest.registry import load_validated
from warehouse import runlog
from warehouse.engine import make_engine

st.set_page_config(page_title="共治 Gongzhi", page_icon="🏙️", layout="wide")


@st.cache_resource
def _engine():
    settings = load_validated()
    return make_engine(settings.warehouse_url)


def overview() -> None:
    st.title("共治 · 樊城区基层治理数据")
    try:
        runs = runlog.list_runs(_engine(), limit=100)
    except Exception as e:  # show the problem, not a traceback
        st.error(f"无法读取数据仓库：{e}")
        return
    if not runs:
        st.info("数据仓库还没有数据。请运行 `gongzhi ingest`。")
        return
    st.subheader("最近的数据加载")
    st.dataframe(
        [{"数据源": r["source"], "状态": r["status"], "读取": r["read"], "入库": r["loaded"],
          "隔离": r["quarantined"], "重复": r["duplicates"]} for r in runs],
        hide_index=True,
    )


st.navigation([st.Page(overview, title="总览", default=True)]).run()
