"""What ``gongzhi serve`` runs: the Streamlit app (``app.py``) served with the sign-in cookie's
two routes beside it (:mod:`dashboard.cookie`), and a thread that warms the leader's map
(:mod:`dashboard.warm`). ``streamlit run`` finds ``app`` and serves it with the same server
and options as a plain script."""

import streamlit as st

from dashboard.cookie import ROUTES
from dashboard.warm import lifespan

app = st.App("app.py", routes=ROUTES, lifespan=lifespan)
