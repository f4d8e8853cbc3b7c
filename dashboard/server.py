"""What ``gongzhi serve`` runs: the Streamlit app (``app.py``) served with the sign-in cookie's
two routes beside it (:mod:`dashboard.cookie`). ``streamlit run`` finds ``app`` and serves it
with the same server and options as a plain script."""

import streamlit as st

from dashboard.cookie import ROUTES

app = st.App("app.py", routes=ROUTES)
