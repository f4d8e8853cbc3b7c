"""``gongzhi users add | list | disable | passwd``: local accounts of the dashboard."""

from __future__ import annotations

import sys

import click

from core.roles import LEVEL_OF_ROLE as ROLE_LEVEL
from gongzhi.cli import Context, cli, echo_table, pass_ctx


@cli.group()
def users() -> None:
    """Local accounts: leaders see the district, staff one street or community."""


def _password(stdin: bool, confirm: bool = True) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("password", hide_input=True, confirmation_prompt=confirm)


def resolve_area(ctx: Context, role: str, area: str | None) -> str:
    """The division code of a role's area, from a name or a code."""

    m = ctx.metrics()
    level = ROLE_LEVEL[role]
    if level == "district":
        return m.district().code
    if not area:
        raise click.UsageError(f"--area is required for {role} (a {level} name or code)")
    return m.scope(level, area).code


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(list(ROLE_LEVEL)), required=True)
@click.option("--area", default=None, help="street or community (name or code) for staff")
@click.option("--display-name", default="")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.option("--oidc-only", is_flag=True, help="no local password: signs in with OIDC")
@pass_ctx
def add(ctx: Context, username: str, role: str, area: str | None, display_name: str,
        password_stdin: bool, oidc_only: bool) -> None:
    """Create an account."""
    from warehouse import accounts

    code = resolve_area(ctx, role, area)
    password = None if oidc_only else _password(password_stdin)
    accounts.add_user(ctx.engine(), username, password, role, code, display_name)
    click.echo(f"user {username} ({role}, area {code}) created")


@users.command("list")
@pass_ctx
def list_(ctx: Context) -> None:
    """List accounts (never their passwords)."""
    from warehouse import accounts

    rows = accounts.list_users(ctx.engine())
    echo_table(rows, ["username", "display_name", "role", "area_code", "active",
                      "failed_attempts", "locked_until", "last_login_at"])


@users.command()
@click.argument("username")
@pass_ctx
def disable(ctx: Context, username: str) -> None:
    """Disable an account (it is kept for the audit log)."""
    from warehouse import accounts

    accounts.disable_user(ctx.engine(), username)
    click.echo(f"user {username} disabled")


@users.command()
@click.argument("username")
@click.option("--password-stdin", is_flag=True)
@pass_ctx
def passwd(ctx: Context, username: str, password_stdin: bool) -> None:
    """Set a new password (and lift a lock-out)."""
    from warehouse import accounts

    accounts.set_password(ctx.engine(), username, _password(password_stdin))
    click.echo(f"password of {username} changed")

