"""``gongzhi targets set | clear | list``: a KPI's target per street or community and year."""

from __future__ import annotations

import json
from typing import Any

import click

from gongzhi.cli import Context, cli, echo_table, pass_ctx


@cli.group()
def targets() -> None:
    """Targets per area (leaders): the YAML target stays the district default."""


def _area(m: Any, street: str | None, community: str | None) -> Any:
    from metrics import areas

    scope = areas.resolve(m, street, community)
    if scope is None:
        raise click.UsageError("name the area: --street S or --community C")
    return scope


def _leader(ctx: Context, username: str | None, command: str) -> Any:
    from gongzhi.commands.access import viewer_for

    viewer = viewer_for(ctx, username, command, person_level=False)
    if viewer is None:
        raise click.UsageError(f"sign in to change targets: `gongzhi targets {command.split()[-1]}"
                               " … --user NAME` with a leader's account")
    return viewer


def _change(ctx: Context, username: str | None, verb: str, kpi: str, street: str | None,
            community: str | None, year: int, target: str | None, warning: str | None,
            note: str | None) -> None:
    from metrics import targets as area_targets

    m = ctx.metrics()
    viewer = _leader(ctx, username, f"targets {verb}")
    scope = _area(m, street, community)
    k = m.catalog.get(kpi)
    change = area_targets.TargetChange(
        kpi=kpi, level=scope.level, code=scope.code, year=year,
        target=area_targets.parse_value(target, k), warning=area_targets.parse_value(warning, k),
        note=note)
    if verb == "set" and change.target is None:
        raise click.UsageError("--target is required")
    version = area_targets.apply(m, viewer, change)
    what = "cleared" if change.target is None else f"set to {change.target:g}" + (
        f" (warning {change.warning:g})" if change.warning is not None else "")
    click.echo(f"{kpi} for {scope.name} ({scope.code}) in {year}: {what}; version {version}")


@targets.command("set")
@click.option("--kpi", required=True, help="KPI id, e.g. gov.online_case_rate")
@click.option("--street", default=None, help="street by name or code")
@click.option("--community", default=None, help="community by name or code")
@click.option("--year", type=int, required=True)
@click.option("--target", "target", required=True, help="0.9 or 90% for a ratio")
@click.option("--warning", default=None, help="warning threshold (the lagging side)")
@click.option("--note", default=None, help="why (kept with the version)")
@click.option("--user", "username", default=None, help="a leader's account")
@pass_ctx
def set_(ctx: Context, kpi: str, street: str | None, community: str | None, year: int,
         target: str, warning: str | None, note: str | None, username: str | None) -> None:
    """Set a KPI's target (and warning) for one street or community and year."""
    _change(ctx, username, "set", kpi, street, community, year, target, warning, note)


@targets.command("clear")
@click.option("--kpi", required=True)
@click.option("--street", default=None)
@click.option("--community", default=None)
@click.option("--year", type=int, required=True)
@click.option("--note", default=None)
@click.option("--user", "username", default=None, help="a leader's account")
@pass_ctx
def clear(ctx: Context, kpi: str, street: str | None, community: str | None, year: int,
          note: str | None, username: str | None) -> None:
    """Back to the district default for that area and year (a new version, kept)."""
    _change(ctx, username, "clear", kpi, street, community, year, None, None, note)


@targets.command("list")
@click.option("--year", type=int, default=None)
@click.option("--history", is_flag=True, help="every version, cleared ones too")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--user", "username", default=None, help="list as this account (its area)")
@pass_ctx
def list_(ctx: Context, year: int | None, history: bool, fmt: str,
          username: str | None) -> None:
    """Area targets in force (or their history)."""
    from gongzhi.commands.access import viewer_for
    from metrics import targets as area_targets

    m = ctx.metrics()
    viewer = viewer_for(ctx, username, "targets list", person_level=False)
    rows = area_targets.listing(m, viewer, year, history)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    from metrics import format as f

    out = [{"kpi": r["label"], "area": r["name"] or r["code"], "year": str(r["year"]),
            "target": "清除" if r["cleared"] else f.value(r["target"], r["unit"] or "count"),
            "warning": f.value(r["warning"], r["unit"] or "count")
            if r["warning"] is not None else "",
            "default": f.value(r["default"], r["unit"] or "count")
            if r["default"] is not None else "",
            "version": r["version"], "by": r["set_by"]} for r in rows]
    echo_table(out, ["kpi", "area", "year", "target", "warning", "default", "version", "by"],
               {"kpi": "指标", "area": "区域", "year": "年度", "target": "目标",
                "warning": "预警值", "default": "全区默认", "version": "版本", "by": "设置人"})
