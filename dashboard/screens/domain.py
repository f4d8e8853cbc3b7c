"""A domain page declared in the semantic layer (config/semantic ``pages``) without a script
of its own: draws the page being run (dashboard/app.py says which)."""

from dashboard.components.domain import render_page

render_page()
