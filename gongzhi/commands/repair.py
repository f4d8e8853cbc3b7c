"""``gongzhi reprocess | rekey``: put right what a load could not (audited)."""

from __future__ import annotations

import getpass
import sys

import click

from gongzhi.cli import EXIT_FAILED, Context, cli, pass_ctx


def _who(ctx: Context, username: str | None, command: str) -> tuple[str, str]:
    """The (username, role) the audit log records: a leader signed in with ``--user`` (the
    sign-in audited like the dashboard's), else the operating-system account at the server,
    which holds the config and the key, as for ``gongzhi ingest``."""
    from gongzhi.commands.access import require_leader, sign_in

    if not username:
        try:
            return f"cli:{getpass.getuser()}", "cli"
        except Exception:  # no login name (a container): still recorded
            return "cli:unknown", "cli"
    viewer = sign_in(ctx, username, command)
    require_leader(ctx, viewer, command, {})
    return viewer.username, viewer.role


@cli.command()
@click.option("--source", default=None, help="only this source's rows")
@click.option("--reason", default=None,
              help="rows of this reason (default: the retryable ones, unknown_street/"
                   "community/grid)")
@click.option("--run", "run_id", type=int, default=None, help="only rows of this run")
@click.option("--user", "username", default=None, help="act as this leader account (audited)")
@click.option("--quiet", is_flag=True, help="no progress lines")
@pass_ctx
def reprocess(ctx: Context, source: str | None, reason: str | None, run_id: int | None,
              username: str | None, quiet: bool) -> None:
    """Run quarantined rows through validation again; those that pass load (run trigger
    ``reprocess``), the others stay quarantined with their reason."""
    from core import reasons
    from ingest.progress import Progress
    from ingest.reprocess import Reprocessor, Selection, summary
    from ingest.runner import build_runner

    if reason is not None and not reasons.is_known(reason):
        raise click.BadParameter(f"unknown reason '{reason}' (one of {', '.join(reasons.CODES)})",
                                 param_hint="--reason")
    who, role = _who(ctx, username, "reprocess")
    runner = build_runner(ctx.settings, ctx.engine(), progress=Progress(enabled=not quiet),
                          kind=Reprocessor)
    results = runner.reprocess(Selection(source, reason, run_id), username=who, role=role)
    click.echo(summary(results))
    if any(not r.ok for r in results):
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.option("--user", "username", default=None, help="act as this leader account (audited)")
@pass_ctx
def rekey(ctx: Context, yes: bool, username: str | None) -> None:
    """Make the configured pseudonym key the warehouse's key: withdraw the pseudonyms of the
    old key and have the people sources read everything again (README: changing the
    pseudonym key)."""
    from ingest import rekey as rk

    engine = ctx.engine()
    old, new = rk.current(ctx.settings, engine)
    if old == new:
        click.echo(f"the configured key (fingerprint {new}) is already the warehouse's: "
                   "nothing to do")
        return
    if old is None:
        click.echo(f"the warehouse has no key fingerprint yet: it adopts this key ({new})")
    else:
        sources = ", ".join(rk.people_sources(ctx.settings)) or "none configured"
        click.echo(f"The warehouse's pseudonyms were made with the key {old}; the configured "
                   f"key is {new}.\nRekeying withdraws every pseudonym of the old key (they "
                   "cannot be converted) and resets these sources, so that their next run "
                   f"reads everything again with the new key: {sources}.")
        if not yes:
            click.confirm("Rekey now?", abort=True)
    who, role = _who(ctx, username, "rekey")
    result = rk.rekey(ctx.settings, engine, username=who, role=role)
    withdrawn = sum(result.withdrawn.values())
    click.echo(f"key {result.new} is now the warehouse's; pseudonyms withdrawn: {withdrawn:,}"
               + (f"; sources to run again: {', '.join(result.sources_reset)}"
                  if result.sources_reset else ""))
