"""What ``gongzhi serve`` runs: the Streamlit app (``app.py``) served with the sign-in cookie's
two routes beside it (:mod:`dashboard.cookie`), and a thread that warms the leader's map
(:mod:`dashboard.warm`). ``streamlit run`` finds ``app`` and serves it with the same server
and options as a plain script."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import streamlit as st

from dashboard.cookie import ROUTES


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[Any]:
    """The map warmer's lifespan, imported once Streamlit's runtime exists: the cached
    loaders it brings are then declared on the runtime's cache (no "no runtime" warnings)."""
    from dashboard import warm

    async with warm.lifespan(app) as state:
        yield state


app = st.App("app.py", routes=ROUTES, lifespan=lifespan)
