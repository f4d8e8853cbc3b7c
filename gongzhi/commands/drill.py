"""``gongzhi rows``: the rows behind a KPI's numerator or denominator (drill-through).

``gongzhi rows --kpi grid.on_time_closure_rate --street 汉江街道 --period 2026-11 --part gap``
lists, a page at a time, the events of 汉江街道 in 2026-11 that were not closed on time (the
denominator's rows the numerator does not count). Rows are person-level
data: without ``--user`` only an open dashboard config (the demo) lets the command run, as the
district; staff see their own area's rows only. Every call is audited (a page: ``view_rows``;
``--all`` or ``--out``: ``export``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from core.spreadsheet import csv_bytes, safe_cell, xlsx_bytes
from gongzhi.cli import Context, cli, echo_table, pass_ctx
from gongzhi.commands.groups import LayerChoice, dimensions


@cli.command()
@click.option("--kpi", "kpi_id", required=True, help="KPI id, e.g. grid.on_time_closure_rate")
@click.option("--part", type=click.Choice(["numerator", "denominator", "gap", "measure"]),
              default=None, help="which figure's rows (default: numerator, or the measure of "
                                 "a count KPI); gap: the denominator's rows the numerator "
                                 "does not count (e.g. the events closed late)")
@click.option("--period", default=None,
              help="2024-05 | 2024-Q2 | 2024 | 2024-W19 | 2024-05-10 | 2024-05-YTD "
                   "(default: last month)")
@click.option("--ytd", is_flag=True, help="year to date through the period's month")
@click.option("--street", default=None, help="street (街道/镇) by name or code")
@click.option("--community", default=None, help="community (社区/村) by name or code")
@click.option("--grid", default=None, help="grid by code")
@click.option("--by", "dim", type=LayerChoice(dimensions), default=None,
              help="only the rows of one value of a breakdown the KPI's table declares "
                   "(config/semantic; with --key)")
@click.option("--key", default=None, help="the value of --by (omit for rows without one)")
@click.option("--page", "page_no", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--page-size", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--all", "everything", is_flag=True,
              help="every row (up to the export cap) instead of one page")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "xlsx"]),
              default="table")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="write to this file (needed for xlsx)")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", envvar="GONGZHI_LANG",
              show_envvar=True, help="language of headers in table, csv and xlsx")
@click.option("--user", "username", default=None,
              help="as this account (password from GONGZHI_PASSWORD or a prompt); staff see "
                   "only their own area")
@pass_ctx
def rows(ctx: Context, kpi_id: str, part: str | None, period: str | None, ytd: bool,
         street: str | None, community: str | None, grid: str | None, dim: str | None,
         key: str | None, page_no: int, page_size: int, everything: bool, fmt: str,
         out: str | None, lang: str, username: str | None) -> None:
    """List the fact rows behind a KPI figure: its numerator's or its denominator's."""
    import datetime as dt

    from core.errors import ConfigError, Problem
    from core.timezone import to_local
    from gongzhi.commands.access import deny, viewer_for
    from metrics import areas, drill, periods
    from metrics.access import AccessDenied
    from metrics.compiler import NotApplicable
    from warehouse import audit
    from warehouse.engine import utcnow

    if fmt == "xlsx" and not out:
        raise click.UsageError("--format xlsx needs --out FILE")
    if key is not None and dim is None:
        raise click.UsageError("--key needs --by")
    m = ctx.metrics()
    kpi = m.catalog.get(kpi_id)
    part = part or drill.parts_of(kpi)[0]
    viewer = viewer_for(ctx, username, "rows", person_level=True)
    assert viewer is not None  # person-level: refused (audited) without one
    named = areas.resolve(m, street, community, grid)
    scope = named or (m.scope(viewer.level, viewer.area) if viewer.level != "district"
                      else m.district())
    today: dt.date = to_local(utcnow()).date()
    p = periods.parse(period) if period else periods.latest_complete("month", today)
    if ytd:
        p = periods.to_date(p)
    fig = drill.Figure(kpi.id, part, scope, p, dim, key)
    try:
        viewer.check(scope.level, scope.code)
        if everything or out:
            frame, spec = drill.export(m.engine, kpi, fig, viewer=viewer)
            total, pages, number = frame.height, 1, 1
        else:
            pg = drill.page(m.engine, kpi, fig, page_no, page_size, viewer=viewer)
            frame, spec, total, pages, number = pg.rows, pg.columns, pg.total, pg.pages, pg.page
    except AccessDenied as e:
        deny(ctx, viewer, "rows", fig.describe(), why=str(e))
    except NotApplicable as e:
        raise ConfigError([Problem("--part" if part not in drill.parts_of(kpi) else "--by",
                                   str(e))]) from None
    exported = bool(everything or out)
    drill.record(m.engine, viewer, audit.EXPORT if exported else audit.VIEW_ROWS, fig,
                 frame.height, page=None if exported else number, format=fmt, cli=True)
    names = _names(m)
    if fmt == "json":
        text = json.dumps({"kpi": kpi.id, "part": part, "scope": scope.key(),
                           "scope_name": scope.name, "period": p.label, "dim": dim,
                           "key": key, "total": total, "page": number, "pages": pages,
                           "rows": [{k: _plain(v) for k, v in r.items()}
                                    for r in frame.to_dicts()]},
                          ensure_ascii=False, indent=2)
        _emit(text.encode("utf-8"), out, text)
        return
    people = drill.for_people(frame, spec, lang, names)
    if fmt == "csv":
        data = csv_bytes(people)
        _emit(data, out, data.decode("utf-8-sig").rstrip("\n"))
        return
    if fmt == "xlsx":
        _emit(xlsx_bytes(people, sheet=kpi.id.replace(".", "_")[:31]), out, "")
        return
    zh = lang == "zh"
    label = kpi.label.zh if zh else kpi.label.en
    part_word = drill.PART_LABELS[part][0 if zh else 1]
    click.echo(f"{label} · {part_word} · {scope.name} · {p.label}"
               + (f" · {dim}={key}" if dim else ""))
    cols = list(people.columns)
    echo_table([{c: safe_cell(v) for c, v in r.items()} for r in people.to_dicts()], cols)
    click.echo(f"第 {number}/{pages} 页，共 {total:,} 行" if zh
               else f"page {number} of {pages}, {total:,} rows")


def _names(m: Any) -> dict[str, str]:
    d = m.divisions()
    return dict(zip(d["code"], d["short_name"].fill_null(d["name"]), strict=True))


def _plain(v: Any) -> Any:
    if hasattr(v, "isoformat"):
        text = v.isoformat()
        return text + "Z" if hasattr(v, "hour") else text
    return v


def _emit(data: bytes, out: str | None, text: str) -> None:
    if out:
        Path(out).write_bytes(data)
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text)
