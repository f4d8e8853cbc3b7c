"""``gongzhi bulletin``: the monthly 通报 as Word or PDF, archived and audited."""

from __future__ import annotations

from pathlib import Path

import click

from gongzhi.cli import Context, cli, pass_ctx


@cli.command()
@click.option("--period", default=None, help="2026-11 (default: last month)")
@click.option("--street", default=None, help="a street's own version (name or code)")
@click.option("--format", "fmt", type=click.Choice(["docx", "pdf"]), default="docx",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the file here (it is always archived)")
@click.option("--scheme", "scheme_name", default=None, help="scoring scheme for the ranking")
@click.option("--user", "username", default=None,
              help="generate as this account (staff: their own area's version only)")
@pass_ctx
def bulletin(ctx: Context, period: str | None, street: str | None, fmt: str, out: Path | None,
             scheme_name: str | None, username: str | None) -> None:
    """Generate the monthly bulletin (月度通报) of the district or of one street."""
    import getpass

    from bulletin import archive
    from core.timezone import to_local
    from gongzhi.commands.access import viewer_for
    from metrics import periods
    from metrics.access import leader
    from metrics.scoring import load_schemes, pick
    from warehouse.engine import utcnow

    settings = ctx.settings
    conf = settings.bulletin
    m = ctx.metrics()
    scheme = pick(load_schemes(m.catalog), scheme_name or conf.scheme)
    viewer = viewer_for(ctx, username, "bulletin", person_level=False) or leader(
        m.district().code, username=f"cli:{getpass.getuser()}")
    today = to_local(utcnow()).date()
    p = periods.parse(period) if period else periods.latest_complete("month", today)
    scope = m.scope("street", street) if street else None
    made = archive.generate(m, scheme, p, conf, viewer, street=scope, fmt=fmt, trigger="cli",
                            issued=today)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(made.data)
        click.echo(f"wrote {out} ({len(made.data):,} bytes); archived as {made.path}")
    else:
        click.echo(f"archived {made.path} ({len(made.data):,} bytes)")
