"""``gongzhi kpi``: KPIs for the district, a street, a community or a grid."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import click

from core.divisions import AREA_LEVELS
from core.spreadsheet import safe_cell
from gongzhi.cli import Context, cli, echo_table, pass_ctx
from gongzhi.commands.groups import LayerChoice, dimensions, group_word, kpi_groups

JSON_KEYS = ("kpi", "label", "value", "numerator", "denominator", "unit", "target", "status",
             "period", "scope", "sample", "delta_prev", "delta_yoy")
# grouped output adds the group's code (``key``) and its name (``key_name``) beside it
GROUP_KEYS = ("key", "key_name")
# ``--vs``: each period's figures with suffix _a / _b, and the change A − B
VERSUS_KEYS = ("kpi", "label", "unit", "period_a", "period_b", "value_a", "value_b",
               "numerator_a", "numerator_b", "denominator_a", "denominator_b", "sample_a",
               "sample_b", "status_a", "status_b", "change", "change_rel")


@cli.command()
@click.option("--street", default=None, help="street (街道/镇) by name or code")
@click.option("--community", default=None, help="community (社区/村) by name or code")
@click.option("--grid", default=None, help="grid by code")
@click.option("--period", default=None,
              help="2024-05 | 2024-Q2 | 2024 | 2024-W19 | 2024-05-10 (default: last month)")
@click.option("--kpi", "kpi_ids", multiple=True, help="KPI id (repeatable; default: all)")
@click.option("--by", "group", type=LayerChoice(kpi_groups), default=None,
              help="one row per street, community, grid or month, or per value of a "
                   "breakdown the KPI's table declares (config/semantic)")
@click.option("--ytd", is_flag=True, help="year to date (累计) through the period's month")
@click.option("--vs", "versus", default=None,
              help="a second period B: both side by side with the change A − B")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", envvar="GONGZHI_LANG",
              show_envvar=True, help="language of the table (default zh)")
@click.option("--user", "username", default=None,
              help="compute as this account (password from GONGZHI_PASSWORD or a prompt); "
                   "staff see only their own area")
@pass_ctx
def kpi(ctx: Context, street: str | None, community: str | None, grid: str | None,
        period: str | None, kpi_ids: tuple[str, ...], group: str | None, ytd: bool,
        versus: str | None, fmt: str, lang: str, username: str | None) -> None:
    """Compute governance KPIs with status (blue/yellow/red) and deltas."""
    import datetime as dt

    from core.timezone import to_local
    from gongzhi.commands.access import deny, viewer_for
    from metrics import areas, periods
    from metrics.access import AccessDenied
    from metrics.catalog import load_catalog
    from warehouse.engine import utcnow

    # the KPI catalogue and the semantic layer first: every problem of either is listed at
    # once, before the warehouse is opened
    catalog = load_catalog()
    if group in AREA_LEVELS:
        _check_level(catalog, kpi_ids, group)
    m = ctx.metrics(catalog)
    viewer = viewer_for(ctx, username, "kpi", person_level=False)  # audited sign-in
    named = areas.resolve(m, street, community, grid)  # they must nest (exit 2 otherwise)
    if named is not None:
        scope = named
    elif viewer is not None and viewer.level != "district":
        scope = m.scope(viewer.level, viewer.area)  # staff start from their own area
    else:
        scope = m.district()
    today: dt.date = to_local(utcnow()).date()
    p = periods.parse(period) if period else periods.latest_complete("month", today)
    if ytd:
        p = periods.to_date(p)
    if versus is not None:
        b = periods.parse(versus)
        _versus(ctx, m, list(kpi_ids) or None, scope, p, periods.to_date(b) if ytd else b,
                group, viewer, fmt, lang)
        return
    try:
        frame = m.compute(list(kpi_ids) or None, scope, p, group,  # type: ignore[arg-type]
                          viewer=viewer)
    except AccessDenied as e:
        if viewer is None:
            raise
        deny(ctx, viewer, "kpi", {"scope": scope.key(), "period": p.label}, why=str(e))
    rows = frame.to_dicts()
    if group:
        names = _group_names(m, group, [r["key"] for r in rows])
        for r in rows:
            r["key_name"] = names.get(r["key"], r["key"])
    extra = list(GROUP_KEYS) if group else []
    if fmt == "json":
        click.echo(json.dumps([{k: _plain(r[k]) for k in [*JSON_KEYS, *extra]} for r in rows],
                              ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        buf = io.StringIO()
        keys = [*JSON_KEYS, *extra, "fresh_at"]
        w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: safe_cell(_plain(r.get(k))) for k in keys})
        click.echo(buf.getvalue().rstrip("\n"))
        return
    _table(rows, scope.name, p.label, group, lang)


def _check_level(catalog: Any, kpi_ids: tuple[str, ...], level: str) -> None:
    """Refuse ``--by level`` for named KPIs whose rows are filed at a coarser level (12345
    requests per community, not per grid), naming each: silently returning no rows would
    read as "no data". Unnamed (all KPIs), those simply have no rows by that level."""
    from core.divisions import depth
    from metrics.compiler import area_level

    coarse = []
    for kid in kpi_ids:
        kpi = catalog.get(kid)  # an unknown id: ConfigError naming it
        levels = [area_level(mr) for mr in kpi.measures().values()]
        kept = min((lv for lv in levels if lv is not None), key=depth, default="district")
        if None in levels:
            kept = "district"
        if depth(kept) < depth(level):
            tables = sorted({mr.table or "" for mr in kpi.measures().values()})
            coarse.append(f"{kid} is kept per {kept} ({', '.join(tables)})")
    if coarse:
        raise click.UsageError(f"--by {level}: {'; '.join(coarse)}, not per {level}: "
                               f"ask for it by a coarser level")


def _versus(ctx: Context, m: Any, ids: list[str] | None, scope: Any, a: Any, b: Any,
            group: str | None, viewer: Any, fmt: str, lang: str) -> None:
    """``--vs B``: periods A and B side by side (metrics.views.versus)."""
    from gongzhi.commands.access import deny
    from metrics import format as fmtv
    from metrics import views
    from metrics.access import AccessDenied

    try:
        frame = views.versus(m, ids, scope, a, b, group, viewer=viewer)  # type: ignore[arg-type]
    except AccessDenied as e:
        if viewer is None:
            raise
        deny(ctx, viewer, "kpi", {"scope": scope.key(), "period": a.label,
                                  "vs": b.label}, why=str(e))
    rows = frame.to_dicts()
    extra: list[str] = []
    if group:
        names = _group_names(m, group, [r["key"] for r in rows])
        for r in rows:
            r["key_name"] = names.get(r["key"], r["key"])
        extra = list(GROUP_KEYS)
    keys = [*VERSUS_KEYS, *extra]
    if fmt == "json":
        click.echo(json.dumps([{k: r.get(k) for k in keys} for r in rows],
                              ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: safe_cell(r.get(k)) for k in keys})
        click.echo(buf.getvalue().rstrip("\n"))
        return
    zh = lang == "zh"
    click.echo(f"{scope.name} · {a.label} vs {b.label}")
    out = [{"kpi": r["label"] if zh else r["label_en"], "key": r.get("key_name") or "",
            "a": fmtv.value(r["value_a"], r["unit"], lang),
            "b": fmtv.value(r["value_b"], r["unit"], lang),
            "change": fmtv.delta(r["change"], r["unit"], lang),
            "sa": fmtv.status(r["status_a"], lang), "sb": fmtv.status(r["status_b"], lang)}
           for r in rows]
    cols = ["kpi"] + (["key"] if group else []) + ["a", "sa", "b", "sb", "change"]
    word = group_word(group, lang)
    headers = {"kpi": "指标" if zh else "KPI", "key": word, "a": a.label, "b": b.label,
               "sa": "状态" if zh else "status", "sb": "状态" if zh else "status",
               "change": "变化" if zh else "change"}
    echo_table(out, cols, headers)


def _group_names(m: Any, group: str, keys: list[Any]) -> dict[Any, str]:
    """Names of the groups' codes (months and categories name themselves; an item gets its
    name); a name shared by two areas gets its code beside it, so no two rows of a table
    look the same. Rows without a category are 未填 (none)."""
    if group == "item":
        return {k: (v if v else "未填") for k, v in _item_names(m, keys).items()}
    if group == "month" or group in dimensions():
        return {None: "未填"} if None in keys else {}
    d = m.divisions()
    label = dict(zip(d["code"], d["short_name"].fill_null(d["name"]), strict=True))
    names = {k: label.get(k) or str(k) for k in keys if k is not None}
    shared = {n for n in names.values() if list(names.values()).count(n) > 1}
    return {k: f"{n} ({k})" if n in shared else n for k, n in names.items()}


def _item_names(m: Any, keys: list[Any]) -> dict[Any, str]:
    from sqlalchemy import select

    from warehouse.schema import service_items

    si = service_items.c
    wanted = [k for k in keys if k is not None]
    with m.engine.connect() as conn:
        found = dict(conn.execute(select(si.item_code, si.item_name)
                                  .where(si.item_code.in_(wanted))).all()) if wanted else {}
    return {k: found.get(k) or (k or "") for k in keys}


def _plain(v: Any) -> Any:
    if hasattr(v, "isoformat"):
        return v.isoformat() + "Z"
    return v


def _table(rows: list[dict[str, Any]], scope_name: str, period: str, group: str | None,
           lang: str) -> None:
    from metrics import format as fmt

    zh = lang == "zh"
    word = group_word(group, lang)
    click.echo(f"{scope_name} · {period}" + (f" · 按{word}" if group and zh else
                                             f" · by {word}" if group else ""))
    out = []
    for r in rows:
        out.append({
            "kpi": r["label"] if zh else r["label_en"],
            "key": r.get("key_name") or r.get("key") or "",
            "value": fmt.value(r["value"], r["unit"], lang),
            "target": fmt.value(r["target"], r["unit"], lang) if r["target"] is not None else "",
            "status": fmt.status(r["status"], lang),
            "prev": fmt.delta(r["delta_prev"], r["unit"], lang),
            "yoy": fmt.delta(r["delta_yoy"], r["unit"], lang),
            "sample": r["sample"],
            "fresh": fmt.fresh(r["fresh_at"], lang),
        })
    cols = ["kpi"] + (["key"] if group else []) + ["value", "target", "status", "prev", "yoy",
                                                    "sample", "fresh"]
    headers = {"kpi": "指标", "key": word, "value": "数值", "target": "目标", "status": "状态",
               "prev": "环比", "yoy": "同比", "sample": "样本", "fresh": "数据更新"} if zh else {
        "kpi": "KPI", "key": word, "value": "value", "target": "target", "status": "status",
        "prev": "vs prev", "yoy": "vs last year", "sample": "sample", "fresh": "data as of"}
    echo_table(out, cols, headers)
