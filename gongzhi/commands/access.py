"""Who runs a command that shows person-level or area-bound data: the dashboard's accounts,
roles and audit, on the command line.

``--user NAME`` signs in as that account (password from ``GONGZHI_PASSWORD`` or a prompt;
the same lock-out and the same one answer for every failure as the dashboard); the sign-in,
a failed one, and every denial are audited with the command's name (``cli:quarantine``).
Without ``--user``:

- where the dashboard is open (``[dashboard] sign_in = "open"``, the demo), the command runs
  as the district, like the open dashboard, recorded as ``cli:<os user>``;
- otherwise person-level data (raw quarantined rows) needs a leader's sign-in and is refused;
  area-bound aggregates (``gongzhi kpi``) stay available to whoever holds the warehouse's
  credentials, as the district (``--user`` binds them to an account's area).
"""

from __future__ import annotations

import getpass
import os
from typing import Any, NoReturn

import click

from gongzhi.cli import Context
from metrics.access import AccessDenied, Viewer, leader


def _os_user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in the environment (some containers)
        return "cli:unknown"


def open_mode(ctx: Context) -> bool:
    """Whether the config lets everyone look as the district (the demo)."""
    return ctx.settings.dashboard.open


def _district(engine: Any) -> str:
    from metrics.service import Metrics

    try:
        return Metrics(engine).district().code
    except Exception:  # no division list yet: the quarantine may say why
        return ""


def sign_in(ctx: Context, username: str, command: str) -> Viewer:
    """The viewer of account ``username`` (audited, success or not)."""
    from warehouse import accounts, audit

    engine = ctx.engine()
    password = os.environ.get("GONGZHI_PASSWORD") or click.prompt(
        f"password for {username}", hide_input=True)
    try:
        acc = accounts.verify(engine, username, password)
    except accounts.SignInFailed as e:
        audit.record(engine, username=username[:128], role="-", action=audit.SIGN_IN_FAILED,
                     target=f"cli:{command}", filters={"reason": e.reason}, row_count=0)
        raise
    audit.record(engine, username=acc.username, role=acc.role, action=audit.SIGN_IN,
                 target=f"cli:{command}", filters={}, row_count=0)
    role: Any = acc.role  # one of ROLES: the users table checks it on creation
    return Viewer(acc.username, role, acc.area_code, acc.display_name)


def viewer_for(ctx: Context, username: str | None, command: str, *,
               person_level: bool) -> Viewer | None:
    """Who runs ``command``: the signed-in account, the open district, or None (the warehouse
    operator, for area-bound aggregates only). Raises :class:`AccessDenied` (audited) when
    person-level data is asked for without a sign-in the config requires."""
    if username:
        return sign_in(ctx, username, command)
    if open_mode(ctx):
        return leader(_district(ctx.engine()), username=_os_user())
    if not person_level:
        return None
    deny(ctx, Viewer(_os_user(), "leader", ""), command, {}, role="-",
         why=f"sign-in required: `gongzhi {command} --user NAME` with a leader's account "
             "(password from GONGZHI_PASSWORD or a prompt)")


def deny(ctx: Context, viewer: Viewer, command: str, filters: dict[str, Any], *, why: str,
         role: str | None = None) -> NoReturn:
    """Record a denial in the audit log and raise it."""
    from warehouse import audit

    audit.record(ctx.engine(), username=viewer.username, role=role or viewer.role,
                 action=audit.DENIED, target=f"cli:{command}", filters=filters, row_count=0)
    raise AccessDenied(why)


def require_leader(ctx: Context, viewer: Viewer, command: str, filters: dict[str, Any]) -> None:
    """Person-level rows are the district's business: leaders only, as in the dashboard."""
    if viewer.role != "leader":
        deny(ctx, viewer, command, filters,
             why=f"{viewer.username} ({viewer.role}) may not see {command} rows: leaders only")
