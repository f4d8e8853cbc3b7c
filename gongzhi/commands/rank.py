"""``gongzhi rank``: the 综合考评 ranking (红黑榜) of streets or communities for a period."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import click

from core.spreadsheet import safe_cell
from gongzhi.cli import Context, cli, echo_table, pass_ctx

BOARD_WORDS = {"top": "红榜", "bottom": "黑榜", None: ""}


@cli.command()
@click.option("--period", required=True, help="2026-11 | 2026-Q4 | 2026")
@click.option("--level", type=click.Choice(["street", "community"]), default="street",
              show_default=True, help="rank the streets or the communities of the district")
@click.option("--street", default=None,
              help="show only this street (or its communities); ranks stay the district's")
@click.option("--scheme", "scheme_name", default=None,
              help="scoring scheme by name (config/schemes; default: 'default')")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.option("--user", "username", default=None,
              help="rank as this account (staff see only their own area's rows)")
@pass_ctx
def rank(ctx: Context, period: str, level: str, street: str | None, scheme_name: str | None,
         fmt: str, username: str | None) -> None:
    """Composite scores, ranks, colours and rank changes (红榜 top, 黑榜 bottom)."""
    from gongzhi.commands.access import deny, viewer_for
    from metrics import periods
    from metrics.ranking import compute_ranking
    from metrics.scoring import load_schemes, pick

    m = ctx.metrics()
    scheme = pick(load_schemes(m.catalog), scheme_name)
    viewer = viewer_for(ctx, username, "rank", person_level=False)
    ranking = compute_ranking(m, scheme, level, periods.parse(period), viewer=viewer)
    if street:
        s = m.scope("street", street)
        if viewer is not None and viewer.level == "street" and not viewer.can_see("street",
                                                                                  s.code):
            deny(ctx, viewer, "rank", {"street": s.code, "period": period},
                 why=f"{viewer.username} ({viewer.role}) may not see street {s.code}")
        ranking = ranking.within("street", s.code)
    rows = ranking.rows
    if fmt == "json":
        click.echo(json.dumps([r.as_json() for r in rows], ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        buf = io.StringIO()
        kpis = [p.kpi for p in scheme.level(level).parts]
        w = csv.writer(buf)
        w.writerow(["rank", "code", "name", "score", "status", "rank_change", "board",
                    *[f"{k}:points" for k in kpis]])
        for r in rows:
            pts = {p.kpi: p.points for p in r.parts}
            w.writerow([safe_cell(x) for x in (r.rank, r.code, r.name, r.score, r.status,
                                               r.rank_change, r.board,
                                               *[pts.get(k) for k in kpis])])
        click.echo(buf.getvalue().rstrip("\n"))
        return
    _table(rows, scheme.label_zh, level, ranking.period.label)


def rank_change_text(change: int | None, prev: int | None) -> str:
    """↑2, ↓1, — (same place) or 新 (not ranked last period)."""
    if prev is None:
        return "新"
    if change is None:
        return ""
    return "—" if change == 0 else f"↑{change}" if change > 0 else f"↓{-change}"


def _table(rows: list[Any], label: str, level: str, period: str) -> None:
    from metrics import format as fmt

    word = {"street": "街道", "community": "社区"}[level]
    click.echo(f"{label} · {word}排名 · {period}")
    out = [{"rank": r.rank if r.rank is not None else "—", "name": r.name,
            "score": f"{r.score:.2f}" if r.score is not None else "—",
            "status": fmt.status(r.status), "change": rank_change_text(r.rank_change,
                                                                       r.prev_rank)
            if r.rank is not None else "",
            "board": BOARD_WORDS[r.board],
            "note": "权重已重新分配" if r.redistributed else ""} for r in rows]
    echo_table(out, ["rank", "name", "score", "status", "change", "board", "note"],
               {"rank": "排名", "name": word, "score": "得分", "status": "等次",
                "change": "排名变化", "board": "榜单", "note": "说明"})
