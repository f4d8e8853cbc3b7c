"""Page scripts run by st.navigation (dashboard/app.py); never imported.

Not named ``pages/``: a folder of that name beside the entry point switches Streamlit (and
AppTest) to the old file-based multipage mode, which runs a page without the entry point.
"""
