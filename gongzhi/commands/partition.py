"""``gongzhi partition``: partition an existing PostgreSQL warehouse's fact tables by month
(a new one is created partitioned unless ``[warehouse] partition = "none"``)."""

from __future__ import annotations

import click

from gongzhi.cli import Context, cli, echo_json, pass_ctx


@cli.command()
@click.option("--status", is_flag=True, help="only show each fact table's layout")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_ctx
def partition(ctx: Context, status: bool, fmt: str) -> None:
    """Range-partition the fact tables by month (PostgreSQL; run it while no ingestion runs:
    each table is copied into its partitioned twin in one transaction)."""
    from warehouse import partitions

    engine = ctx.engine(write=True)
    if engine.dialect.name != "postgresql":
        raise click.ClickException("only a PostgreSQL warehouse is partitioned; the embedded "
                                   "SQLite warehouse stays as it is")
    moved = {} if status else partitions.convert(engine)
    with engine.connect() as conn:
        layout = partitions.layout(conn)
    if fmt == "json":
        echo_json({"tables": layout, "converted": moved})
        return
    for name, months in layout.items():
        what = ("not partitioned" if months is None else
                f"{len(months)} month partitions" + (f" ({months[0]} … {months[-1]})"
                                                     if months else "") + " + default")
        extra = f", {moved[name]:,} rows moved now" if name in moved else ""
        click.echo(f"{name}: {what}{extra}")
