"""Who is looking: the one place the dashboard asks for the current user.

The user is a :class:`metrics.access.Viewer` (role and area). Every data call in
:mod:`dashboard.data` takes it, checks the asked-for area against it and puts it in the cache
key (``st.cache_data`` is shared by every session). Until sign-in lands in the dashboard every
visitor is a district leader who sees the whole district; that change belongs here and in
nothing that draws a page. ``st.user`` is not read: it needs a configured identity provider
and raises under ``AppTest``.
"""

from __future__ import annotations

import os

from dashboard import data
from metrics.access import Viewer, leader


def current_user() -> Viewer:
    """The viewer of this session (a district leader until sign-in lands)."""
    return leader(data.district_code(), username=os.environ.get("GONGZHI_USER", "leader"))


def display_name(viewer: Viewer) -> str:
    return viewer.display_name or viewer.username
